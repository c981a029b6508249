import { afterEach, describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { testContext, type TestContext } from '../../../test/helpers/context.js';
import type { Integration } from '../../../shared/core/integration.js';
import { createAlertEngine, type AlertEvent } from '../alerts.js';
import { resolveThreshold, type ThresholdSpec } from '../metrics.js';
import { host } from '../index.js';
import { meminfo, netDev, procTree } from './proc-tree.js';

const known = { mounts: ['/'], commands: [] };
const spec = (s: Partial<ThresholdSpec> & { value: number }): ThresholdSpec => ({ direction: 'above', clear: undefined, holdMs: 0, ...s });

/** Feed (time, value) pairs for one metric; return the events as compact strings. */
function run(engine: ReturnType<typeof createAlertEngine>, metric: string, samples: [number, number][]): string[] {
  return samples.flatMap(([t, v]) => engine.observe(metric, v, t).map((e: AlertEvent) => `${e.state}@${t}(since ${e.since})`));
}

describe('alert engine', () => {
  it('fires once on crossing and once on recovery, however long the value stays past the line', () => {
    const e = createAlertEngine([resolveThreshold('memory.percent', spec({ value: 80 }), known)]);
    const events = run(e, 'memory.percent', [
      [0, 50],
      [1, 81],
      [2, 95],
      [3, 99],
      [4, 85],
      [5, 60],
      [6, 50],
    ]);
    expect(events).toEqual(['fired@1(since 1)', 'recovered@5(since 5)']);
    expect(e.active()).toBe(0);
  });

  it('uses hysteresis: hovering around the threshold does not flap', () => {
    // Default clear is 5 % of 80 below it: 76.
    const e = createAlertEngine([resolveThreshold('memory.percent', spec({ value: 80 }), known)]);
    expect(run(e, 'memory.percent', [[0, 80.5], [1, 79.9], [2, 80.1], [3, 79], [4, 81], [5, 76.5]])).toEqual(['fired@0(since 0)']);
    expect(e.active()).toBe(1);
    expect(run(e, 'memory.percent', [[6, 76]])).toEqual(['recovered@6(since 6)']);
    // An explicit clear level.
    const c = createAlertEngine([resolveThreshold('load', spec({ value: 20, clear: 10 }), known)]);
    expect(run(c, 'load.1', [[0, 21], [1, 15], [2, 11], [3, 25], [4, 10]])).toEqual(['fired@0(since 0)', 'recovered@4(since 4)']);
  });

  it('requires the crossing and the recovery to hold for `hold`', () => {
    const e = createAlertEngine([resolveThreshold('load', spec({ value: 20, clear: 10, holdMs: 10_000 }), known)]);
    const events = run(e, 'load.1', [
      [0, 25], // pending from 0
      [5_000, 30],
      [8_000, 19], // back under before 10 s: the pending crossing is cancelled
      [9_000, 22], // pending again from 9 s
      [18_000, 40],
      [19_000, 40], // held 10 s: fires, since 9 s
      [30_000, 5], // recovery pending from 30 s
      [35_000, 12], // not recovered after all
      [36_000, 5],
      [45_000, 5],
      [46_000, 4], // held 10 s since 36 s
    ]);
    expect(events).toEqual(['fired@19000(since 9000)', 'recovered@46000(since 36000)']);
  });

  it('watches below-thresholds and every instance of a per-mount pattern independently', () => {
    const e = createAlertEngine([resolveThreshold('disk.size.free', { direction: 'below', value: 1000, clear: 2000, holdMs: 0 }, { mounts: ['/', '/var'], commands: [] })]);
    expect(e.watches('disk.size.root.free')).toBe(true);
    expect(e.watches('disk.size.root.used')).toBe(false);
    expect(e.watches('memory.free')).toBe(false);
    expect(run(e, 'disk.size.root.free', [[0, 500]])).toEqual(['fired@0(since 0)']);
    expect(run(e, 'disk.size.var.free', [[0, 5000], [1, 999]])).toEqual(['fired@1(since 1)']);
    expect(e.active()).toBe(2);
    expect(run(e, 'disk.size.root.free', [[2, 1500], [3, 2000]])).toEqual(['recovered@3(since 3)']);
    expect(e.active()).toBe(1);
  });
});

describe('alerts through the host integration (fixture /proc, injected clock)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function setup(thresholds: Record<string, unknown>): { t: TestContext; h: Integration; setMemory: (pct: number) => void; setNet: (text: string) => void; clock: { now: number } } {
    const p = procTree();
    cleanups.push(() => p.cleanup());
    const clock = { now: Date.parse('2026-11-22T10:00:00Z') };
    const t = testContext({ prefix: 'host', type: 'host', name: 'host', now: () => clock.now });
    const r = validate(host.schema, { proc_root: p.root, disks: [], thresholds });
    if ('issues' in r) throw new Error(JSON.stringify(r.issues));
    const h = host.create(r.value, t.ctx);
    cleanups.push(() => h.stop());
    return { t, h, setMemory: (pct) => p.write('meminfo', meminfo(pct)), setNet: (text) => p.write('net/dev', text), clock };
  }

  it('logs one alert on crossing, one on recovery, and counts alerts.fired', async () => {
    const { t, h, setMemory, clock } = setup({ 'memory.percent': { above: 80, clear: 70, hold: '3s' } });
    for (const [pct, dt] of [[50, 1], [85, 1], [90, 1], [91, 1], [92, 1], [75, 1], [60, 1], [60, 1], [60, 1], [60, 1]] as const) {
      setMemory(pct);
      await h.once();
      clock.now += dt * 1000;
    }
    const alertLines = t.logs.filter((l) => /ALERT|RECOVERED/.test(l));
    expect(alertLines).toHaveLength(2);
    expect(alertLines[0]).toMatch(/warn .*ALERT host\.memory\.percent = 92 > 80 on \S+ .*metric=host\.memory\.percent value=92 threshold=80 clear=70/);
    expect(alertLines[1]).toMatch(/info .*RECOVERED host\.memory\.percent = 60 <= 70 on /);
    const c = t.sink.counters();
    expect(c.get('host.alerts.fired')).toBe(1);
    expect(c.get('host.alerts.recovered')).toBe(1);
    // alerts.active follows the state sample by sample.
    const active = t.sink.samples.flatMap((s) => (s.kind === 'gauge' && s.name === 'host.alerts.active' ? [s.value] : []));
    // Crossed at 85 (t=1 s), fired after holding 3 s (t=4 s); back under 70 at t=6 s, recovered at t=9 s.
    expect(active).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 0]);
  });

  it('raises no alert at all without thresholds, and emits no alerts.active gauge', async () => {
    const { t, h, setMemory } = setup({});
    setMemory(99);
    await h.once();
    expect(t.sink.gauges().has('host.alerts.active')).toBe(false);
    expect(t.logs.some((l) => l.includes('ALERT'))).toBe(false);
  });

  it('judges a net.* threshold on each sample\'s delta, not on what the counter sums to per flush', async () => {
    const { t, h, setNet } = setup({ 'net.in.errors': { above: 10, clear: 0 } });
    // Cumulative rx errors as the kernel reports them: +6, +6 (12 in two samples, never 10 in one),
    // then +15 in one sample, then quiet.
    const rxErrs = [100, 106, 112, 127, 127];
    for (const e of rxErrs) {
      setNet(netDev({ eth0: { rxErrs: e } }));
      await h.once();
    }
    const alerts = t.logs.filter((l) => /ALERT|RECOVERED/.test(l));
    expect(alerts).toHaveLength(2);
    expect(alerts[0]).toMatch(/ALERT host\.net\.eth0\.in\.errors = 15 > 10/);
    expect(alerts[1]).toMatch(/RECOVERED host\.net\.eth0\.in\.errors = 0 <= 0/);
    // On the wire the same deltas are one counter, summed: nothing between flushes is lost.
    expect(t.sink.counters().get('host.net.eth0.in.errors')).toBe(rxErrs.at(-1)! - rxErrs[0]!);
  });

  it('closes an alert whose interface disappears instead of leaving it active forever', async () => {
    const { t, h, setNet } = setup({ 'net.in.errors': 0 });
    setNet(netDev({ eth0: { rxErrs: 0 }, tun0: { rxErrs: 0 } }));
    await h.once();
    setNet(netDev({ eth0: { rxErrs: 0 }, tun0: { rxErrs: 5 } }));
    await h.once();
    expect(t.sink.counters().get('host.alerts.fired')).toBe(1);
    setNet(netDev({ eth0: { rxErrs: 0 } }));
    await h.once();
    expect(t.sink.counters().get('host.alerts.recovered')).toBe(1);
    expect(t.sink.gauges().get('host.alerts.active')).toBe(0);
    expect(t.logs.join('')).toMatch(/RECOVERED host\.net\.tun0\.in\.errors: no longer reported \(device or interface gone\)/);
  });
});
