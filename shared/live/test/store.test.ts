import { describe, expect, it } from 'vitest';
import { createClassifier, type LiveCatalogueEntry } from '../catalogue.js';
import { createStore, round } from '../store.js';

const catalogue: LiveCatalogueEntry[] = [
  { pattern: 'tt.web.access.requests.<status>', type: 'counter', unit: 'count', description: 'requests by status', integration: 'web' },
  { pattern: 'tt.web.access.requests.total', type: 'counter', unit: 'count', description: 'all requests', integration: 'web' },
  { pattern: 'tt.web.access.latency', type: 'timer', unit: 'ms', description: 'response time', integration: 'web' },
  { pattern: 'tt.host.disk.<mount>.percent', type: 'gauge', unit: 'percent', description: 'disk used', integration: 'host' },
  { pattern: 'tt.puppet.<host>.time.total', type: 'datapoint', unit: 's', description: 'run time', integration: 'puppet' },
];

function pairs(flat: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

const opts = { flushMs: 1000, historyMs: 10_000, maxSeries: 100, catalogue };

describe('classifier', () => {
  const c = createClassifier(catalogue);

  it('puts a name under its catalogue pattern, labelled by the placeholder values', () => {
    const r = c.classify('tt.web.access.requests.404', 'counter');
    expect(r.family).toMatchObject({ integration: 'web', title: 'requests.<status>', unit: 'count', kind: 'counter' });
    expect(r.label).toBe('404');
  });

  it('prefers the exact pattern over a placeholder that would also match', () => {
    expect(c.classify('tt.web.access.requests.total', 'counter').family.title).toBe('requests.total');
  });

  it('lets a placeholder span several nodes only when no single-node match exists', () => {
    const r = c.classify('tt.puppet.web01.example.com.time.total', 'datapoint');
    expect(r.family.integration).toBe('puppet');
    expect(r.label).toBe('web01.example.com');
  });

  it('groups undeclared names under "other" by parent path and kind', () => {
    const a = c.classify('telltale.emitter.graphite.dropped.overflow', 'counter');
    const b = c.classify('telltale.emitter.graphite.dropped.closed', 'counter');
    const g = c.classify('telltale.emitter.graphite.dropped.closed', 'gauge');
    expect(a.family.integration).toBe('other');
    expect(a.family.key).toBe(b.family.key);
    expect(a.family.key).not.toBe(g.family.key);
    expect(a.label).toBe('overflow');
  });
});

describe('store', () => {
  it('turns counters into per-second rates (sample rate corrected) and reports 0 for idle buckets', () => {
    const s = createStore({ ...opts, flushMs: 500 });
    s.counter('tt.web.access.requests.200', 3, 1);
    s.counter('tt.web.access.requests.200', 1, 0.5);
    const r1 = s.flush(1000);
    expect(r1.newSeries).toHaveLength(1);
    const id = r1.newSeries[0]!.id;
    // (3 + 1/0.5) over a 0.5 s bucket.
    expect(pairs(r1.values).get(id)).toBe(10);
    expect(pairs(s.flush(1500).values).get(id)).toBe(0);
  });

  it('holds gauges across buckets and applies deltas to the held value', () => {
    const s = createStore(opts);
    s.gauge('tt.host.disk.root.percent', 40);
    const id = s.flush(1000).newSeries[0]!.id;
    expect(pairs(s.flush(2000).values).get(id)).toBe(40);
    s.gaugeDelta('tt.host.disk.root.percent', -5);
    expect(pairs(s.flush(3000).values).get(id)).toBe(35);
    s.gaugeDelta('tt.host.fresh', 2);
    const r = s.flush(4000);
    expect(pairs(r.values).get(r.newSeries[0]!.id)).toBe(2);
  });

  it('gives timers three series, p50/p95/p99 by nearest rank, and no value in an empty bucket', () => {
    const s = createStore(opts);
    for (let i = 100; i >= 1; i--) s.timing('tt.web.access.latency', i);
    const r = s.flush(1000);
    expect(r.newSeries.map((x) => [x.stat, x.label])).toEqual([
      ['p50', 'p50'],
      ['p95', 'p95'],
      ['p99', 'p99'],
    ]);
    const v = pairs(r.values);
    expect(r.newSeries.map((x) => v.get(x.id))).toEqual([50, 95, 99]);
    expect(s.flush(2000).values).toEqual([]);
    s.timing('tt.web.access.latency', 7);
    expect(s.flush(3000).values.filter((_, i) => i % 2 === 1)).toEqual([7, 7, 7]);
  });

  it('keeps percentiles from a reservoir when a bucket overflows, and counts it', () => {
    const s = createStore({ ...opts, random: () => 0.999999 });
    for (let i = 0; i < 10_050; i++) s.timing('tt.web.access.latency', 1);
    s.flush(1000);
    expect(s.stats().sampled).toBe(50);
  });

  it('counts unique set members per bucket', () => {
    const s = createStore(opts);
    for (const m of ['a', 'b', 'a', 'c']) s.set('tt.users', m);
    const r = s.flush(1000);
    expect(pairs(r.values).get(r.newSeries[0]!.id)).toBe(3);
    expect(pairs(s.flush(2000).values).get(r.newSeries[0]!.id)).toBe(0);
  });

  it('sends datapoints at their own timestamps, not the bucket time', () => {
    const s = createStore(opts);
    s.datapoint('tt.puppet.web01.time.total', 12.5, 1_700_000_000);
    const r = s.flush(1_800_000_000_000);
    expect(r.points).toEqual([r.newSeries[0]!.id, 1_700_000_000_000, 12.5]);
    expect(r.values).toEqual([]);
    expect(s.snapshot().points[r.newSeries[0]!.id]).toEqual([[1_700_000_000_000], [12.5]]);
  });

  it('hands datapoint history over sorted by time, one value per timestamp (latest arrival wins)', () => {
    const s = createStore(opts);
    for (const [ts, v] of [[300, 3], [100, 1], [200, 2], [100, 10]] as const) s.datapoint('tt.puppet.web01.time.total', v, 1_700_000_000 + ts);
    const id = s.flush(1_800_000_000_000).newSeries[0]!.id;
    const base = 1_700_000_000_000;
    expect(s.snapshot().points[id]).toEqual([[base + 100_000, base + 200_000, base + 300_000], [10, 2, 3]]);
  });

  it('keeps history bounded to history/flush buckets, aligned, with nulls before a series existed', () => {
    const s = createStore({ ...opts, historyMs: 3000 });
    expect(s.capacity).toBe(3);
    s.gauge('tt.a.x', 1);
    s.flush(1000);
    s.flush(2000);
    s.gauge('tt.b.y', 5);
    s.flush(3000);
    s.flush(4000);
    const snap = s.snapshot();
    expect(snap.times).toEqual([2000, 3000, 4000]);
    const ids = Object.fromEntries(snap.series.map((x) => [x.name, x.id]));
    expect(snap.values[ids['tt.a.x']!]).toEqual([1, 1, 1]);
    s.gauge('tt.c.z', 9);
    s.flush(5000);
    const ids2 = Object.fromEntries(s.snapshot().series.map((x) => [x.name, x.id]));
    expect(s.snapshot().values[ids2['tt.c.z']!]).toEqual([null, null, 9]);
    expect(s.snapshot().values[ids2['tt.b.y']!]).toEqual([5, 5, 5]);
  });

  it('leaves series created since the last flush out of the snapshot (the next batch announces them)', () => {
    const s = createStore(opts);
    s.gauge('tt.a.x', 1);
    expect(s.snapshot().series).toEqual([]);
    expect(s.snapshot().families).toEqual([]);
    expect(s.flush(1000).newSeries).toHaveLength(1);
    expect(s.snapshot().series).toHaveLength(1);
  });

  it('refuses series past max_series (a timer needs three) and counts distinct refused names', () => {
    const s = createStore({ ...opts, maxSeries: 3 });
    s.gauge('tt.a', 1);
    s.gauge('tt.b', 1);
    s.timing('tt.t', 1);
    s.timing('tt.t', 2);
    s.gauge('tt.c', 1);
    s.gauge('tt.d', 1);
    const r = s.flush(1000);
    expect(r.newSeries.map((x) => x.name)).toEqual(['tt.a', 'tt.b', 'tt.c']);
    expect(r.refused).toBe(2);
    expect(s.stats()).toMatchObject({ refusedSamples: 3, refusedNames: 2, series: 3 });
  });

  it('rounds to six significant digits for the wire', () => {
    expect(round(0.1 + 0.2)).toBe(0.3);
    expect(round(123456789)).toBe(123456789);
    expect(round(1 / 3)).toBe(0.333333);
  });
});

describe('classifier specificity', () => {
  it('lets the most literal pattern win over a catch-all that also matches', () => {
    const c = createClassifier([
      { pattern: 'tt.<prefix.><path.key>.<METHOD>.<STATUS><.suffix>', type: 'counter', unit: 'count', description: 'mod_statsd', integration: 'web' },
      { pattern: 'tt.telltale.<type>.<instance>.received', type: 'counter', unit: 'count', description: 'taken in', integration: 'telltale' },
    ]);
    expect(c.classify('tt.telltale.access_log.web.received', 'counter').family.integration).toBe('telltale');
    expect(c.classify('tt.api.users.GET.200', 'counter').family.integration).toBe('web');
  });
});

describe('classifier core namespace', () => {
  const entries: LiveCatalogueEntry[] = [
    { pattern: 'tt.<prefix.><path.key>.<METHOD>.<STATUS><.suffix>', type: 'counter', unit: 'count', description: 'mod_statsd', integration: 'web' },
    { pattern: 'tt.telltale.live.clients', type: 'gauge', unit: 'count', description: 'pages', integration: 'live' },
  ];

  it('keeps <root>.telltale.* away from integration patterns, grouped by parent under "telltale"', () => {
    const c = createClassifier(entries, { coreNamespace: 'tt.telltale' });
    expect(c.classify('tt.telltale.host.host.received', 'counter').family).toMatchObject({ integration: 'telltale', title: 'tt.telltale.host.host.*' });
    expect(c.classify('tt.telltale.live.clients', 'gauge').family.integration).toBe('live');
    expect(c.classify('tt.api.users.GET.200', 'counter').family.integration).toBe('web');
  });

  it('without it, a catch-all pattern claims them (why the hub sets it)', () => {
    expect(createClassifier(entries).classify('tt.telltale.host.host.received', 'counter').family.integration).toBe('web');
  });
});
