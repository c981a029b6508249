/**
 * The hub's data: samples from the emitter folded into fixed-width buckets (statsd flush
 * semantics, so the page agrees with Graphite), plus the history a page receives on connect.
 * Pure: no sockets, no timers; the hub calls `flush(now)` on its own interval.
 */
import { createClassifier, type Family, type LiveCatalogueEntry, type SeriesKind } from './catalogue.js';

export type TimerStat = 'p50' | 'p95' | 'p99';
const TIMER_STATS: readonly { stat: TimerStat; q: number }[] = [
  { stat: 'p50', q: 0.5 },
  { stat: 'p95', q: 0.95 },
  { stat: 'p99', q: 0.99 },
];

/** Timings kept per timer per bucket; past this, reservoir sampling keeps percentiles honest. */
const MAX_TIMINGS_PER_BUCKET = 10_000;
/** Distinct set members tracked per bucket; past this the count is a lower bound (counted). */
const MAX_SET_MEMBERS = 100_000;
/** Distinct refused names remembered, only to report how many series are not shown. */
const MAX_REFUSED_NAMES = 100_000;

/** What the page needs to draw one line. */
export interface SeriesInfo {
  id: number;
  name: string;
  family: string;
  label: string;
  stat?: TimerStat;
}

export interface StoreOptions {
  flushMs: number;
  historyMs: number;
  maxSeries: number;
  catalogue: readonly LiveCatalogueEntry[];
  random?: () => number;
}

/** The result of closing one bucket: exactly what a `batch` message carries. */
export interface FlushResult {
  t: number;
  /** Flat pairs: id, value (bucketed series with a value this bucket). */
  values: number[];
  /** Flat triples: id, timestamp ms, value (datapoints at their own timestamps). */
  points: number[];
  newSeries: SeriesInfo[];
  newFamilies: Family[];
  refused: number;
}

export interface Snapshot {
  families: Family[];
  series: SeriesInfo[];
  /** Bucket times (ms), oldest first. */
  times: number[];
  /** Per bucketed series id: values aligned with `times` (null = no value). */
  values: Record<number, (number | null)[]>;
  /** Per datapoint series id: [timestamps ms, values]. */
  points: Record<number, [number[], number[]]>;
  refused: number;
}

export interface StoreStats {
  accepted: number;
  /** Samples refused because max_series was reached. */
  refusedSamples: number;
  /** Distinct names refused (what the page shows as "N series not shown"). */
  refusedNames: number;
  /** Timings not kept verbatim (reservoir-sampled) and set members past the cap. */
  sampled: number;
  series: number;
}

interface Bucketed {
  info: SeriesInfo;
  ring: Float64Array;
}

interface Metric {
  kind: SeriesKind;
  /** One series, or three (p50/p95/p99) for timers. */
  series: Bucketed[];
  sum: number;
  gauge: number;
  hasGauge: boolean;
  timings: number[];
  timingsSeen: number;
  members: Set<string>;
  /** Datapoints only: their own ring of (ts, v). */
  dpTs?: Float64Array;
  dpV?: Float64Array;
  dpCount: number;
  /** Datapoints only: the one series id (-1 otherwise). */
  dpId: number;
  pending: number[];
}

export interface Store {
  counter(name: string, value: number, sampleRate: number): void;
  gauge(name: string, value: number): void;
  gaugeDelta(name: string, delta: number): void;
  timing(name: string, ms: number): void;
  set(name: string, member: string): void;
  datapoint(name: string, value: number, unixSeconds: number): void;
  flush(nowMs: number): FlushResult;
  snapshot(): Snapshot;
  stats(): StoreStats;
  /** More catalogue entries and the core namespace, for series created from now on. */
  addCatalogue(entries: readonly LiveCatalogueEntry[], coreNamespace?: string): void;
  /** Points kept per series (history / flush). */
  readonly capacity: number;
}

/** Six significant digits: plenty for a chart and keeps JSON short (no 0.30000000000000004). */
export function round(v: number): number {
  return Number.isInteger(v) ? v : Number(v.toPrecision(6));
}

