/**
 * Differential test: the same emitter calls go to the REAL Etsy statsd daemon (through our statsd
 * sink) and to our Graphite sink's local aggregation. What statsd's graphite backend writes and
 * what we write must be the same lines with the same values, for both namespace settings.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startLineServer, startStatsd, type LineServer, type Statsd } from '../../../test/helpers/servers.js';
import { createEmitter } from '../emitter.js';
import { createGraphiteSink } from '../graphite-sink.js';
import { createStatsdSink } from '../statsd-sink.js';
import { seededRandom } from '../../../test/helpers/random.js';

const FLUSH_MS = 2000;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function toMap(lines: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) {
    const [name, value] = l.split(' ');
    // statsd's own health series have no counterpart in telltale.
    if (!name || /(^|\.)statsd\./.test(name) || name === 'statsd.numStats') continue;
    m.set(name, Number(value));
  }
  return m;
}

/** Lines of the first flush (grouped by timestamp) that contains any `diff.` series. */
function flushWithData(lines: string[]): string[] {
  const byTs = new Map<string, string[]>();
  for (const l of lines) {
    const ts = l.split(' ')[2]!;
    let arr = byTs.get(ts);
    if (!arr) byTs.set(ts, (arr = []));
    arr.push(l);
  }
  for (const batch of byTs.values()) {
    if (batch.some((l) => l.includes('.diff.') && !/ 0 \d+$/.test(l))) return batch;
  }
  return [];
}

describe.each([false, true])('telltale graphite aggregation == Etsy statsd (legacyNamespace: %s)', (legacy) => {
  let statsd: Statsd;
  let fromStatsd: LineServer;
  let fromUs: LineServer;

  it('produces identical lines and values for a mixed stream', async () => {
    fromStatsd = await startLineServer();
    fromUs = await startLineServer();
    cleanups.push(() => fromStatsd.close(), () => fromUs.close());
    statsd = await startStatsd({ graphitePort: fromStatsd.port, flushIntervalMs: FLUSH_MS, legacyNamespace: legacy, percentThreshold: [90, 95, 99, 99.9, -10] });
    cleanups.push(() => statsd.stop());

    const statsdSink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: statsd.port } });
    const graphiteSink = createGraphiteSink({
      target: { address: { transport: 'tcp', host: '127.0.0.1', port: fromUs.port } },
      flushIntervalMs: FLUSH_MS,
      aggregation: { legacyNamespace: legacy, percentThresholds: [90, 95, 99, 99.9, -10] },
    });
    const e = createEmitter({ sinks: [statsdSink, graphiteSink], selfMetrics: false, random: () => 0, flushIntervalMs: 3_600_000, prefix: 'diff' });

    // Start right after a statsd flush so the whole stream lands in one statsd interval.
    const before = fromStatsd.lines.length;
    await fromStatsd.waitFor((l) => l.length > before, FLUSH_MS * 3);

    const r = seededRandom(legacy ? 7 : 42);
    for (let i = 0; i < 400; i++) {
      const k = Math.floor(r() * 6);
      const v = Math.round(r() * 10_000) / 10;
      switch (k) {
        case 0:
          e.counter(`c${i % 5}`, Math.round(v));
          break;
        case 1:
          e.counter(`cs${i % 3}`, 1, { sampleRate: 0.5 });
          break;
        case 2:
          e.timing(`t${i % 4}`, v);
          break;
        case 3:
          e.gauge(`g${i % 3}`, r() < 0.3 ? -v : v);
          break;
        case 4:
          e.gaugeDelta(`g${i % 3}`, r() < 0.5 ? -v : v);
          break;
        default:
          e.set(`s${i % 2}`, `member${Math.floor(r() * 20)}`);
      }
    }
    e.timing('single', 42);
    e.timing('sampled', 10, { sampleRate: 0.25 });
    e.timing('sampled', 30, { sampleRate: 0.25 });
    await e.flush();
    await statsdSink.flush(Date.now());

    await fromStatsd.waitFor((l) => flushWithData(l).length > 0, FLUSH_MS * 4);
    await fromUs.waitFor((l) => flushWithData(l).length > 0, 5000);
    await e.close();

    const theirs = toMap(flushWithData(fromStatsd.lines));
    const ours = toMap(flushWithData(fromUs.lines));
    expect(theirs.size).toBeGreaterThan(50);
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [name, value] of theirs) {
      const mine = ours.get(name)!;
      expect(Math.abs(mine - value), `${name}: ours ${mine} statsd ${value}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(value)));
    }
  });
});
