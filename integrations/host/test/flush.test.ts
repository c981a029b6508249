/**
 * The loss the counters fix: the poller samples every second, the emitter flushes every 10 s, and
 * a statsd gauge keeps only the last value per flush. Several samples go through one flush here,
 * into real Etsy statsd and into the graphite sink's local aggregation, and every delta of the
 * fixture /proc must arrive: the burst in the middle of the window as much as the quiet tail.
 * The live page gets the same calls and must chart them as counters (per-second rates).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { createEmitter } from '../../../shared/emitter/emitter.js';
import { createGraphiteSink } from '../../../shared/emitter/graphite-sink.js';
import { createStatsdSink } from '../../../shared/emitter/statsd-sink.js';
import type { Emitter, Sink } from '../../../shared/emitter/types.js';
import type { Integration } from '../../../shared/core/integration.js';
import { testContext } from '../../../test/helpers/context.js';
import { startStatsd, until } from '../../../test/helpers/servers.js';
import type { BatchMessage, ServerMessage } from '../../../shared/live/protocol.js';
import { connect, startHub } from '../../../shared/live/test/harness.js';
import { host } from '../index.js';
import { diskLine, netDev, procTree, type ProcTree } from './proc-tree.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Cumulative kernel counters, one entry per sample (the first is the baseline): a burst of 500
 * receive errors and 40 drops in the third sample, then quiet ones, and a sector counter that
 * wraps at 2^32 in the fourth.
 */
const RX_ERRS = [7, 7, 9, 509, 509, 510, 510];
const RX_DROP = [0, 0, 0, 40, 40, 40, 41];
const RX_BYTES = [1_000, 2_500, 2_500, 900_000, 900_100, 905_000, 905_000];
const SECTORS_READ = [2 ** 32 - 300, 2 ** 32 - 200, 2 ** 32 - 100, 50, 60, 60, 90];

/** What the kernel counted over the whole run: the deltas' exact total (a 32-bit wrap included). */
function total(series: readonly number[]): number {
  let sum = 0;
  for (let i = 1; i < series.length; i++) sum += series[i]! >= series[i - 1]! ? series[i]! - series[i - 1]! : 2 ** 32 - series[i - 1]! + series[i]!;
  return sum;
}

function writeSample(p: ProcTree, i: number): void {
  p.write('net/dev', netDev({ eth0: { rxErrs: RX_ERRS[i]!, rxDrop: RX_DROP[i]!, rxBytes: RX_BYTES[i]! } }));
  p.write('diskstats', [diskLine('sda', { sectorsRead: SECTORS_READ[i]! }), ''].join('\n'));
}

/** A host instance on a fixture /proc that emits through `root` (the sinks under test). */
function hostOn(root: Emitter): { h: Integration; p: ProcTree } {
  const p = procTree();
  cleanups.push(() => p.cleanup());
  const r = validate(host.schema, { proc_root: p.root, disks: [] });
  if ('issues' in r) throw new Error(JSON.stringify(r.issues));
  const t = testContext({ prefix: 'host', type: 'host', name: 'host' });
  const h = host.create(r.value, { ...t.ctx, emitter: root.child({ prefix: 'host' }) });
  cleanups.push(() => h.stop());
  return { h, p };
}

