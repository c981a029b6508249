/**
 * Local statsd-compatible aggregation: what Etsy statsd 0.9.0 (lib/process_metrics.js +
 * backends/graphite.js) would write to carbon for the same input, line for line. That lets the
 * Graphite sink stand in for a statsd daemon without changing anybody's dashboards; a
 * differential test against the real daemon keeps it honest.
 */
import { formatGraphiteValue } from './graphite-format.js';

export interface AggregatorOptions {
  /** statsd's graphite.legacyNamespace (default true there): `stats.K` + `stats_counts.K`. */
  legacyNamespace: boolean;
  globalPrefix: string;
  prefixCounter: string;
  prefixTimer: string;
  prefixGauge: string;
  prefixSet: string;
  /** Appended to every name (statsd's graphite.globalSuffix), '' for none. */
  globalSuffix: string;
  /** statsd's percentThreshold. */
  percentThresholds: readonly number[];
  /** statsd's flush_counts: also write the raw count next to the rate. */
  flushCounts: boolean;
  /** statsd's deleteIdleStats: forget keys that saw nothing this interval (else flush zeros). */
  deleteIdle: boolean;
}

export const STATSD_DEFAULTS: AggregatorOptions = {
  legacyNamespace: true,
  globalPrefix: 'stats',
  prefixCounter: 'counters',
  prefixTimer: 'timers',
  prefixGauge: 'gauges',
  prefixSet: 'sets',
  globalSuffix: '',
  percentThresholds: [90],
  flushCounts: true,
  deleteIdle: false,
};

export interface Aggregator {
  counter(key: string, value: number, sampleRate: number): void;
  gauge(key: string, value: number): void;
  gaugeDelta(key: string, delta: number): void;
  timing(key: string, ms: number, sampleRate: number): void;
  set(key: string, member: string): void;
  /** Produce the Graphite lines for one interval (without trailing newlines) and reset. */
  flush(tsSec: number, intervalMs: number): string[];
  /** Distinct keys held, for the cardinality guard. */
  size(): number;
  /** Whether this key is already held for this kind (the cardinality guard admits it). */
  has(kind: AggregateKind, key: string): boolean;
}

export type AggregateKind = 'counter' | 'gauge' | 'timer' | 'set';

