import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { testContext, type TestContext } from '../../../test/helpers/context.js';
import type { Integration } from '../../../shared/core/integration.js';
import type { WebhookConfig } from '../config.js';
import { host } from '../index.js';
import { createWebhookSink, webhookBody, type AlertPayload } from '../webhook.js';
import { meminfo, procTree } from './proc-tree.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Receiver {
  url: string;
  requests: Received[];
  /** Resolves once `n` requests have arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A real HTTP server on 127.0.0.1:0; `respond` decides each answer (or never answers). */
async function receiver(respond: (n: number, res: ServerResponse) => void): Promise<Receiver> {
  const requests: Received[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      for (const w of [...waiters]) w();
      respond(requests.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const r: Receiver = {
    url: `http://127.0.0.1:${port}/hook?token=secret`,
    requests,
    waitFor(n, timeoutMs = 10_000) {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (requests.length >= n) {
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: ${requests.length} of ${n} requests within ${timeoutMs}ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  cleanups.push(() => r.close());
  return r;
}

/** A port on 127.0.0.1 with nothing listening: connections are refused. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}

function webhookConfig(raw: Record<string, unknown>): WebhookConfig {
  const r = validate(host.schema, { alerts: [{ type: 'webhook', ...raw }] });
  if ('issues' in r) throw new Error(JSON.stringify(r.issues));
  const a = r.value.alerts[0]!;
  if (a.type !== 'webhook') throw new Error('not a webhook');
  return a;
}

function payload(n: number): AlertPayload {
  return {
    text: `ALERT host.load.1 = ${n} > 20 on web1`,
    state: 'fired',
    metric: 'host.load.1',
    key: 'load',
    value: n,
    direction: 'above',
    threshold: 20,
    clear: 19,
    hold_ms: 0,
    host: 'web1',
    instance: 'host',
    since: '2026-11-22T10:00:00.000Z',
    at: '2026-11-22T10:00:00.000Z',
  };
}

function sink(cfg: Record<string, unknown>): { t: TestContext; w: ReturnType<typeof createWebhookSink> } {
  const t = testContext({ prefix: 'host' });
  const w = createWebhookSink(webhookConfig(cfg), { log: t.ctx.log, emitter: t.ctx.emitter, random: () => 0.5 });
  cleanups.push(() => w.stop());
  return { t, w };
}

describe('webhook alert sink', () => {
  it('POSTs each format with its documented body and the configured headers', async () => {
    const r = await receiver((_n, res) => res.writeHead(204).end());
    for (const format of ['json', 'slack', 'sentry'] as const) {
      const { t, w } = sink({ url: r.url, format, headers: { 'X-Sentry-Auth': 'Sentry sentry_key=abc' } });
      w.send(payload(25));
      await w.idle();
      expect(t.sink.counters().get('host.alerts.webhook.sent')).toBe(1);
    }
    expect(r.requests).toHaveLength(3);
    for (const q of r.requests) {
      expect(q.method).toBe('POST');
      expect(q.url).toBe('/hook?token=secret');
      expect(q.headers['content-type']).toBe('application/json');
      expect(q.headers['x-sentry-auth']).toBe('Sentry sentry_key=abc');
    }
    const [json, slack, sentry] = r.requests.map((q) => JSON.parse(q.body) as Record<string, unknown>);
    expect(json).toEqual({ ...payload(25), source: 'telltale' });
    expect(slack).toEqual({ text: 'ALERT host.load.1 = 25 > 20 on web1' });
    expect(sentry).toEqual(webhookBody('sentry', payload(25)));
    expect(sentry!['event_id']).toMatch(/^[0-9a-f]{32}$/);
    expect(webhookBody('sentry', { ...payload(25), state: 'recovered' })).not.toMatchObject({ event_id: sentry!['event_id'] });
    expect(sentry).toMatchObject({
      message: 'ALERT host.load.1 = 25 > 20 on web1',
      level: 'error',
      server_name: 'web1',
      fingerprint: ['telltale-host-threshold', 'web1', 'host.load.1'],
      tags: { metric: 'host.load.1', state: 'fired' },
    });
  });

  it('retries 5xx and 429 with backoff until it is delivered', async () => {
    const r = await receiver((n, res) => res.writeHead(n === 1 ? 503 : n === 2 ? 429 : 200).end('busy'));
    const { t, w } = sink({ url: r.url, retries: 3, backoff: '10ms' });
    w.send(payload(30));
    await w.idle();
    expect(r.requests).toHaveLength(3);
    const c = t.sink.counters();
    expect(c.get('host.alerts.webhook.retries')).toBe(2);
    expect(c.get('host.alerts.webhook.sent')).toBe(1);
    expect(c.get('host.alerts.webhook.failed')).toBeUndefined();
    expect(t.logs.join('')).toMatch(/attempt 1 failed \(HTTP 503: busy\); retrying in \d+ms/);
  });

  it('honours Retry-After on 429, within max_backoff', async () => {
    const r = await receiver((n, res) => (n === 1 ? res.writeHead(429, { 'retry-after': '1' }).end() : res.writeHead(200).end()));
    const { t, w } = sink({ url: r.url, retries: 2, backoff: '10ms' });
    w.send(payload(30));
    await w.idle();
    expect(r.requests).toHaveLength(2);
    expect(t.logs.join('')).toMatch(/attempt 1 failed \(HTTP 429\); retrying in 1000ms/);
    const capped = await receiver((n, res) => (n === 1 ? res.writeHead(429, { 'retry-after': '3600' }).end() : res.writeHead(200).end()));
    const c = sink({ url: capped.url, retries: 2, backoff: '10ms', max_backoff: '50ms' });
    c.w.send(payload(30));
    await c.w.idle();
    expect(c.t.logs.join('')).toMatch(/retrying in 50ms/);
  });

  it('does not retry a 4xx other than 429: the request itself is wrong', async () => {
    const r = await receiver((_n, res) => res.writeHead(400).end('invalid_payload'));
    const { t, w } = sink({ url: r.url, retries: 5, backoff: '10ms' });
    w.send(payload(30));
    await w.idle();
    expect(r.requests).toHaveLength(1);
    expect(t.sink.counters().get('host.alerts.webhook.failed')).toBe(1);
    expect(t.logs.join('')).toMatch(/giving up after 1 attempt\(s\): HTTP 400: invalid_payload/);
    // The token in the query string never reaches the log.
    expect(t.logs.join('')).not.toContain('secret');
  });

  it('gives up on a receiver that is down after a bounded number of attempts', async () => {
    const { t, w } = sink({ url: await deadUrl(), retries: 2, backoff: '5ms' });
    w.send(payload(30));
    await w.idle();
    const c = t.sink.counters();
    expect(c.get('host.alerts.webhook.retries')).toBe(2);
    expect(c.get('host.alerts.webhook.failed')).toBe(1);
    expect(t.logs.join('')).toMatch(/giving up after 3 attempt\(s\): .*ECONNREFUSED/);
  });

  it('bounds the queue: drops the oldest alerts, counts them, and accounts for every alert at stop', async () => {
    const r = await receiver(() => undefined); // never answers
    const { t, w } = sink({ url: r.url, queue_size: 2, timeout: '60s' });
    for (let i = 1; i <= 5; i++) w.send(payload(i));
    await r.waitFor(1);
    expect(w.queued).toBe(2);
    expect(t.sink.counters().get('host.alerts.webhook.dropped')).toBe(2);
    expect(t.logs.join('')).toMatch(/queue full; oldest alert dropped/);
    // Only alert 1 was ever in flight.
    expect(JSON.parse(r.requests[0]!.body)).toMatchObject({ value: 1 });
    await w.stop();
    // In flight (1) + still queued (4, 5): all dropped and counted, nothing vanishes.
    expect(t.sink.counters().get('host.alerts.webhook.dropped')).toBe(5);
    expect(w.queued).toBe(0);
  });
});

describe('webhook through the host integration', () => {
  function setup(alert: Record<string, unknown>): { t: TestContext; h: Integration; setMemory: (pct: number) => void } {
    const p = procTree();
    cleanups.push(() => p.cleanup());
    const t = testContext({ prefix: 'host', type: 'host', name: 'host' });
    const r = validate(host.schema, { proc_root: p.root, disks: [], thresholds: { 'memory.percent': 80 }, alerts: [{ type: 'log' }, { type: 'webhook', ...alert }] });
    if ('issues' in r) throw new Error(JSON.stringify(r.issues));
    const h = host.create(r.value, t.ctx);
    cleanups.push(() => h.stop());
    return { t, h, setMemory: (pct) => p.write('meminfo', meminfo(pct)) };
  }

  it('sends one alert when crossed and one when recovered', async () => {
    const r = await receiver((_n, res) => res.writeHead(200).end('ok'));
    const { t, h, setMemory } = setup({ url: r.url });
    for (const pct of [50, 90, 95, 97, 50, 40]) {
      setMemory(pct);
      await h.once();
    }
    await r.waitFor(2);
    const bodies = r.requests.map((q) => JSON.parse(q.body) as AlertPayload);
    expect(bodies.map((b) => [b.state, b.metric, b.key, b.threshold, b.direction])).toEqual([
      ['fired', 'host.memory.percent', 'memory.percent', 80, 'above'],
      ['recovered', 'host.memory.percent', 'memory.percent', 80, 'above'],
    ]);
    expect(bodies[0]!.value).toBeCloseTo(90, 3);
    expect(bodies[1]!.value).toBeCloseTo(50, 3);
    expect(bodies[1]!.clear).toBe(76);
    expect(t.sink.counters().get('host.alerts.fired')).toBe(1);
  });

  it('keeps sampling while the webhook hangs, and the retries stay bounded', async () => {
    const r = await receiver(() => undefined); // accepts, reads, never answers
    const { t, h, setMemory } = setup({ url: r.url, timeout: '150ms', retries: 1, backoff: '10ms' });
    setMemory(90);
    await h.once();
    await r.waitFor(1);
    // The delivery is stuck in flight, yet every sample completes and emits.
    setMemory(50);
    let samples = 1;
    const bothGivenUp = (): boolean => t.sink.counters().get('host.alerts.webhook.failed') === 2;
    const deadline = Date.now() + 10_000;
    while (!bothGivenUp() && Date.now() < deadline) {
      await h.once();
      samples++;
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(samples).toBeGreaterThan(3);
    expect(t.sink.samples.filter((s) => s.kind === 'gauge' && s.name === 'host.memory.percent')).toHaveLength(samples);
    // Two alerts (fired, recovered), each tried exactly 1 + retries = 2 times, then given up. An
    // attempt cut off by the timeout may never have reached the receiver, hence at most 4 there.
    expect(r.requests.length).toBeLessThanOrEqual(4);
    expect(t.sink.counters().get('host.alerts.webhook.failed')).toBe(2);
    expect(t.sink.counters().get('host.alerts.webhook.retries')).toBe(2);
    expect(t.sink.counters().get('telltale.host.host.errors.sending')).toBe(2);
    expect(t.logs.join('')).toMatch(/giving up after 2 attempt\(s\): no response within 150ms/);
  });

  it('stop() does not wait for a hanging webhook', async () => {
    const r = await receiver(() => undefined);
    const { t, h, setMemory } = setup({ url: r.url, timeout: '60s' });
    setMemory(90);
    await h.once();
    await r.waitFor(1);
    await h.stop();
    expect(t.sink.counters().get('host.alerts.webhook.dropped')).toBe(1);
    expect(t.logs.join('')).toMatch(/stopped before delivery; alert dropped/);
  });
});
