/**
 * The service overview row in real Chromium: one service graph per access_log source at the top
 * of the page, good/bad per second and p95/p99 on a second axis, the safe-QPS line, and events
 * (through the same hub, in the hello and in batches) as vertical lines with their text on hover.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { startHub, type RunningHub } from './harness.js';

const CHROMIUM = requireBinary('chromium', 'apt-get install chromium (Debian) — the live page tests drive it through playwright-core');
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

interface Diag {
  state: string;
  services: number;
  events: number;
  eventMarkers: number;
  overviewDrawn: number;
}

describe.skipIf(!CHROMIUM)('live page service overview in Chromium', () => {
  let browser: Browser;
  let h: RunningHub;
  let feed: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ARGS, timeout: 30_000 });
    h = await startHub(
      { flush: '200ms', history: '2m' },
      { services: [{ name: 'shop', good: 'tt.shop.good', bad: 'tt.shop.bad', responseTime: 'tt.shop.response_time', safeQps: 300 }] },
    );
    let i = 0;
    feed = setInterval(() => {
      i++;
      h.emitter.counter('tt.shop.good', 40 + (i % 13));
      h.emitter.counter('tt.shop.bad', 3 + (i % 5));
      for (let k = 0; k < 20; k++) h.emitter.timing('tt.shop.response_time', 20 + ((i * 7 + k * 31) % 180));
    }, 100);
  }, 60_000);
  afterAll(async () => {
    clearInterval(feed);
    await h?.stop();
    await browser?.close();
  });

  it('draws the lines, the safe-QPS line and event markers with their text on hover', async () => {
    // One event before the page connects (it comes in the hello), one after (in a batch).
    h.emitter.event('deploy shop 1.4.2', { tags: ['deploy', 'shop'], data: 'git 3f2a1c9', when: Math.floor(Date.now() / 1000) - 1 });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(h.url);
      const diag = (): Promise<Diag> => page.evaluate(() => (globalThis as unknown as { __live: Diag }).__live);
      const until = async (pred: (d: Diag) => boolean, what: string): Promise<Diag> => {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const d = await diag();
          if (pred(d)) return d;
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(d)}`);
          await page.waitForTimeout(50);
        }
      };
      await until((d) => d.state === 'live' && d.services === 1 && d.eventMarkers === 1 && d.overviewDrawn > 5, 'overview with one event');
      await page.waitForTimeout(1500);
      h.emitter.event('shop:web FATAL', { tags: ['supervisor', 'fatal'], data: 'gave up starting after 3 failed attempts' });
      await until((d) => d.events === 2 && d.eventMarkers === 2, 'the second event drawn');

      // The overview is the first chart on the page, above every integration group.
      const first = page.locator('#overview .chart.service').first();
      expect(await page.locator('#overview + main').count()).toBe(1);
      expect(await first.locator('.title').textContent()).toBe('shop: requests/s and response time');
      expect(await first.locator('.u-legend').textContent()).toMatch(/good 2xx\/3xx.*bad 4xx\/5xx.*p95 ms.*p99 ms.*safe QPS/);
      // Two y axes: requests/s on the left, ms on the right.
      const axes = await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<any> } }).document;
        return Array.from(doc.querySelectorAll('#overview .u-axis')).length;
      });
      expect(axes).toBe(3);
      // Colours on the canvas: good (#2e9e5b), bad (#d8342f), p95 (#3b7dd8), safe QPS (#c98a12), events (#b03fd0).
      const counts = await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { querySelector(s: string): any } }).document;
        const canvas = doc.querySelector('#overview canvas');
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        const want: Record<string, [number, number, number]> = { good: [46, 158, 91], bad: [216, 52, 47], p95: [59, 125, 216], safe: [201, 138, 18], event: [176, 63, 208] };
        const out: Record<string, number> = {};
        for (const [k, [r, g, b]] of Object.entries(want)) {
          let n = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 128 && Math.abs(data[i] - r) < 25 && Math.abs(data[i + 1] - g) < 25 && Math.abs(data[i + 2] - b) < 25) n++;
          out[k] = n;
        }
        return out;
      });
      for (const [k, n] of Object.entries(counts)) expect(n, `${k} pixels`).toBeGreaterThan(20);
      const titles = await page.locator('#overview .event-marker').evaluateAll((els) => els.map((e) => (e as unknown as { title: string }).title));
      expect(titles).toEqual([
        'deploy shop 1.4.2\ngit 3f2a1c9\ntags: deploy shop',
        'shop:web FATAL\ngave up starting after 3 failed attempts\ntags: supervisor fatal',
      ]);
      // Hovering a marker is what shows the text: it is a hit target over the plot.
      await page.locator('#overview .event-marker').first().hover();
      expect(errors).toEqual([]);
      // The shortest window for the picture: the data of this test spans seconds.
      await page.selectOption('#window', '60');
      await until((d) => d.eventMarkers === 2, 'markers after the window change');
      await page.waitForTimeout(2000);
      await page.locator('#overview').screenshot({ path: `${ARTIFACTS}live-overview.png` });
    } finally {
      await context.close();
    }
  });
});
