/**
 * Events through the emitter: validation and bounds, the graphite datapoint and statsd counter
 * forms on the wire, and the graphite_events sink's queue, retries and drop counts against a
 * loopback HTTP server that misbehaves on purpose. (Real graphite-web: test/e2e/events.test.ts.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter } from '../emitter.js';
import { createGraphiteEventsSink } from '../graphite-events-sink.js';
import { createGraphiteSink } from '../graphite-sink.js';
import { createMemorySink } from '../memory-sink.js';
import { createStatsdSink } from '../statsd-sink.js';
import { parseAddress, type Address } from '../address.js';
import { startLineServer, startUdpServer, until } from '../../../test/helpers/servers.js';

interface Recorded {
  body: string;
  headers: http.IncomingHttpHeaders;
}

async function httpServer(answer: (n: number) => number | 'hang'): Promise<{ url: string; got: Recorded[]; close(): Promise<void> }> {
  const got: Recorded[] = [];
  const hung: http.ServerResponse[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push({ body, headers: req.headers });
      const a = answer(n++);
      if (a === 'hang') hung.push(res);
      // No keep-alive: an idle pooled socket's timer would outlive the test in this worker.
      else res.writeHead(a, { connection: 'close' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events/`,
    got,
    close: () =>
      new Promise((r) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('emitter.event()', () => {
  it('validates, bounds and sanitises before any sink sees the event', () => {
    const mem = createMemorySink();
    const e = createEmitter({ prefix: 'pre', sinks: [mem], selfMetrics: false, now: () => 1_700_000_000_000 });
    cleanups.push(() => e.close());
    e.child({ prefix: 'svc' }).event('deploy api 1.2', { tags: ['deploy', 'two words', 'deploy', '', 'x'.repeat(100)], data: 'd'.repeat(5000), when: 1_699_999_000 });
    e.event('');
    e.event('late', { when: 1 });
    e.event('\u0000\n');
    const [ev, ...rest] = mem.events();
    expect(rest).toEqual([]);
    expect(ev).toEqual({
      what: 'deploy api 1.2',
      tags: ['deploy', 'two_words', 'x'.repeat(64)],
      data: 'd'.repeat(4096),
      when: 1_699_999_000,
      path: 'pre.svc.events.deploy_api_1_2',
    });
    expect(e.stats().rejected).toEqual({ invalid_event: 2, bad_timestamp: 1 });
  });

  it('is a `<prefix>.events.<what> 1 <when>` line on the graphite sink', async () => {
    const carbon = await startLineServer();
    cleanups.push(() => carbon.close());
    const sink = createGraphiteSink({ target: { address: { transport: 'tcp', host: '127.0.0.1', port: carbon.port } }, flushIntervalMs: 1000 });
    const e = createEmitter({ prefix: 'pre', sinks: [sink], selfMetrics: false });
    cleanups.push(() => e.close());
    const when = Math.floor(Date.now() / 1000) - 60;
    e.event('puppet changed', { when });
    await e.flush();
    await carbon.waitFor((l) => l.includes(`pre.events.puppet_changed 1 ${when}`));
  });

  it('is a counter on the statsd sink', async () => {
    const statsd = await startUdpServer();
    cleanups.push(() => statsd.close());
    const sink = createStatsdSink({ address: parseAddress(`127.0.0.1:${statsd.port}`, 'udp', ['udp']) as Address });
    const e = createEmitter({ prefix: 'pre', sinks: [sink], selfMetrics: false });
    cleanups.push(() => e.close());
    e.event('crash');
    e.event('crash');
    await e.flush();
    await statsd.waitFor((s) => s.lines().includes('pre.events.crash:2|c'));
  });
});

describe('graphite_events sink', () => {
  it('POSTs graphite-web JSON with basic auth and extra headers', async () => {
    const web = await httpServer(() => 200);
    cleanups.push(() => web.close());
    const sink = createGraphiteEventsSink({ url: web.url, basicAuth: { username: 'u', password: 'p:w' }, headers: { 'x-team': 'ops' } });
    const e = createEmitter({ sinks: [sink], selfMetrics: false, now: () => 1_700_000_000_000 });
    e.event('deploy', { tags: ['a', 'b'], data: 'v1', when: 1_699_999_990 });
    await e.close();
    expect(web.got.map((g) => JSON.parse(g.body))).toEqual([{ what: 'deploy', tags: ['a', 'b'], when: 1_699_999_990, data: 'v1' }]);
    expect(web.got[0]!.headers['authorization']).toBe(`Basic ${Buffer.from('u:p:w').toString('base64')}`);
    expect(web.got[0]!.headers['x-team']).toBe('ops');
    expect(web.got[0]!.headers['content-type']).toBe('application/json');
    expect(sink.stats()).toMatchObject({ sent: 1, dropped: {}, queued: 0 });
  });

  it('retries 5xx with backoff, in order, and gives up on a 4xx (counted as rejected)', async () => {
    const web = await httpServer((n) => (n < 2 ? 503 : n === 3 ? 400 : 200));
    cleanups.push(() => web.close());
    const sink = createGraphiteEventsSink({ url: web.url, backoffBaseMs: 5, backoffCapMs: 20 });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    e.event('one');
    e.event('two');
    e.event('three');
    await until(() => sink.stats().queued === 0, 10_000, 'queue to drain');
    await e.close();
    // one: 503, 503, 200; two: 400 (dropped); three: 200
    expect(web.got.map((g) => (JSON.parse(g.body) as { what: string }).what)).toEqual(['one', 'one', 'one', 'two', 'three']);
    expect(sink.stats()).toMatchObject({ sent: 2, errors: 3, reconnects: 2, dropped: { rejected: 1 } });
  });

  it('never blocks: a full queue drops and counts, close() counts what is left', async () => {
    const web = await httpServer(() => 'hang');
    cleanups.push(() => web.close());
    const sink = createGraphiteEventsSink({ url: web.url, maxQueue: 3, timeoutMs: 60_000 });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    for (let i = 0; i < 10; i++) e.event(`e${i}`); // synchronous: returns while graphite-web hangs
    expect(sink.stats()).toMatchObject({ queued: 3, dropped: { overflow: 7 } });
    await e.close({ timeoutMs: 200 });
    // The two behind the one in flight are dropped, then the hanging request is aborted.
    expect(sink.stats()).toMatchObject({ dropped: { overflow: 7, closed: 3 }, queued: 0, errors: 1 });
  });

  it('gives up after max_retries when graphite-web is down, and counts it', async () => {
    const web = await httpServer(() => 200);
    const url = web.url;
    await web.close();
    const sink = createGraphiteEventsSink({ url, maxRetries: 2, backoffBaseMs: 1, backoffCapMs: 2 });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    e.event('lost');
    await until(() => sink.stats().queued === 0, 10_000, 'retries to run out');
    expect(sink.stats()).toMatchObject({ sent: 0, errors: 3, dropped: { send_error: 1 } });
    await e.close();
  });
});