export function createAggregator(o: AggregatorOptions): Aggregator {
  const counters = new Map<string, number>();
  const timers = new Map<string, number[]>();
  const timerCounts = new Map<string, number>();
  const gauges = new Map<string, number>();
  const sets = new Map<string, Set<string>>();

  const ns = (kind: string): string[] => {
    if (o.legacyNamespace) {
      if (kind === 'counter') return ['stats'];
      return ['stats', kind === 'timer' ? 'timers' : kind === 'gauge' ? 'gauges' : 'sets'];
    }
    const out: string[] = [];
    if (o.globalPrefix !== '') out.push(o.globalPrefix);
    const p = kind === 'counter' ? o.prefixCounter : kind === 'timer' ? o.prefixTimer : kind === 'gauge' ? o.prefixGauge : o.prefixSet;
    if (p !== '') out.push(p);
    return out;
  };
  const counterNs = ns('counter');
  const timerNs = ns('timer');
  const gaugeNs = ns('gauge');
  const setNs = ns('set');
  const suffix = o.globalSuffix ? `.${o.globalSuffix}` : '';
  const name = (space: string[], key: string, ...rest: string[]): string => [...space, key, ...rest].join('.') + suffix;

  return {
    counter(key, value, sampleRate) {
      counters.set(key, (counters.get(key) ?? 0) + value * (1 / sampleRate));
    },
    gauge(key, value) {
      gauges.set(key, value);
    },
    gaugeDelta(key, delta) {
      gauges.set(key, (gauges.get(key) ?? 0) + delta);
    },
    timing(key, ms, sampleRate) {
      let arr = timers.get(key);
      if (!arr) timers.set(key, (arr = []));
      arr.push(ms);
      timerCounts.set(key, (timerCounts.get(key) ?? 0) + 1 / sampleRate);
    },
    set(key, member) {
      let s = sets.get(key);
      if (!s) sets.set(key, (s = new Set()));
      s.add(member);
    },
    size: () => counters.size + timers.size + gauges.size + sets.size,
    has: (kind, key) => (kind === 'counter' ? counters : kind === 'gauge' ? gauges : kind === 'timer' ? timers : sets).has(key),
    flush(ts, intervalMs) {
      const lines: string[] = [];
      const add = (n: string, v: number): void => {
        const text = formatGraphiteValue(v);
        if (text !== undefined) lines.push(`${n} ${text} ${ts}`);
      };
      const perSecond = intervalMs / 1000;

      for (const [key, value] of counters) {
        if (o.legacyNamespace) {
          add(name(counterNs, key), value / perSecond);
          if (o.flushCounts) add(name(['stats_counts'], key), value);
        } else {
          add(name(counterNs, key, 'rate'), value / perSecond);
          if (o.flushCounts) add(name(counterNs, key, 'count'), value);
        }
      }

      for (const [key, raw] of timers) {
        const count = timerCounts.get(key) ?? 0;
        if (raw.length === 0) {
          add(name(timerNs, key, 'count'), 0);
          add(name(timerNs, key, 'count_ps'), 0);
          continue;
        }
        const values = raw.sort((a, b) => a - b);
        const n = values.length;
        const min = values[0]!;
        const max = values[n - 1]!;
        const cumul = new Float64Array(n);
        const cumulSq = new Float64Array(n);
        cumul[0] = min;
        cumulSq[0] = min * min;
        for (let i = 1; i < n; i++) {
          cumul[i] = values[i]! + cumul[i - 1]!;
          cumulSq[i] = values[i]! * values[i]! + cumulSq[i - 1]!;
        }
        // Same carry-over as statsd: a skipped threshold (numInThreshold 0) leaves these alone.
        let sum = min;
        let sumSquares = min * min;
        let mean = min;
        let boundary = max;
        for (const pct of o.percentThresholds) {
          let inThreshold = n;
          if (n > 1) {
            inThreshold = Math.round((Math.abs(pct) / 100) * n);
            if (inThreshold === 0) continue;
            if (pct > 0) {
              boundary = values[inThreshold - 1]!;
              sum = cumul[inThreshold - 1]!;
              sumSquares = cumulSq[inThreshold - 1]!;
            } else {
              boundary = values[n - inThreshold]!;
              sum = cumul[n - 1]! - (n - inThreshold - 1 >= 0 ? cumul[n - inThreshold - 1]! : 0);
              sumSquares = cumulSq[n - 1]! - (n - inThreshold - 1 >= 0 ? cumulSq[n - inThreshold - 1]! : 0);
            }
            mean = sum / inThreshold;
          }
          const clean = String(pct).replace('.', '_').replace('-', 'top');
          add(name(timerNs, key, `count_${clean}`), inThreshold);
          add(name(timerNs, key, `mean_${clean}`), mean);
          add(name(timerNs, key, `${pct > 0 ? 'upper' : 'lower'}_${clean}`), boundary);
          add(name(timerNs, key, `sum_${clean}`), sum);
          add(name(timerNs, key, `sum_squares_${clean}`), sumSquares);
        }
        const total = cumul[n - 1]!;
        const totalSq = cumulSq[n - 1]!;
        const avg = total / n;
        let diffs = 0;
        for (let i = 0; i < n; i++) diffs += (values[i]! - avg) * (values[i]! - avg);
        const mid = Math.floor(n / 2);
        const median = n % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
        add(name(timerNs, key, 'std'), Math.sqrt(diffs / n));
        add(name(timerNs, key, 'upper'), max);
        add(name(timerNs, key, 'lower'), min);
        add(name(timerNs, key, 'count'), count);
        add(name(timerNs, key, 'count_ps'), count / perSecond);
        add(name(timerNs, key, 'sum'), total);
        add(name(timerNs, key, 'sum_squares'), totalSq);
        add(name(timerNs, key, 'mean'), avg);
        add(name(timerNs, key, 'median'), median);
      }

      for (const [key, value] of gauges) add(name(gaugeNs, key), value);
      for (const [key, members] of sets) add(name(setNs, key, 'count'), members.size);

      // Reset for the next interval the way statsd does (or forget idle keys).
      if (o.deleteIdle) {
        counters.clear();
        timers.clear();
        timerCounts.clear();
        sets.clear();
      } else {
        for (const k of counters.keys()) counters.set(k, 0);
        for (const k of timers.keys()) {
          timers.set(k, []);
          timerCounts.set(k, 0);
        }
        for (const k of sets.keys()) sets.set(k, new Set());
      }
      return lines;
    },
  };
}
