import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter } from '../../emitter/emitter.js';
import { createMemorySink } from '../../emitter/memory-sink.js';
import { createLogger } from '../../core/log/logger.js';
import { LIVE_PROTOCOL } from '../gate.js';
import { createLiveHub } from '../hub.js';
import type { BatchMessage } from '../protocol.js';
import { CATALOGUE, connect, isBatch, isHello, liveConfig, refusedWith, startHub, until, type RunningHub, type TestClient } from './harness.js';

const TOKEN = 'a-test-token-of-enough-length';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hub(...args: Parameters<typeof startHub>): Promise<RunningHub> {
  const h = await startHub(...args);
  cleanups.push(() => h.stop());
  return h;
}

async function client(...args: Parameters<typeof connect>): Promise<TestClient> {
  const c = await connect(...args);
  cleanups.push(() => c.close());
  return c;
}

function valuesOf(b: BatchMessage): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < b.v.length; i += 2) m.set(b.v[i]!, b.v[i + 1]!);
  return m;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('live hub protocol (real ws client)', () => {
  it('sends hello with catalogue and history on connect, then one batch per flush', async () => {
    const h = await hub();
    h.emitter.counter('tt.web.requests.200', 4);
    h.emitter.gauge('tt.host.disk.root.percent', 42);
    // Let two buckets close so the history has something in it.
    await until(() => h.hub.stats().series === 2, 5000, 'series');
    const c0 = await client(h.port);
    await c0.next(isBatch);
    await c0.next(isBatch);
    c0.close();

    const c = await client(h.port);
    expect(c.ws.protocol).toBe(LIVE_PROTOCOL);
    const hello = await c.next(isHello);
    expect(hello).toMatchObject({ v: 1, flushMs: 100, historyMs: 10_000, maxSeries: 500 });
    expect(hello.families.map((f) => [f.integration, f.title, f.kind, f.unit]).sort()).toEqual([
      // One entry for host: nothing shared to strip, so the full pattern is the title.
      ['host', 'tt.host.disk.<mount>.percent', 'gauge', 'percent'],
      ['web', 'requests.<status>', 'counter', 'count'],
    ]);
    const byName = Object.fromEntries(hello.series.map((s) => [s.name, s]));
    expect(byName['tt.web.requests.200']).toMatchObject({ label: '200' });
    const disk = byName['tt.host.disk.root.percent']!;
    expect(hello.times.length).toBeGreaterThanOrEqual(2);
    expect(hello.values[disk.id]!.at(-1)).toBe(42);
    // The counter burst was one bucket's worth: 4 per 0.1 s.
    expect(hello.values[byName['tt.web.requests.200']!.id]).toContain(40);

    h.emitter.counter('tt.web.requests.200', 3);
    const b = await c.next((m): m is BatchMessage => isBatch(m) && valuesOf(m).get(byName['tt.web.requests.200']!.id) === 30);
    expect(valuesOf(b).get(disk.id)).toBe(42);
    expect(b.t).toBeGreaterThan(hello.times.at(-1)!);
  });

  it('announces new series in the batch that first carries them, timers as p50/p95/p99', async () => {
    const h = await hub();
    const c = await client(h.port);
    await c.next(isHello);
    for (const ms of [10, 20, 30, 40]) h.emitter.timing('tt.web.latency', ms);
    const b = await c.next((m): m is BatchMessage => isBatch(m) && (m.series?.length ?? 0) > 0);
    expect(b.families).toEqual([expect.objectContaining({ integration: 'web', title: 'latency', kind: 'timer', unit: 'ms' })]);
    expect(b.series!.map((s) => s.stat)).toEqual(['p50', 'p95', 'p99']);
    const v = valuesOf(b);
    expect(b.series!.map((s) => v.get(s.id))).toEqual([20, 40, 40]);
  });

  it('carries datapoints at their own timestamps', async () => {
    const h = await hub();
    const c = await client(h.port);
    await c.next(isHello);
    const ts = Math.floor(Date.now() / 1000) - 3 * 3600;
    h.emitter.datapoint('tt.billing.ec2.usd', 12.34, ts);
    const b = await c.next((m): m is BatchMessage => isBatch(m) && m.p.length > 0);
    expect(b.p).toEqual([b.series![0]!.id, ts * 1000, 12.34]);
  });

  it('caps series, tells the page how many are not shown, and counts the drops on the sink', async () => {
    const h = await hub({ max_series: 2 });
    const c = await client(h.port);
    await c.next(isHello);
    for (const s of ['200', '404', '500', '503']) h.emitter.counter(`tt.web.requests.${s}`);
    const b = await c.next((m): m is BatchMessage => isBatch(m) && m.refused > 0);
    expect(b.refused).toBe(2);
    expect(b.series).toHaveLength(2);
    expect(h.hub.sink.stats().dropped['series_cap']).toBe(2);
  });
});