function percentile(sorted: number[], q: number): number {
  // Nearest rank, as statsd's percentile thresholds.
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function createStore(opts: StoreOptions): Store {
  const capacity = Math.max(1, Math.ceil(opts.historyMs / opts.flushMs));
  const random = opts.random ?? Math.random;
  let catalogue = [...opts.catalogue];
  let coreNamespace: string | undefined;
  let classifier = createClassifier(catalogue);
  const metrics = new Map<string, Metric>();
  const families = new Map<string, Family>();
  const allSeries: SeriesInfo[] = [];
  const bucketed: Bucketed[] = [];
  const times = new Float64Array(capacity);
  let flushes = 0;
  let newSeries: SeriesInfo[] = [];
  let newFamilies: Family[] = [];
  const refusedNames = new Set<string>();
  const stats = { accepted: 0, refusedSamples: 0, sampled: 0 };

  const keptLength = (): number => Math.min(flushes, capacity);

  const addSeries = (name: string, familyKey: string, label: string, stat?: TimerStat): SeriesInfo => {
    const info: SeriesInfo = { id: allSeries.length, name, family: familyKey, label };
    if (stat) {
      info.stat = stat;
      info.label = label ? `${label} ${stat}` : stat;
    }
    allSeries.push(info);
    newSeries.push(info);
    return info;
  };

  const metric = (name: string, kind: SeriesKind): Metric | undefined => {
    // A name used with two kinds (rare, but possible) gets one series per kind.
    const key = `${kind}:${name}`;
    const found = metrics.get(key);
    if (found) return found;
    const width = kind === 'timer' ? TIMER_STATS.length : 1;
    if (allSeries.length + width > opts.maxSeries) {
      stats.refusedSamples++;
      if (refusedNames.size < MAX_REFUSED_NAMES) refusedNames.add(key);
      return undefined;
    }
    const { family, label: classified, exact } = classifier.classify(name, kind);
    // A timer alone in its chart reads best as just p50/p95/p99.
    const label = exact && kind === 'timer' ? '' : classified;
    if (!families.has(family.key)) {
      families.set(family.key, family);
      newFamilies.push(family);
    }
    const m: Metric = {
      kind,
      series: [],
      sum: 0,
      gauge: 0,
      hasGauge: false,
      timings: [],
      timingsSeen: 0,
      members: new Set(),
      dpCount: 0,
      dpId: -1,
      pending: [],
    };
    if (kind === 'datapoint') {
      m.dpId = addSeries(name, family.key, label).id;
      m.dpTs = new Float64Array(capacity);
      m.dpV = new Float64Array(capacity);
    } else {
      const statNames = kind === 'timer' ? TIMER_STATS.map((s) => s.stat) : [undefined];
      for (const stat of statNames) {
        // Earlier buckets had no value for a new series: NaN reads back as null.
        const b: Bucketed = { info: addSeries(name, family.key, label, stat), ring: new Float64Array(capacity).fill(NaN) };
        m.series.push(b);
        bucketed.push(b);
      }
    }
    metrics.set(key, m);
    return m;
  };

  const accept = (m: Metric | undefined): m is Metric => {
    if (m) stats.accepted++;
    return m !== undefined;
  };

  const bucketValues = (m: Metric, seconds: number): (number | undefined)[] => {
    switch (m.kind) {
      case 'counter': {
        const v = m.sum / seconds;
        m.sum = 0;
        return [v];
      }
      case 'gauge':
        return [m.hasGauge ? m.gauge : undefined];
      case 'set': {
        const v = m.members.size;
        m.members.clear();
        return [v];
      }
      case 'timer': {
        if (m.timings.length === 0) return TIMER_STATS.map(() => undefined);
        const sorted = m.timings.sort((a, b) => a - b);
        const out = TIMER_STATS.map((s) => percentile(sorted, s.q));
        m.timings = [];
        m.timingsSeen = 0;
        return out;
      }
      default:
        return [];
    }
  };

  return {
    capacity,
    counter(name, value, sampleRate) {
      const m = metric(name, 'counter');
      if (accept(m)) m.sum += value / sampleRate;
    },
    gauge(name, value) {
      const m = metric(name, 'gauge');
      if (!accept(m)) return;
      m.gauge = value;
      m.hasGauge = true;
    },
    gaugeDelta(name, delta) {
      // statsd semantics: a delta moves the held gauge (from 0 when never set).
      const m = metric(name, 'gauge');
      if (!accept(m)) return;
      m.gauge += delta;
      m.hasGauge = true;
    },
    timing(name, ms) {
      const m = metric(name, 'timer');
      if (!accept(m)) return;
      m.timingsSeen++;
      if (m.timings.length < MAX_TIMINGS_PER_BUCKET) m.timings.push(ms);
      else {
        // Algorithm R: every timing has the same chance of being in the sample.
        stats.sampled++;
        const j = Math.floor(random() * m.timingsSeen);
        if (j < MAX_TIMINGS_PER_BUCKET) m.timings[j] = ms;
      }
    },
    set(name, member) {
      const m = metric(name, 'set');
      if (!accept(m)) return;
      if (m.members.size < MAX_SET_MEMBERS) m.members.add(member);
      else if (!m.members.has(member)) stats.sampled++;
    },
    datapoint(name, value, unixSeconds) {
      const m = metric(name, 'datapoint');
      if (!accept(m)) return;
      m.pending.push(unixSeconds * 1000, value);
    },
    flush(nowMs) {
      const seconds = opts.flushMs / 1000;
      const slot = flushes % capacity;
      times[slot] = nowMs;
      flushes++;
      const values: number[] = [];
      const points: number[] = [];
      for (const m of metrics.values()) {
        if (m.kind === 'datapoint') {
          const id = m.dpId;
          for (let i = 0; i < m.pending.length; i += 2) {
            const ts = m.pending[i]!;
            const v = round(m.pending[i + 1]!);
            const s = m.dpCount % capacity;
            m.dpTs![s] = ts;
            m.dpV![s] = v;
            m.dpCount++;
            points.push(id, ts, v);
          }
          m.pending = [];
          continue;
        }
        const vs = bucketValues(m, seconds);
        m.series.forEach((b, i) => {
          const v = vs[i];
          if (v === undefined) b.ring[slot] = NaN;
          else {
            const r = round(v);
            b.ring[slot] = r;
            values.push(b.info.id, r);
          }
        });
      }
      const result: FlushResult = { t: nowMs, values, points, newSeries, newFamilies, refused: refusedNames.size };
      newSeries = [];
      newFamilies = [];
      return result;
    },
    snapshot() {
      const len = keptLength();
      const order: number[] = [];
      for (let i = 0; i < len; i++) order.push((flushes - len + i) % capacity);
      const values: Record<number, (number | null)[]> = {};
      for (const b of bucketed) values[b.info.id] = order.map((s) => (Number.isNaN(b.ring[s]!) ? null : b.ring[s]!));
      const points: Record<number, [number[], number[]]> = {};
      for (const m of metrics.values()) {
        if (m.kind !== 'datapoint') continue;
        const n = Math.min(m.dpCount, capacity);
        // Reports and billing windows arrive out of order and repeat: a chart needs ascending,
        // unique times, and the latest arrival for a timestamp wins.
        const byTs = new Map<number, number>();
        for (let i = 0; i < n; i++) {
          const s = (m.dpCount - n + i) % capacity;
          byTs.set(m.dpTs![s]!, m.dpV![s]!);
        }
        const ts = [...byTs.keys()].sort((a, b) => a - b);
        points[m.dpId] = [ts, ts.map((t) => byTs.get(t)!)];
      }
      // Only what has been announced by a flush: a batch introduces the rest.
      const announced = new Set(newSeries.map((s) => s.id));
      const announcedFamilies = new Set(newFamilies.map((f) => f.key));
      return {
        families: [...families.values()].filter((f) => !announcedFamilies.has(f.key)),
        series: allSeries.filter((s) => !announced.has(s.id)),
        times: order.map((s) => times[s]!),
        values: Object.fromEntries(Object.entries(values).filter(([id]) => !announced.has(Number(id)))),
        points: Object.fromEntries(Object.entries(points).filter(([id]) => !announced.has(Number(id)))),
        refused: refusedNames.size,
      };
    },
    stats: () => ({ ...stats, refusedNames: refusedNames.size, series: allSeries.length }),
    addCatalogue(entries, ns) {
      catalogue = [...catalogue, ...entries];
      if (ns !== undefined) coreNamespace = ns;
      classifier = createClassifier(catalogue, coreNamespace === undefined ? {} : { coreNamespace });
    },
  };
}
