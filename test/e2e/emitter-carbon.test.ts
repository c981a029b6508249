/**
 * End to end into real carbon-cache, read back from whisper files:
 * emitter -> statsd -> carbon; emitter -> carbon directly with explicit timestamps; and carbon
 * killed and restarted mid-stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmitter } from '../../shared/emitter/emitter.js';
import { createGraphiteSink } from '../../shared/emitter/graphite-sink.js';
import { createStatsdSink } from '../../shared/emitter/statsd-sink.js';
import { requireBinary } from '../helpers/binaries.js';
import { startCarbon, startStatsd, until, waitForWhisper, whisperFetch, type Carbon } from '../helpers/servers.js';

const carbonBin = requireBinary('carbon-cache', 'apt-get install graphite-carbon python3-whisper');
const whisperBin = requireBinary('whisper-fetch', 'apt-get install python3-whisper');

describe.skipIf(!carbonBin || !whisperBin)('emitter into real carbon', () => {
  let carbon: Carbon;
  beforeAll(async () => {
    carbon = await startCarbon();
  });
  afterAll(async () => carbon?.destroy());

  it('emitter -> Etsy statsd -> carbon: whisper holds the counter and gauge', async () => {
    const statsd = await startStatsd({ graphitePort: carbon.linePort, flushIntervalMs: 1000 });
    try {
      const e = createEmitter({ sinks: [createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: statsd.port } })], prefix: 'e2e.viastatsd', selfMetrics: false });
      for (let i = 0; i < 250; i++) e.counter('hits');
      e.gauge('temp', 42);
      await e.close();
      const counts = await waitForWhisper(carbon, 'stats.counters.e2e.viastatsd.hits.count', (p) => p.some(([, v]) => v === 250));
      expect(counts.some(([, v]) => v === 250)).toBe(true);
      const gauge = await waitForWhisper(carbon, 'stats.gauges.e2e.viastatsd.temp', (p) => p.length > 0);
      expect(gauge.at(-1)![1]).toBe(42);
    } finally {
      await statsd.stop();
    }
  });

  it('emitter -> carbon directly: datapoints land at their own timestamps; aggregates at flush time', async () => {
    const sink = createGraphiteSink({ target: { address: { transport: 'tcp', host: '127.0.0.1', port: carbon.linePort } }, flushIntervalMs: 1000 });
    const e = createEmitter({ sinks: [sink], prefix: 'e2e.direct', selfMetrics: false });
    const base = Math.floor(Date.now() / 1000) - 600;
    for (let i = 0; i < 5; i++) e.datapoint('billing', 10 + i, base + i * 60);
    e.counter('requests', 7);
    e.timing('latency', 100);
    e.timing('latency', 300);
    await e.close();
    const points = await waitForWhisper(carbon, 'e2e.direct.billing', (p) => p.length >= 5, 20_000, base - 10);
    expect(points).toEqual([0, 1, 2, 3, 4].map((i) => [base + i * 60, 10 + i]));
    const count = await waitForWhisper(carbon, 'stats.counters.e2e.direct.requests.count', (p) => p.length > 0);
    expect(count.at(-1)![1]).toBe(7);
    const mean = await waitForWhisper(carbon, 'stats.timers.e2e.direct.latency.mean', (p) => p.length > 0);
    expect(mean.at(-1)![1]).toBe(200);
    const p99 = await waitForWhisper(carbon, 'stats.timers.e2e.direct.latency.upper_99', (p) => p.length > 0);
    expect(p99.at(-1)![1]).toBe(300);
  });

  it('hostile names land at the same sanitised whisper path through statsd and directly (no _tagged, no hidden files)', async () => {
    const statsd = await startStatsd({ graphitePort: carbon.linePort, flushIntervalMs: 500 });
    try {
      const raw = 'we!rd.sp ace/sl:co|pi;t=v\nnl.ünï..x.';
      const expected = 'we_rd.sp_ace_sl_co_pi_t_v_nl._n_.x';
      const viaStatsd = createEmitter({ sinks: [createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: statsd.port } })], prefix: 'names.s', selfMetrics: false });
      const direct = createEmitter({ sinks: [createGraphiteSink({ target: { address: { transport: 'tcp', host: '127.0.0.1', port: carbon.linePort } }, flushIntervalMs: 500 })], prefix: 'names.d', selfMetrics: false });
      viaStatsd.gauge(raw, 5);
      direct.gauge(raw, 5);
      direct.datapoint(raw, 6);
      await viaStatsd.close();
      await direct.close();
      await waitForWhisper(carbon, `stats.gauges.names.s.${expected}`, (p) => p.length > 0);
      await waitForWhisper(carbon, `stats.gauges.names.d.${expected}`, (p) => p.length > 0);
      await waitForWhisper(carbon, `names.d.${expected}`, (p) => p.length > 0);
      const { readdirSync } = await import('node:fs');
      const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [e.name + '/', ...walk(`${d}/${e.name}`)] : [e.name]));
      const all = walk(carbon.whisperDir);
      expect(all.filter((f) => f.startsWith('.') || f === '_tagged/')).toEqual([]);
      expect(all.every((f) => /^[A-Za-z0-9_-]+(\/|\.wsp)$/.test(f))).toBe(true);
    } finally {
      await statsd.stop();
    }
  });

  it.each(['SIGTERM', 'SIGKILL'] as const)('carbon %s and restart mid-stream: every datapoint arrives (replay window), none dropped', async (signal) => {
    const sink = createGraphiteSink({ target: { address: { transport: 'tcp', host: '127.0.0.1', port: carbon.linePort } }, flushIntervalMs: 1000, replayWindowMs: 10_000 });
    const name = `e2e.restart_${signal.toLowerCase()}.seq`;
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    const base = Math.floor(Date.now() / 1000) - 1200;
    const total = 300;
    for (let i = 0; i < total; i++) {
      e.datapoint(name, i, base + i);
      await new Promise((r) => setTimeout(r, 5));
      if (i === 100) await carbon.stop(signal);
      if (i === 200) await carbon.restart();
    }
    await until(() => sink.stats().queued === 0 && sink.stats().reconnects > 0, 30_000, 'queue to drain after restart').catch((err: Error) => {
      throw new Error(`${err.message}; sink ${JSON.stringify(sink.stats())}\n${carbon.log().slice(-2000)}`);
    });
    const stats = await e.close({ timeoutMs: 10_000 });
    const s = stats.sinks['graphite']!;
    expect(s.dropped['overflow'] ?? 0).toBe(0);
    expect(s.errors).toBeGreaterThan(0);
    const points = await waitForWhisper(carbon, name, (p) => p.length >= total, 30_000, base - 10);
    expect(points.map(([ts]) => ts - base)).toEqual([...Array(total).keys()]);
    expect(points.map(([, v]) => v)).toEqual([...Array(total).keys()]);
  });

  it('carbon down longer than the queue holds: the newest lines arrive, the oldest are dropped and counted', async () => {
    await carbon.stop('SIGTERM');
    const sink = createGraphiteSink({ target: { address: { transport: 'tcp', host: '127.0.0.1', port: carbon.linePort } }, flushIntervalMs: 1000, maxQueueLines: 50 });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    const base = Math.floor(Date.now() / 1000) - 1800;
    const total = 200;
    for (let i = 0; i < total; i++) e.datapoint('e2e.bounded.seq', i, base + i);
    expect(sink.stats().queued).toBe(50);
    expect(sink.stats().dropped['overflow']).toBe(150);
    await carbon.restart();
    await until(() => sink.stats().queued === 0, 30_000, 'queue to drain');
    await e.close({ timeoutMs: 10_000 });
    const points = await waitForWhisper(carbon, 'e2e.bounded.seq', (p) => p.length >= 50, 30_000, base - 10);
    expect(points.map(([, v]) => v)).toEqual([...Array(50).keys()].map((i) => 150 + i));
    expect(await whisperFetch(carbon, 'e2e.bounded.seq', base - 10)).toHaveLength(50);
  });
});
