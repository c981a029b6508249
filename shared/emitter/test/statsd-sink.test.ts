import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { startUdpServer, startStatsd, freePort, until, type UdpServer } from '../../../test/helpers/servers.js';
import { loadConfigText } from '../../core/config/load.js';
import { createLogger } from '../../core/log/logger.js';
import { buildSinks } from '../../core/runtime/sinks.js';
import { createEmitter } from '../emitter.js';
import { createStatsdSink, defaultMaxPacketBytes, LOOPBACK_MAX_PACKET_BYTES, NETWORK_MAX_PACKET_BYTES } from '../statsd-sink.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function udp(): Promise<UdpServer> {
  const s = await startUdpServer();
  cleanups.push(() => s.close());
  return s;
}

describe('statsd sink on the wire', () => {
  it('packs lines into packets no larger than max_packet_bytes, never splitting a line', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port }, maxPacketBytes: 512, aggregateCounters: false });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    for (let i = 0; i < 1000; i++) e.timing(`pack.t${i % 7}`, i);
    await e.close();
    await srv.waitFor((s) => s.lines().length === 1000);
    expect(srv.datagrams.every((d) => d.length <= 512)).toBe(true);
    expect(srv.datagrams.length).toBeLessThan(1000 / 20);
    expect(srv.lines().every((l) => /^pack\.t\d:\d+\|ms$/.test(l))).toBe(true);
    expect(e.stats().sinks['statsd']!.sent).toBe(1000);
  });

  it('sums counters locally into one line per name per flush', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port } });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    for (let i = 0; i < 10_000; i++) e.counter('agg.hits');
    e.counter('agg.bytes', 512);
    e.counter('agg.bytes', 512, { sampleRate: 1 });
    await e.close();
    await srv.waitFor((s) => s.lines().length >= 2);
    expect(srv.lines().sort()).toEqual(['agg.bytes:1024|c', 'agg.hits:10000|c']);
  });

  it('sends an absolute negative gauge as 0|g then -v|g in the same packet, and deltas signed', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port }, aggregateGauges: false });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    e.gauge('g.temp', -3);
    e.gaugeDelta('g.level', 4);
    e.gaugeDelta('g.level', -2);
    e.datapoint('g.billing', 12.5, Math.floor(Date.now() / 1000) - 60);
    await e.close();
    await srv.waitFor((s) => s.lines().length >= 5);
    const text = srv.datagrams.map((d) => d.toString()).join('\n');
    expect(text).toContain('g.temp:0|g\ng.temp:-3|g');
    expect(srv.lines()).toContain('g.level:+4|g');
    expect(srv.lines()).toContain('g.level:-2|g');
    expect(srv.lines()).toContain('g.billing:12.5|g');
  });

  it('by default sends each gauge once per flush: the final value, deltas folded in or summed', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port } });
    const e = createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
    for (let i = 1; i <= 1000; i++) e.gauge('g.up', i);
    e.gauge('g.temp', 5);
    e.gauge('g.temp', -3); // final value negative: still the 0|g, -v|g pair
    e.gaugeDelta('g.level', 4);
    e.gaugeDelta('g.level', -6);
    e.gauge('g.mixed', 10);
    e.gaugeDelta('g.mixed', 2.5);
    e.gaugeDelta('g.reset', 7);
    e.gauge('g.reset', 1); // statsd would apply +7 and then overwrite it
    await e.flush();
    e.gauge('g.up', 2000); // the next flush sends the next value
    await e.close();
    await srv.waitFor((s) => s.lines().length >= 7);
    const text = srv.datagrams.map((d) => d.toString()).join('\n');
    expect(text).toContain('g.temp:0|g\ng.temp:-3|g');
    expect(srv.lines()).toEqual(['g.up:1000|g', 'g.temp:0|g', 'g.temp:-3|g', 'g.mixed:12.5|g', 'g.reset:1|g', 'g.level:-2|g', 'g.up:2000|g']);
  });

  it('what real statsd holds after a flush is the same with and without gauge aggregation', async () => {
    const held: string[] = [];
    for (const aggregateGauges of [true, false]) {
      const statsd = await startStatsd();
      try {
        const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: statsd.port }, aggregateGauges });
        const e = createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
        for (let i = 0; i < 50; i++) {
          e.gauge('same.abs', i * 1.5);
          e.gaugeDelta('same.delta', i % 3 === 0 ? -2 : 1);
        }
        e.gauge('same.neg', 4);
        e.gaugeDelta('same.neg', -9);
        await e.close();
        // Every name present and two reads in a row alike: the datagrams have all been processed.
        let gauges = '';
        let prev = '';
        await until(async () => {
          [prev, gauges] = [gauges, await statsd.mgmt('gauges')];
          return gauges === prev && ['same.abs', 'same.delta', 'same.neg'].every((n) => gauges.includes(`'${n}'`));
        }, 10_000, 'gauges in statsd');
        held.push(['same.abs', 'same.delta', 'same.neg'].map((n) => new RegExp(`'${n.replace('.', '\\.')}': (-?[0-9.]+)`).exec(gauges)?.[1]).join(' '));
      } finally {
        await statsd.stop();
      }
    }
    expect(held[0]).toBe('73.5 -1 -5'); // 49 × 1.5; 17 × -2 + 33 × +1; 4 - 9
    expect(held[1]).toBe(held[0]);
  });

  it('sends only the newest datapoint per name per flush, as a gauge (statsd cannot hold history)', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port } });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    const now = Math.floor(Date.now() / 1000);
    e.datapoint('dp.bill', 3, now - 300);
    e.datapoint('dp.bill', 5, now - 60);
    e.datapoint('dp.bill', 4, now - 120);
    await e.close();
    await srv.waitFor((s) => s.lines().length >= 1);
    expect(srv.lines()).toEqual(['dp.bill:5|g']);
  });

  it('applies sample rates client-side and marks the line with @rate', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port }, aggregateCounters: false });
    let x = 0;
    // Deterministic "random": 0, 0.1, 0.2 ... 0.9 repeating; rate 0.3 keeps 3 of every 10.
    const e = createEmitter({ sinks: [sink], selfMetrics: false, random: () => ((x++ % 10) / 10) });
    for (let i = 0; i < 100; i++) e.timing('s.lat', 5, { sampleRate: 0.3 });
    await e.close();
    await srv.waitFor((s) => s.lines().length >= 30);
    expect(srv.lines()).toHaveLength(30);
    expect(new Set(srv.lines())).toEqual(new Set(['s.lat:5|ms|@0.3']));
  });

  it('rejects NaN, Infinity, negative timers and empty names, counting each', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port } });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    e.gauge('bad.nan', NaN);
    e.gauge('bad.inf', Infinity);
    e.timing('bad.neg', -1);
    e.counter('###', 1);
    e.gauge('good.one', 1);
    const stats = await e.close();
    await srv.waitFor((s) => s.lines().length >= 1);
    expect(srv.lines()).toEqual(['good.one:1|g']);
    expect(stats.rejected).toEqual({ not_finite: 2, negative_timer: 1, invalid_name: 1 });
  });

  it('keeps running and counts errors when nobody listens (ICMP refused)', async () => {
    const port = await freePort();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port }, aggregateCounters: false });
    const errors: string[] = [];
    const e = createEmitter({ sinks: [sink], selfMetrics: false, onError: (_s, err) => errors.push(err.message) });
    for (let round = 0; round < 20 && sink.stats().errors === 0; round++) {
      e.gauge('down.g', round);
      await e.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(sink.stats().errors).toBeGreaterThan(0);
    expect(sink.stats().lastError).toMatch(/ECONNREFUSED/);
    e.gauge('down.after', 1);
    await e.close();
  });

  it('drops (and counts) packets beyond max_in_flight instead of queueing without bound', async () => {
    const srv = await udp();
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: srv.port }, aggregateCounters: false, maxInFlight: 4, maxPacketBytes: 64 });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    for (let i = 0; i < 5000; i++) e.timing('burst.t', i);
    const stats = await e.close();
    const s = stats.sinks['statsd']!;
    expect(s.dropped['overflow'] ?? 0).toBeGreaterThan(0);
    expect(s.sent + (s.dropped['overflow'] ?? 0)).toBe(5000);
  });

  it('delivers to a real Etsy statsd over UDP and TCP', async () => {
    for (const tcp of [false, true]) {
      const statsd = await startStatsd({ tcp, flushIntervalMs: 60_000 });
      cleanups.push(() => statsd.stop());
      const sink = createStatsdSink({ address: { transport: tcp ? 'tcp' : 'udp', host: '127.0.0.1', port: statsd.port } });
      const e = createEmitter({ sinks: [sink], selfMetrics: false, prefix: 'real' });
      for (let i = 0; i < 500; i++) e.counter('hits');
      e.gauge('temp', -7);
      e.timing('lat', 12);
      await e.close();
      await until(async () => (await statsd.mgmt('counters')).includes("'real.hits': 500"), 10_000, 'statsd counter');
      expect(await statsd.mgmt('gauges')).toContain("'real.temp': -7");
      expect(await statsd.mgmt('timers')).toContain("'real.lat': [ 12 ]");
    }
  });
});