describe('live hub handshake gate (real ws client)', () => {
  it('refuses a bad Origin with 403 and lets a same-origin page in', async () => {
    const h = await hub();
    expect(await refusedWith(connect(h.port, { origin: 'http://evil.example' }))).toBe(403);
    expect(await refusedWith(connect(h.port, { origin: `http://127.0.0.1:${h.port}` }))).toBe(101);
    expect(h.hub.stats().rejected).toEqual({ origin: 1 });
  });

  it('refuses a foreign Host (DNS rebinding) with 403, for the socket and the page', async () => {
    const h = await hub();
    expect(await refusedWith(connect(h.port, { headers: { Host: `evil.example:${h.port}` } }))).toBe(403);
    expect((await get(h.port, '/', { Host: `evil.example:${h.port}` })).status).toBe(403);
    expect((await get(h.port, '/', { Host: `localhost:${h.port}` })).status).toBe(200);
  });

  it('with a token: missing or wrong gets 403, right gets in; the token never reaches the logs', async () => {
    const h = await hub({ token: TOKEN });
    expect(await refusedWith(connect(h.port))).toBe(403);
    expect(await refusedWith(connect(h.port, { token: 'not-the-token-at-all-no' }))).toBe(403);
    const c = await client(h.port, { token: TOKEN });
    expect((await c.next(isHello)).type).toBe('hello');
    expect(h.hub.stats().rejected).toEqual({ token: 2 });
    expect(h.logs.join('')).toContain('reason=token');
    expect(h.logs.join('')).not.toContain(Buffer.from(TOKEN).toString('base64url'));
    expect(h.logs.join('')).not.toContain(TOKEN);
  });

  it('refuses the client past max_clients with 503 and admits again once one leaves', async () => {
    const h = await hub({ max_clients: 1 });
    const a = await client(h.port);
    expect(await refusedWith(connect(h.port))).toBe(503);
    a.close();
    await until(() => h.hub.stats().clients === 0, 5000, 'close');
    expect(await refusedWith(connect(h.port))).toBe(101);
  });

  it('answers 404 off /live, and serves the page, uPlot and info.json with CSP and no-store', async () => {
    const h = await hub({ token: TOKEN });
    expect(await refusedWith(connect(h.port, { path: '/other' }))).toBe(404);
    const page = await get(h.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script src="/app.js">');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'; connect-src 'self'/);
    expect(page.headers['cache-control']).toBe('no-store');
    const uplot = await get(h.port, '/uplot.js');
    expect(uplot.status).toBe(200);
    expect(uplot.body).toMatch(/uPlot/);
    expect((await get(h.port, '/uplot.css')).status).toBe(200);
    expect(JSON.parse((await get(h.port, '/info.json')).body)).toEqual({ tokenRequired: true, protocol: LIVE_PROTOCOL });
    expect((await get(h.port, '/../package.json')).status).toBe(404);
  });

  it('binds IPv6 loopback and prints a bracketed URL', async () => {
    const h = await hub({ listen: '[::1]:0' });
    expect(h.url).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
    const c = await client(h.port, { host: '[::1]', origin: `http://[::1]:${h.port}` });
    expect((await c.next(isHello)).type).toBe('hello');
  });

  it('refuses to start on a non-loopback address without a token', async () => {
    const hub = createLiveHub(liveConfig({ listen: '0.0.0.0:0' }), { log: createLogger({ level: 'silent' }), catalogue: [] });
    await expect(hub.start()).rejects.toThrow(/not loopback and no token/);
    await hub.stop();
  });

  it('refuses a history that would keep more than 3600 points per series', async () => {
    const hub = createLiveHub(liveConfig({ history: '2h', flush: '1s' }), { log: createLogger({ level: 'silent' }), catalogue: [] });
    await expect(hub.start()).rejects.toThrow(/7200 points per series; at most 3600/);
  });
});

