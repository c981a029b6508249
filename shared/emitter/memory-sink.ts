import { emptySinkStats, type Sink, type SinkStats, type TelltaleEvent } from './types.js';

export type Sample =
  | { kind: 'counter'; name: string; value: number; sampleRate: number }
  | { kind: 'gauge'; name: string; value: number }
  | { kind: 'gauge_delta'; name: string; value: number }
  | { kind: 'timing'; name: string; value: number; sampleRate: number }
  | { kind: 'set'; name: string; member: string }
  | { kind: 'datapoint'; name: string; value: number; ts: number }
  | { kind: 'event'; name: string; event: TelltaleEvent };

/**
 * A sink that records every sample in memory: the test seam (like hot-shots' mockBuffer), and
 * the source for `--print`-style inspection. Bounded so a forgotten capture cannot eat memory.
 */
export interface MemorySink extends Sink {
  readonly samples: Sample[];
  /** Sum of counter values by name (sample-rate corrected). */
  counters(): Map<string, number>;
  /** Last gauge value by name. */
  gauges(): Map<string, number>;
  /** Every timing by name. */
  timings(): Map<string, number[]>;
  datapoints(): Sample[];
  /** Every event, in order. */
  events(): TelltaleEvent[];
  clear(): void;
  /** Resolves once `predicate` holds (checked on every sample), or rejects after timeoutMs. */
  waitFor(predicate: (sink: MemorySink) => boolean, timeoutMs?: number): Promise<void>;
}

export function createMemorySink(name = 'memory', maxSamples = 1_000_000): MemorySink {
  const samples: Sample[] = [];
  const stats: SinkStats = emptySinkStats();
  const waiters = new Set<() => void>();
  const push = (s: Sample): void => {
    if (samples.length >= maxSamples) {
      stats.dropped['overflow'] = (stats.dropped['overflow'] ?? 0) + 1;
      return;
    }
    samples.push(s);
    stats.sent++;
    for (const w of [...waiters]) w();
  };
  const sink: MemorySink = {
    name,
    samples,
    counter: (n, value, sampleRate) => push({ kind: 'counter', name: n, value, sampleRate }),
    gauge: (n, value) => push({ kind: 'gauge', name: n, value }),
    gaugeDelta: (n, value) => push({ kind: 'gauge_delta', name: n, value }),
    timing: (n, value, sampleRate) => push({ kind: 'timing', name: n, value, sampleRate }),
    set: (n, member) => push({ kind: 'set', name: n, member }),
    datapoint: (n, value, ts) => push({ kind: 'datapoint', name: n, value, ts }),
    event: (event) => push({ kind: 'event', name: event.path, event }),
    flush: async () => {},
    close: async () => {},
    stats: () => ({ ...stats, dropped: { ...stats.dropped } }),
    counters() {
      const m = new Map<string, number>();
      for (const s of samples) if (s.kind === 'counter') m.set(s.name, (m.get(s.name) ?? 0) + s.value / s.sampleRate);
      return m;
    },
    gauges() {
      const m = new Map<string, number>();
      for (const s of samples) {
        if (s.kind === 'gauge') m.set(s.name, s.value);
        else if (s.kind === 'gauge_delta') m.set(s.name, (m.get(s.name) ?? 0) + s.value);
      }
      return m;
    },
    timings() {
      const m = new Map<string, number[]>();
      for (const s of samples) {
        if (s.kind !== 'timing') continue;
        let arr = m.get(s.name);
        if (!arr) m.set(s.name, (arr = []));
        arr.push(s.value);
      }
      return m;
    },
    datapoints: () => samples.filter((s) => s.kind === 'datapoint'),
    events: () => samples.flatMap((s) => (s.kind === 'event' ? [s.event] : [])),
    clear: () => void samples.splice(0),
    waitFor(predicate, timeoutMs = 10_000) {
      if (predicate(sink)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(sink)) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`memory sink: condition not met within ${timeoutMs}ms (${samples.length} samples)`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    },
  };
  return sink;
}
