/**
 * Protocol v1 of the live socket (JSON text frames, server → page only). Documented in
 * README.md "Protocol"; static/app.js is the other end.
 */
import type { Family } from './catalogue.js';
import type { SeriesInfo } from './store.js';

export const PROTOCOL_VERSION = 1;

/** One access_log source: the page draws its service graph at the top. Names are full paths. */
export interface ServiceInfo {
  name: string;
  /** Counter series (rate/s) of 2xx/3xx and 4xx/5xx. */
  good: string;
  bad: string;
  /** Timer series whose p95/p99 go on the right axis. */
  responseTime: string;
  safeQps?: number;
}

/** An event (a deploy, a crash): a vertical line with its text on hover. */
export interface EventInfo {
  /** Unix ms. */
  t: number;
  what: string;
  tags: string[];
  data: string;
}

/** First message on every connection, and again after a resync: the page replaces its state. */
export interface HelloMessage {
  type: 'hello';
  v: typeof PROTOCOL_VERSION;
  serverTime: number;
  flushMs: number;
  historyMs: number;
  maxSeries: number;
  families: Family[];
  series: SeriesInfo[];
  /** Bucket times (ms), oldest first. */
  times: number[];
  /** Per bucketed series id, values aligned with `times` (null: no value in that bucket). */
  values: Record<string, (number | null)[]>;
  /** Per datapoint series id: [timestamps ms, values]. */
  points: Record<string, [number[], number[]]>;
  /** Distinct series refused by max_series ("N series not shown"). */
  refused: number;
  /** Service overview rows (optional: absent from hubs without access_log sources). */
  services?: ServiceInfo[];
  /** Events within the history window, oldest first. */
  events?: EventInfo[];
}

/** One per flush. */
export interface BatchMessage {
  type: 'batch';
  /** Bucket time (ms). */
  t: number;
  /** Flat pairs id, value for bucketed series; series absent here have no value (null). */
  v: number[];
  /** Flat triples id, timestamp ms, value for datapoints. */
  p: number[];
  /** Families and series first seen in this bucket (always before their first values). */
  families?: Family[];
  series?: SeriesInfo[];
  refused: number;
  /** Events received since the previous batch. */
  events?: EventInfo[];
}

export type ServerMessage = HelloMessage | BatchMessage;