describe('statsd sink: default packet size by address', () => {
  it('loopback addresses in any spelling get the loopback size; everything else the network size', () => {
    const udp = (host: string): number => defaultMaxPacketBytes({ transport: 'udp', host, port: 8125 });
    for (const host of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LocalHost']) {
      expect(udp(host), host).toBe(LOOPBACK_MAX_PACKET_BYTES);
    }
    // Not resolved, so a name that happens to point at loopback keeps the safe size.
    for (const host of ['10.0.0.5', '128.0.0.1', '126.255.255.255', '::2', '::ffff:10.0.0.1', 'statsd', 'localhost.example.com', '127.0.0.1.nip.io']) {
      expect(udp(host), host).toBe(NETWORK_MAX_PACKET_BYTES);
    }
    expect(LOOPBACK_MAX_PACKET_BYTES).toBe(7168);
    expect(NETWORK_MAX_PACKET_BYTES).toBe(1432);
  });

  it('integrations.yaml without max_packet_bytes gets the size by address; an explicit value wins', async () => {
    const srv = await udp();
    const sizes = async (extra: string): Promise<number[]> => {
      const yaml = `emitter:\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${srv.port}\n${extra}`;
      const config = loadConfigText('integrations.yaml', yaml, { registry: [], env: {} });
      const sinks = await buildSinks(config.emitter.sinks, 1000, createLogger({ level: 'silent' }), () => undefined);
      const e = createEmitter({ sinks, selfMetrics: false });
      const before = srv.datagrams.length;
      for (let i = 0; i < 2000; i++) e.timing('cfg.t', i);
      await e.close();
      await srv.waitFor((s) => s.datagrams.slice(before).reduce((a, d) => a + d.toString().split('\n').length, 0) === 2000);
      return srv.datagrams.slice(before).map((d) => d.length);
    };
    const dflt = await sizes('');
    expect(Math.max(...dflt)).toBeGreaterThan(LOOPBACK_MAX_PACKET_BYTES - 32);
    expect(Math.max(...dflt)).toBeLessThanOrEqual(LOOPBACK_MAX_PACKET_BYTES);
    const explicit = await sizes('      max_packet_bytes: 1432\n');
    expect(Math.max(...explicit)).toBeGreaterThan(1432 - 32);
    expect(Math.max(...explicit)).toBeLessThanOrEqual(1432);
  });

  it('to real Etsy statsd on loopback: 7 KiB datagrams by default, every line of them arrives', async () => {
    // A long flush interval keeps statsd's counters, its own packet count included, for the query.
    const statsd = await startStatsd({ flushIntervalMs: 3_600_000 });
    cleanups.push(() => statsd.stop());
    const counters = async (): Promise<Map<string, number>> =>
      new Map([...(await statsd.mgmt('counters')).matchAll(/'([^']+)': (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    const N = 3000;
    const send = async (name: string, maxPacketBytes?: number): Promise<number> => {
      const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: statsd.port }, ...(maxPacketBytes ? { maxPacketBytes } : {}) });
      const e = createEmitter({ sinks: [sink], selfMetrics: false, prefix: name });
      for (let i = 0; i < N; i++) e.counter(`c${i}`, (i % 7) + 1);
      const stats = await e.close();
      return stats.sinks['statsd']!.bytes;
    };
    const expectAll = (got: Map<string, number>, name: string): void => {
      const missing: string[] = [];
      for (let i = 0; i < N; i++) if (got.get(`${name}.c${i}`) !== (i % 7) + 1) missing.push(`${name}.c${i}=${got.get(`${name}.c${i}`)}`);
      expect(missing).toEqual([]);
    };

    const bytes = await send('dflt');
    await until(async () => (await counters()).get('statsd.metrics_received') === N, 10_000, 'statsd metrics_received');
    const first = await counters();
    expectAll(first, 'dflt');
    const packets = first.get('statsd.packets_received')!;
    expect(first.get('statsd.bad_lines_seen')).toBe(0);
    // Every datagram but the last filled to within one ~15-byte line of the loopback size.
    expect(packets).toBeLessThanOrEqual(Math.ceil(bytes / (LOOPBACK_MAX_PACKET_BYTES - 32)));

    // Control: the same lines at the network size take about five times as many datagrams, so
    // statsd's packet count is counting what this test says it counts.
    await send('mtu', NETWORK_MAX_PACKET_BYTES);
    await until(async () => (await counters()).get('statsd.metrics_received') === 2 * N, 10_000, 'statsd metrics_received');
    const second = await counters();
    expectAll(second, 'mtu');
    expect(second.get('statsd.packets_received')! - packets).toBeGreaterThan(4 * packets);
  });
});

describe('statsd sink: unix socket', () => {
  it('writes newline-terminated lines to a unix stream socket', async () => {
    const net = await import('node:net');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const path = join(mkdtempSync(join(tmpdir(), 'telltale-sock-')), 'statsd.sock');
    let got = '';
    const server = net.createServer((s) => s.on('data', (d) => (got += d.toString())));
    await new Promise<void>((r) => server.listen(path, r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const sink = createStatsdSink({ address: { transport: 'unix', path } });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    e.counter('unix.hits', 2);
    e.gauge('unix.g', 1);
    await e.close();
    await until(() => got.includes('unix.hits:2|c\n') && got.includes('unix.g:1|g\n'), 5000, 'unix lines');
  });
});

void dgram;