describe('live hub send path', () => {
  it('skips a page that stops reading, then re-syncs it with a fresh hello once it drains', async () => {
    const h = await hub({ max_series: 5000 }, { tuning: { highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024, stallMs: 60_000 } });
    const slow = await client(h.port);
    await slow.next(isHello);
    slow.ws.pause();
    // ~5 MB/s of datapoints: enough to fill the kernel's socket buffers and then bufferedAmount.
    const flood = setInterval(() => {
      const ts = Math.floor(Date.now() / 1000);
      for (let i = 0; i < 5000; i++) h.emitter.datapoint('tt.billing.flood.usd', i + 0.123456, ts);
    }, 20);
    cleanups.push(() => clearInterval(flood));
    await until(() => h.hub.stats().skippedBatches >= 3, 30_000, 'skipped batches');
    clearInterval(flood);
    const s = h.hub.stats();
    // Never more buffered than the high-water mark plus the last hello and one message.
    expect(s.peakBuffered).toBeLessThanOrEqual(64 * 1024 + 2 * s.maxMessageBytes);
    expect(h.hub.sink.stats().dropped['slow_client']).toBe(s.skippedBatches);
    const before = slow.messages.length;
    slow.ws.resume();
    await until(() => h.hub.stats().resyncs >= 1, 20_000, 'resync');
    await until(() => slow.messages.slice(before).some((m) => m.type === 'hello'), 20_000, 'a second hello');
    expect(slow.messages.filter((m) => m.type === 'hello').length).toBeGreaterThanOrEqual(2);
  });

  it('disconnects a page that stays stalled past the bound', async () => {
    const h = await hub({ max_series: 5000 }, { tuning: { highWaterBytes: 16 * 1024, lowWaterBytes: 4 * 1024, stallMs: 300 } });
    const slow = await client(h.port);
    await slow.next(isHello);
    slow.ws.pause();
    const flood = setInterval(() => {
      const ts = Math.floor(Date.now() / 1000);
      for (let i = 0; i < 5000; i++) h.emitter.datapoint('tt.billing.flood.usd', i + 0.123456, ts);
    }, 20);
    cleanups.push(() => clearInterval(flood));
    await until(() => h.hub.stats().terminated >= 1, 30_000, 'termination');
    await until(() => h.hub.stats().clients === 0, 5000, 'client removed');
  });

  it('pings, keeps a page that pongs, and terminates one that does not', async () => {
    const h = await hub({}, { tuning: { pingMs: 100 } });
    const good = await client(h.port);
    const mute = await client(h.port, { autoPong: false });
    let pings = 0;
    good.ws.on('ping', () => pings++);
    const closed = new Promise<number>((resolve) => mute.ws.once('close', (code) => resolve(code)));
    await until(() => pings >= 4, 10_000, 'pings');
    expect(await closed).toBe(1006);
    expect(good.ws.readyState).toBe(good.ws.OPEN);
    expect(h.hub.stats().terminated).toBe(1);
  });

  it('sends the same text to every page and reports its own metrics through the self emitter', async () => {
    const mem = createMemorySink();
    const self = createEmitter({ sinks: [mem], selfMetrics: false, flushIntervalMs: 3_600_000, prefix: 'tt' });
    cleanups.push(() => self.close());
    const h = await hub({}, { selfEmitter: self });
    const a = await client(h.port);
    const b = await client(h.port);
    await a.next(isHello);
    await b.next(isHello);
    h.emitter.gauge('tt.host.disk.root.percent', 7);
    const ba = await a.next((m): m is BatchMessage => isBatch(m) && m.v.length > 0);
    const bb = await b.next((m): m is BatchMessage => isBatch(m) && m.t === ba.t);
    expect(bb).toEqual(ba);
    expect(await refusedWith(connect(h.port, { origin: 'http://evil.example' }))).toBe(403);
    await until(() => (mem.counters().get('tt.telltale.live.handshake_rejected.origin') ?? 0) === 1, 5000, 'self-metric');
    expect(mem.gauges().get('tt.telltale.live.clients')).toBe(2);
    expect(mem.counters().get('tt.telltale.live.sent_bytes')).toBeGreaterThan(0);
  });

  it('reports about itself once attach() names the root emitter, and attaches only once', async () => {
    const h = await hub({});
    const mem = createMemorySink();
    const root = createEmitter({ sinks: [mem], selfMetrics: false, flushIntervalMs: 3_600_000, prefix: 'tt' });
    cleanups.push(() => root.close());
    h.hub.attach(root);
    expect(() => h.hub.attach(root)).toThrow(/already attached/);
    const c = await client(h.port);
    await c.next(isHello);
    await until(() => mem.gauges().get('tt.telltale.live.clients') === 1, 5000, 'self-metric after attach');
  });

  it('shows its own metrics on the page under "live", and the core namespace under "telltale"', async () => {
    const h = await hub({}, { selfEmitter: 'root' });
    const c = await client(h.port);
    await c.next(isHello);
    // A core self-metric (the runtime's per-instance counters live under <root>.telltale.*).
    h.emitter.counter('telltale.access_log.web.received', 5);
    const name = 'telltale.live.clients';
    const b = await c.next((m): m is BatchMessage => isBatch(m) && (m.series ?? []).some((s) => s.name === name));
    const families = Object.fromEntries(b.families!.map((f) => [f.key, f]));
    const series = Object.fromEntries(b.series!.map((s) => [s.name, s]));
    expect(families[series[name]!.family]).toMatchObject({ integration: 'live', kind: 'gauge', unit: 'count', description: 'pages connected' });
    expect(families[series['telltale.access_log.web.received']!.family]).toMatchObject({ integration: 'telltale', title: 'telltale.access_log.web.*' });
    // Reported at a flush, it lands in that flush's bucket: one page connected.
    const id = series[name]!.id;
    expect(valuesOf(b).get(id)).toBe(1);
  });

  it('builds one hello per bucket: pages connecting within a flush share it', async () => {
    // A clock that moves on every read: a hello built twice would carry two serverTimes.
    let tick = 0;
    const h = await hub({ flush: '60s' }, { now: () => 1_700_000_000_000 + ++tick });
    const a = await client(h.port);
    const b = await client(h.port);
    const [ha, hb] = [await a.next(isHello), await b.next(isHello)];
    expect(hb.serverTime).toBe(ha.serverTime);
    expect(tick).toBe(1);
  });

  it('stops idempotently, closes pages, frees the port, and can start again on it', async () => {
    const h = await hub();
    const c = await client(h.port);
    await c.next(isHello);
    const closed = new Promise<void>((resolve) => c.ws.once('close', () => resolve()));
    await Promise.all([h.hub.stop(), h.hub.stop()]);
    await closed;
    const again = createLiveHub(liveConfig({ listen: `127.0.0.1:${h.port}` }), { log: createLogger({ level: 'silent' }), catalogue: CATALOGUE });
    cleanups.push(() => again.stop());
    expect((await again.start()).url).toBe(`http://127.0.0.1:${h.port}/`);
    const c2 = await client(h.port);
    expect((await c2.next(isHello)).type).toBe('hello');
  });
});
