/**
 * The Graphite sink: plaintext `path value timestamp` lines.
 *
 * - datapoint() lines go out as they come, with their own timestamp (Puppet runs, CloudWatch).
 * - counters/gauges/timers/sets are aggregated locally every flush interval exactly as Etsy
 *   statsd's Graphite backend would write them, so a site without a statsd daemon gets the same
 *   series names and values.
 * The same sink writes to carbon over TCP or, as the `console` sink, to a stream (stderr).
 */
import { createAggregator, STATSD_DEFAULTS, type AggregateKind, type AggregatorOptions } from './aggregator.js';
import { formatGraphiteValue, MAX_GRAPHITE_LINE } from './graphite-format.js';
import { createDestinationSet, type Destination, type Routing } from './destinations.js';
import type { StreamAddress } from './stream-transport.js';
import { countDrop, emptySinkStats, type Sink, type SinkStats } from './types.js';

/**
 * statsd's defaults except two: the non-legacy namespace (`stats.counters.K.rate|count`, which
 * statsd's own docs recommend) and p90/p95/p99, because response-time dashboards want p95/p99.
 */
export const GRAPHITE_SINK_DEFAULTS: AggregatorOptions = { ...STATSD_DEFAULTS, legacyNamespace: false, percentThresholds: [90, 95, 99] };

export interface GraphiteSinkOptions {
  name?: string;
  /**
   * Where lines go: carbon over TCP/unix (one address, or several with a routing), or a writable
   * stream (console).
   */
  target:
    | { address: StreamAddress }
    | { destinations: readonly Destination[]; routing?: Routing; replication?: number; failbackMs?: number }
    | { write: (text: string) => void };
  aggregation?: Partial<AggregatorOptions>;
  /** Aggregation interval the counter rates are divided by; must equal the emitter's flush. */
  flushIntervalMs: number;
  maxQueueLines?: number;
  maxQueueBytes?: number;
  replayWindowMs?: number;
  /** Lines kept for replay (default 100,000); window lines beyond it are counted when cut. */
  replayMaxLines?: number;
  /** Cap on distinct aggregated keys; beyond it new keys are dropped and counted. */
  maxKeys?: number;
  onError?: (err: Error) => void;
  now?: () => number;
}

export function createGraphiteSink(o: GraphiteSinkOptions): Sink {
  const stats: SinkStats = emptySinkStats();
  const name = o.name ?? 'graphite';
  const agg = createAggregator({ ...GRAPHITE_SINK_DEFAULTS, ...o.aggregation });
  const maxKeys = o.maxKeys ?? 100_000;
  const now = o.now ?? Date.now;

  let write: (line: string) => void;
  let drain: (timeoutMs: number) => Promise<unknown>;
  let closeTransport: (timeoutMs: number) => Promise<void>;
  // Aggregation and validation drops are the sink's; transport figures come from the destinations.
  let transportStats: () => SinkStats | undefined = () => undefined;
  if (!('write' in o.target)) {
    const t = o.target;
    const set = createDestinationSet({
      destinations: 'address' in t ? [{ address: t.address }] : t.destinations,
      routing: 'address' in t ? 'failover' : (t.routing ?? 'failover'),
      ...('address' in t ? {} : { replication: t.replication ?? 1, ...(t.failbackMs !== undefined ? { failbackMs: t.failbackMs } : {}) }),
      maxQueueLines: o.maxQueueLines ?? 100_000,
      maxQueueBytes: o.maxQueueBytes ?? 16 * 1024 * 1024,
      replayWindowMs: o.replayWindowMs ?? 10_000,
      ...(o.replayMaxLines !== undefined ? { replayMaxLines: o.replayMaxLines } : {}),
      ...(o.onError ? { onError: o.onError } : {}),
      now,
    });
    write = (l) => set.enqueue(l);
    drain = (ms) => set.drain(ms);
    closeTransport = (ms) => set.close(ms);
    transportStats = () => set.stats();
  } else {
    const out = o.target.write;
    let batch: string[] = [];
    write = (l) => {
      batch.push(l);
      if (batch.length >= 512) flushBatch();
    };
    const flushBatch = (): void => {
      if (batch.length === 0) return;
      const text = batch.join('\n') + '\n';
      stats.sent += batch.length;
      stats.bytes += Buffer.byteLength(text);
      batch = [];
      out(text);
    };
    drain = async () => flushBatch();
    closeTransport = async () => flushBatch();
  }

  const emitLine = (line: string): void => {
    if (line.length > MAX_GRAPHITE_LINE) {
      countDrop(stats, 'oversize');
      return;
    }
    write(line);
  };
  // New keys past the cap are refused: a runaway label must not exhaust memory. Keys already
  // held always take their updates, or a full table would freeze every existing series.
  const admit = (kind: AggregateKind, key: string): boolean => {
    if (agg.size() < maxKeys || agg.has(kind, key)) return true;
    countDrop(stats, 'too_many_keys');
    return false;
  };

  return {
    name,
    counter: (n, v, rate) => admit('counter', n) && agg.counter(n, v, rate),
    gauge: (n, v) => admit('gauge', n) && agg.gauge(n, v),
    gaugeDelta: (n, d) => admit('gauge', n) && agg.gaugeDelta(n, d),
    timing: (n, ms, rate) => admit('timer', n) && agg.timing(n, ms, rate),
    set: (n, m) => admit('set', n) && agg.set(n, m),
    datapoint(n, value, ts) {
      const text = formatGraphiteValue(value);
      if (text === undefined) {
        countDrop(stats, 'invalid');
        return;
      }
      emitLine(`${n} ${text} ${ts}`);
    },
    // A 1 at the event's time, so drawAsInfinite() works on a plain carbon without graphite-web.
    event: (e) => emitLine(`${e.path} 1 ${e.when}`),
    async flush(nowMs) {
      for (const line of agg.flush(Math.round(nowMs / 1000), o.flushIntervalMs)) emitLine(line);
      await drain(0);
    },
    async close(timeoutMs) {
      await closeTransport(timeoutMs);
    },
    stats: () => {
      const t = transportStats();
      if (!t) return { ...stats, dropped: { ...stats.dropped } };
      const dropped = { ...t.dropped };
      for (const [k, v] of Object.entries(stats.dropped)) dropped[k] = (dropped[k] ?? 0) + v;
      return { ...t, dropped };
    },
  };
}
