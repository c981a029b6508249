/**
 * Protocol v1 of the live socket (JSON text frames, server → page only). Documented in
 * README.md "Protocol"; static/app.js is the other end.
 */
import type { Family } from './catalogue.js';
import type { SeriesInfo } from './store.js';

export const PROTOCOL_VERSION = 1;

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
}

export type ServerMessage = HelloMessage | BatchMessage;
