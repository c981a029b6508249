/**
 * The page in real Chromium (Debian's, through playwright-core) against a real hub fed by a real
 * emitter. Asserts on window.__live counters and canvas pixels, never on pixel-exact screenshots
 * (fonts and raster differ between builds); one screenshot per scenario goes to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { createLogger } from '../../core/log/logger.js';
import { createLiveHub } from '../hub.js';
import { CATALOGUE, liveConfig, startHub, until, type RunningHub } from './harness.js';

const CHROMIUM = requireBinary('chromium', 'apt-get install chromium (Debian) — the live page tests drive it through playwright-core');
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const TOKEN = 'browser-test-token-0123456789';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

/** A sample of what integrations emit: request counters, a latency timer, a disk gauge, billing datapoints. */
function feed(h: RunningHub): () => void {
  let i = 0;
  const t = setInterval(() => {
    i++;
    h.emitter.counter('tt.web.requests.200', 20 + (i % 9));
    h.emitter.counter('tt.web.requests.404', i % 4);
    for (let k = 0; k < 5; k++) h.emitter.timing('tt.web.latency', 5 + ((i * 7 + k * 13) % 60));
    h.emitter.gauge('tt.host.disk.root.percent', 40 + (i % 20));
    h.emitter.gauge('tt.host.disk.var.percent', 70 - (i % 15));
    if (i % 5 === 0) h.emitter.datapoint('tt.billing.ec2.usd', 10 + i / 10, Math.floor(Date.now() / 1000) - 7200 + i * 30);
    h.emitter.gauge('tt.misc.queue_depth', i % 30);
  }, 50);
  return () => clearInterval(t);
}

interface Diag {
  state: string;
  frames: number;
  hellos: number;
  batches: number;
  reconnects: number;
  charts: number;
  series: number;
  lastDelay: number;
  windowSec: number;
  errors: number;
  unknown: number;
}

const diag = (page: Page): Promise<Diag> => page.evaluate(() => (globalThis as unknown as { __live: Diag }).__live);