/** statsd's management dump (`{ 'a.b': 1, … }`) as a map. */
function parseDump(dump: string): Map<string, number> {
  return new Map([...dump.matchAll(/'([^']+)': (-?[\d.e+]+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

describe('host deltas through one flush window', () => {
  it('real statsd sums every sample: the counters equal the kernel totals, not the last interval', async () => {
    // statsd's own flush never comes during the test: it keeps what it summed for the mgmt port.
    const statsd = await startStatsd({ flushIntervalMs: 600_000 });
    cleanups.push(() => statsd.stop());
    const sink: Sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: statsd.port } });
    const root = createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
    cleanups.push(() => root.close({ timeoutMs: 1000 }));
    const { h, p } = hostOn(root);

    // Two emitter flushes inside one statsd flush, as when the two 10 s clocks are not aligned:
    // the sink sums within its flush, statsd sums across them.
    for (let i = 0; i < RX_ERRS.length; i++) {
      writeSample(p, i);
      await h.once();
      if (i === 3) await root.flush();
    }
    await root.flush();

    const expected = {
      'host.net.eth0.in.errors': total(RX_ERRS),
      'host.net.eth0.in.dropped': total(RX_DROP),
      'host.net.eth0.in.bytes': total(RX_BYTES),
      'host.disk.io.sda.read.bytes': total(SECTORS_READ) * 512,
    };
    let counters = new Map<string, number>();
    await until(
      async () => {
        counters = parseDump(await statsd.mgmt('counters'));
        return Object.entries(expected).every(([k, v]) => counters.get(k) === v);
      },
      15_000,
      `statsd counters ${JSON.stringify(expected)}`,
    );
    // The burst alone: a gauge of the last interval would have shown 0 errors and 0 drops here.
    expect(total(RX_ERRS)).toBe(503);
    expect(Object.fromEntries(Object.keys(expected).map((k) => [k, counters.get(k)]))).toEqual(expected);
    expect(counters.get('statsd.bad_lines_seen')).toBe(0);
    // And none of them reached statsd as a gauge.
    expect([...parseDump(await statsd.mgmt('gauges')).keys()].filter((k) => /^host\.(net|disk\.io)\./.test(k))).toEqual([]);
  });

  it('the graphite sink writes the window\'s sum as .count and its per-second rate as .rate', async () => {
    const flushIntervalMs = 10_000;
    let out = '';
    const sink = createGraphiteSink({ target: { write: (text) => void (out += text) }, flushIntervalMs });
    const root = createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
    cleanups.push(() => root.close({ timeoutMs: 1000 }));
    const { h, p } = hostOn(root);
    for (let i = 0; i < RX_ERRS.length; i++) {
      writeSample(p, i);
      await h.once();
    }
    await root.flush();

    const lines = new Map(out.trim().split('\n').map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1])]));
    expect(lines.get('stats.counters.host.net.eth0.in.errors.count')).toBe(total(RX_ERRS));
    expect(lines.get('stats.counters.host.net.eth0.in.errors.rate')).toBe(total(RX_ERRS) / (flushIntervalMs / 1000));
    expect(lines.get('stats.counters.host.net.eth0.in.dropped.count')).toBe(total(RX_DROP));
    expect(lines.get('stats.counters.host.disk.io.sda.read.bytes.count')).toBe(total(SECTORS_READ) * 512);
    expect([...lines.keys()].filter((k) => k.startsWith('stats.gauges.host.net.') || k.startsWith('stats.gauges.host.disk.io.'))).toEqual([]);
  });
});

describe('host deltas on the live page', () => {
  it('are charted as counters whose per-second buckets add up to the kernel totals', async () => {
    const flushMs = 100;
    // The catalogue as the runtime builds it: root prefix + instance prefix + MetricDoc name.
    const catalogue = host.metrics.map((m) => ({ pattern: `tt.host.${m.name}`, type: m.type, unit: m.unit, description: m.description, integration: 'host' }));
    const hub = await startHub({ flush: `${flushMs}ms` }, { catalogue });
    cleanups.push(() => hub.stop());
    const page = await connect(hub.port);
    cleanups.push(() => page.close());
    const { h, p } = hostOn(hub.emitter.child({ prefix: 'tt' }));
    for (let i = 0; i < RX_ERRS.length; i++) {
      writeSample(p, i);
      await h.once();
    }

    const batches = (): BatchMessage[] => page.messages.filter((m: ServerMessage): m is BatchMessage => m.type === 'batch');
    const seriesId = (name: string): number | undefined => batches().flatMap((b) => b.series ?? []).find((s) => s.name === name)?.id;
    /** What the page has drawn for one series, turned back from rates into a count. */
    const drawn = (name: string): number => {
      const id = seriesId(name);
      let sum = 0;
      for (const b of batches()) for (let i = 0; i < b.v.length; i += 2) if (b.v[i] === id) sum += b.v[i + 1]! * (flushMs / 1000);
      return sum;
    };
    const want = { 'tt.host.net.eth0.in.errors': total(RX_ERRS), 'tt.host.net.eth0.in.dropped': total(RX_DROP) };
    await page.waitFor(() => Object.entries(want).every(([n, v]) => Math.abs(drawn(n) - v) < 1e-6), 10_000, `live buckets adding up to ${JSON.stringify(want)}`);

    const families = batches().flatMap((b) => b.families ?? []);
    const errors = families.find((f) => f.key === 'tt.host.net.<interface>.in.errors|counter');
    // kind counter is what makes the page draw a rate (unit "/s"), not the last value.
    expect(errors).toMatchObject({ integration: 'host', kind: 'counter', unit: 'count' });
    expect(families.find((f) => f.key.startsWith('tt.host.net.<interface>.in.errors|') && f.kind !== 'counter')).toBeUndefined();
    expect(families.find((f) => f.key === 'tt.host.memory.percent|gauge')).toMatchObject({ kind: 'gauge', unit: 'percent' });
  });
});
