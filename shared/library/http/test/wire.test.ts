/**
 * Through the real statsd sink to a real UDP listener: every request is accounted for on the
 * wire, and requests share packets (no datagram per request).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmitter } from '../../../emitter/emitter.js';
import { createStatsdSink } from '../../../emitter/statsd-sink.js';
import { startUdpServer, type UdpServer } from '../../../../test/helpers/servers.js';
import { instrumentServer } from '../node-http.js';
import { runLoad } from './load.js';

describe('HTTP metrics on the statsd wire', () => {
  let udp: UdpServer;
  beforeAll(async () => {
    udp = await startUdpServer();
  });
  afterAll(async () => {
    await udp?.close();
  });

  it('N requests → N timer lines and counters summing to N, in far fewer than N datagrams', async () => {
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: udp.port } });
    const emitter = createEmitter({ prefix: 'wire', sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
    const server = http.createServer((_req, res) => res.end('ok'));
    const hook = instrumentServer(server, { emitter, route: () => '/ping' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const N = 600;
    try {
      await runLoad((server.address() as AddressInfo).port, Array.from({ length: N }, () => ({ method: 'GET', path: '/ping' })), 8);
      // Recorded on each response's close, which may trail the client: count timers sent.
      const deadline = Date.now() + 10_000;
      while (hook.metrics.routes().length === 0 || udp.lines().filter((l) => l.endsWith('|ms')).length < N) {
        await emitter.flush();
        if (Date.now() > deadline) throw new Error(`only ${udp.lines().length} lines arrived`);
        await udp.waitFor((s) => s.lines().filter((l) => l.endsWith('|ms')).length >= N, 200).catch(() => undefined);
      }
    } finally {
      await emitter.close();
      await new Promise((r) => server.close(r));
    }
    const lines = udp.lines();
    const timers = lines.filter((l) => l.startsWith('wire.http.response_time.ping.get.2xx:') && l.endsWith('|ms'));
    const counts = lines.filter((l) => l.startsWith('wire.http.requests.ping.get.2xx:')).map((l) => Number(/:(\d+)\|c$/.exec(l)?.[1]));
    expect(timers).toHaveLength(N);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(N);
    expect(lines.filter((l) => !l.startsWith('wire.http.'))).toEqual([]);
    // ~45-byte timer lines in 7168-byte packets (the loopback default): about 150 per datagram.
    expect(udp.datagrams.length).toBeLessThan(N / 10);
    expect(sink.stats().dropped).toEqual({});
  });
});