async function waitDiag(page: Page, pred: (d: Diag) => boolean, what: string, timeoutMs = 20_000): Promise<Diag> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await diag(page);
    if (pred(d)) return d;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(d)}`);
    await page.waitForTimeout(50);
  }
}

/** Per chart: its title and how many canvas pixels carry the first series' stroke colour. */
function strokePixels(page: Page): Promise<{ title: string; pixels: number; axis: string }[]> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<any> } }).document;
    return Array.from(doc.querySelectorAll('.chart:not(.hidden)')).map((box: any) => {
      const canvas = box.querySelector('canvas');
      const title = box.querySelector('.title').textContent as string;
      // uPlot draws axis labels on the canvas; read the one it was given.
      const axis = (box.__family?.plot?.axes?.[1]?.label ?? '') as string;
      if (!canvas) return { title, pixels: 0, axis };
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let pixels = 0;
      // COLORS[0] in app.js: #3b7dd8 = rgb(59,125,216); antialiasing blurs it, so allow a margin.
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 128 && Math.abs(data[i] - 59) < 30 && Math.abs(data[i + 1] - 125) < 30 && Math.abs(data[i + 2] - 216) < 30) pixels++;
      }
      return { title, pixels, axis };
    });
  });
}

describe.skipIf(!CHROMIUM)('live page in Chromium', () => {
  let browser: Browser;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ARGS, timeout: 30_000 });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function open(h: { url: string }): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(h.url);
    return { page, errors };
  }

  async function hub(over: Record<string, unknown> = {}): Promise<RunningHub> {
    const h = await startHub({ flush: '100ms', ...over });
    cleanups.push(() => h.stop());
    cleanups.push(feed(h));
    return h;
  }

  it('loads, groups charts by integration with catalogue titles and units, and paints live data', async () => {
    const h = await hub();
    const { page, errors } = await open(h);
    await waitDiag(page, (d) => d.state === 'live' && d.batches > 25 && d.charts >= 5 && d.series >= 9, 'live with 5 charts');
    const headings = await page.locator('h2').allTextContents();
    expect(headings).toEqual(['web', 'host', 'billing', 'other']);
    const charts = await strokePixels(page);
    const byTitle = Object.fromEntries(charts.map((c) => [c.title, c]));
    expect(Object.keys(byTitle).sort()).toEqual(['latency', 'requests.<status>', 'tt.billing.<service>.usd', 'tt.host.disk.<mount>.percent', 'tt.misc.*']);
    for (const c of charts) expect(c.pixels, `${c.title} painted`).toBeGreaterThan(30);
    expect(byTitle['requests.<status>']!.axis).toBe('/s');
    expect(byTitle['latency']!.axis).toBe('ms');
    expect(byTitle['tt.host.disk.<mount>.percent']!.axis).toBe('percent');
    expect(await page.locator('.u-legend').first().textContent()).toMatch(/200.*404/);
    // CSP holds with uPlot (no inline styles or scripts needed) and nothing threw.
    expect(errors).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}live-page.png`, fullPage: true });
  });

  it('reconnects with backoff after the hub restarts, and the new hello re-syncs it', async () => {
    const h = await hub();
    const { page } = await open(h);
    await waitDiag(page, (d) => d.state === 'live' && d.frames > 1, 'live');
    await h.hub.stop();
    const down = await waitDiag(page, (d) => d.state === 'reconnecting', 'reconnecting');
    // Full jitter over 500 ms doubling per attempt: the n-th wait is at most 500 × 2^n ms. The
    // poll can land after a first, failed attempt (the hub is still down), so bound the wait by
    // the attempts already made rather than by the first one's 500 ms.
    expect(down.lastDelay).toBeGreaterThanOrEqual(0);
    expect(down.lastDelay).toBeLessThanOrEqual(Math.min(30_000, 500 * 2 ** down.reconnects));
    // A new hub (empty history) on the same port, fed again.
    const again = createLiveHub(liveConfig({ listen: `127.0.0.1:${h.port}` }), {
      log: createLogger({ level: 'silent' }),
      catalogue: CATALOGUE,
    });
    cleanups.push(() => again.stop());
    await again.start();
    again.sink.gauge('tt.host.disk.root.percent', 55);
    const d = await waitDiag(page, (x) => x.state === 'live' && x.hellos >= 2 && x.reconnects >= 1 && x.batches > 0, 'reconnected', 40_000);
    // State was replaced by the new hub's hello, not merged with the old one.
    await waitDiag(page, (x) => x.series === 1 && x.charts === 1, 'only the new hub series');
    await waitDiag(page, (x) => x.frames > d.frames, 'a frame after reconnect');
    await page.screenshot({ path: `${ARTIFACTS}live-page-reconnected.png` });
  });

  it('draws nothing while the tab is hidden and catches up once visible', async () => {
    const h = await hub();
    const { page } = await open(h);
    await waitDiag(page, (d) => d.state === 'live' && d.frames > 1, 'live');
    await page.evaluate(() => {
      Object.defineProperty((globalThis as any).document, 'hidden', { configurable: true, get: () => true });
    });
    const before = await diag(page);
    await waitDiag(page, (d) => d.batches >= before.batches + 5, 'five batches while hidden');
    expect((await diag(page)).frames).toBe(before.frames);
    await page.evaluate(() => {
      const doc = (globalThis as any).document;
      delete doc.hidden;
      doc.dispatchEvent(new Event('visibilitychange'));
    });
    await waitDiag(page, (d) => d.frames > before.frames, 'a frame once visible');
  });

  it('filters charts, pauses drawing (data keeps arriving) and switches the time window', async () => {
    const h = await hub();
    const { page } = await open(h);
    await waitDiag(page, (d) => d.state === 'live' && d.charts >= 5 && d.frames > 1, 'live');
    await page.fill('#filter', 'disk');
    expect(await page.locator('.chart:not(.hidden) .title').allTextContents()).toEqual(['tt.host.disk.<mount>.percent']);
    expect(await page.locator('section:not(.hidden) h2').allTextContents()).toEqual(['host']);
    await page.fill('#filter', 'requests.*404');
    expect(await page.locator('.chart:not(.hidden) .title').allTextContents()).toEqual(['requests.<status>']);
    await page.fill('#filter', '');
    expect(await page.locator('.chart:not(.hidden)').count()).toBe(5);

    await page.click('#pause');
    const paused = await diag(page);
    await waitDiag(page, (d) => d.batches >= paused.batches + 5, 'batches while paused');
    expect((await diag(page)).frames).toBe(paused.frames);
    expect(await page.locator('#status').textContent()).toBe('paused');
    await page.click('#pause');
    await waitDiag(page, (d) => d.frames > paused.frames, 'a frame after resume');

    expect((await diag(page)).windowSec).toBe(10);
    await page.selectOption('#window', '10');
    const range = await page.evaluate(() => {
      const box = (globalThis as any).document.querySelector('.chart') as { __family: { plot: { scales: { x: { min: number; max: number } } } } };
      return box.__family.plot.scales.x.max - box.__family.plot.scales.x.min;
    });
    expect(range).toBe(10);
  });

  it('backs off with full jitter (deterministic under a fake clock), shows stale, and shrugs off bad messages', async () => {
    const h = await hub();
    const context = await browser.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    // random() = 0.5: delays are exactly half of min(30 s, 0.5 s * 2^attempt).
    await page.addInitScript(() => {
      Math.random = () => 0.5;
    });
    await page.clock.install();
    const hello = JSON.stringify({ type: 'hello', v: 1, serverTime: 0, flushMs: 1000, historyMs: 60_000, maxSeries: 500, families: [], series: [], times: [], values: {}, points: {}, refused: 0 });
    const routes: { send(m: string): void; close(o?: { code?: number }): Promise<void> }[] = [];
    let greet = true;
    // The socket is answered inside the page: no server, every frame under the test's control.
    await page.routeWebSocket(/\/live$/, (ws) => {
      routes.push(ws);
      if (greet) ws.send(hello);
    });
    await page.goto(h.url);
    await waitDiag(page, (d) => d.state === 'live' && d.hellos === 1, 'live on the routed socket');
    const route = routes[0]!;
    route.send('{not json');
    route.send(JSON.stringify({ type: 'mystery' }));
    await waitDiag(page, (d) => d.errors === 1 && d.unknown === 1, 'bad messages counted');
    expect((await diag(page)).state).toBe('live');

    await page.clock.pauseAt(Date.now() + 60_000);
    await route.close({ code: 1011 });
    let d = await waitDiag(page, (x) => x.state === 'reconnecting', 'reconnecting');
    expect(d.lastDelay).toBe(250);
    await page.clock.runFor(249);
    expect(routes).toHaveLength(1);
    await page.clock.runFor(2);
    await waitDiag(page, (x) => x.state === 'live' && x.hellos === 2, 'reconnected at 250 ms');
    expect(routes).toHaveLength(2);

    // Without a hello the attempt counter is not reset: 250, 500, 1000 ms.
    greet = false;
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await routes.at(-1)!.close({ code: 1011 });
      d = await waitDiag(page, (x) => x.state === 'reconnecting' && x.reconnects === 1 + i, `reconnecting #${i}`);
      delays.push(d.lastDelay);
      const before = routes.length;
      await page.clock.runFor(d.lastDelay + 1);
      await until(() => routes.length === before + 1, 5000, 'the next attempt');
    }
    expect(delays).toEqual([250, 500, 1000]);

    // A hello resets the backoff; silence for 3 x flushMs turns the badge stale.
    routes.at(-1)!.send(hello);
    await waitDiag(page, (x) => x.state === 'live' && x.hellos === 3, 'live again');
    await page.clock.runFor(2500);
    expect(await page.locator('#status').textContent()).toBe('live');
    await page.clock.runFor(1000);
    expect(await page.locator('#status').textContent()).toBe('stale');
  });

  it('puts late and repeated datapoints in time order on the chart', async () => {
    const h = await hub();
    const context = await browser.newContext();
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const t = 1_700_000_000_000;
    const hello = {
      type: 'hello', v: 1, serverTime: t, flushMs: 1000, historyMs: 60_000, maxSeries: 500, times: [], values: {}, refused: 0,
      families: [{ key: 'p|datapoint', integration: 'puppet', title: 'time.total', kind: 'datapoint', unit: 's', description: '' }],
      series: [{ id: 0, name: 'tt.puppet.web01.time.total', family: 'p|datapoint', label: 'web01' }],
      points: { 0: [[t, t + 3000], [1, 3]] },
    };
    let route: { send(m: string): void } | undefined;
    await page.routeWebSocket(/\/live$/, (ws) => {
      route = ws;
      ws.send(JSON.stringify(hello));
    });
    await page.goto(h.url);
    await waitDiag(page, (d) => d.state === 'live' && d.frames > 0, 'live');
    const before = (await diag(page)).frames;
    route!.send(JSON.stringify({ type: 'batch', t: t + 5000, v: [], p: [0, t + 2000, 2, 0, t + 3000, 30], refused: 0 }));
    await waitDiag(page, (d) => d.frames > before, 'redrawn');
    const data = await page.evaluate(() => (globalThis as any).document.querySelector('.chart').__family.plot.data);
    expect(data).toEqual([[t / 1000, t / 1000 + 2, t / 1000 + 3], [1, 2, 30]]);
  });

  it('a token-protected hub: the page asks for the token, refuses a bad Origin and a missing token with 403, then connects', async () => {
    const h = await hub({ token: TOKEN });
    const { page } = await open(h);
    await waitDiag(page, (d) => d.state === 'token', 'token prompt');
    expect(await page.locator('#token-form').isVisible()).toBe(true);

    // A socket opened by this page without the token: 403 at the handshake, so it never opens.
    const closed = await page.evaluate(
      (port) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/live`, ['telltale-live.v1']);
          ws.onopen = () => resolve('opened');
          ws.onclose = (e) => resolve(`closed ${e.code}`);
        }),
      h.port,
    );
    expect(closed).toBe('closed 1006');
    await until(() => (h.hub.stats().rejected.token ?? 0) >= 1, 5000, 'token rejection');

    // A page from another origin cannot connect either, even holding the token.
    // Another local web app: a loopback origin on another port, so Chromium's own local-network
    // checks stay out of the way and only the hub's Origin check decides.
    const evilServer = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>evil</title>'));
    await new Promise<void>((resolve) => evilServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => {
      evilServer.closeAllConnections();
      evilServer.close(resolve);
    }));
    const evil = await page.context().newPage();
    await evil.goto(`http://127.0.0.1:${(evilServer.address() as AddressInfo).port}/`);
    const evilResult = await evil.evaluate(
      ({ port, proto }) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/live`, ['telltale-live.v1', proto]);
          ws.onopen = () => resolve('opened');
          ws.onclose = (e) => resolve(`closed ${e.code}`);
        }),
      { port: h.port, proto: 'token.' + Buffer.from(TOKEN).toString('base64url') },
    );
    expect(evilResult).toBe('closed 1006');
    await until(() => (h.hub.stats().rejected.origin ?? 0) >= 1, 5000, 'origin rejection');

    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type=submit]');
    await waitDiag(page, (d) => d.state === 'live' && d.frames > 1, 'live with the token');
    // The token went in the subprotocol, never into the URL.
    expect(page.url()).not.toContain(TOKEN);
    await page.screenshot({ path: `${ARTIFACTS}live-page-token.png` });
  });
});
