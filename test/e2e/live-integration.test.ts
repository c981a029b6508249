/**
 * Live data produced by real code: the access_log integration tailing a growing temp file into
 * the hub (in process), and `telltale run` with the live page and the host integration (the built
 * CLI). Both are drawn by the page in real Chromium.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accessLog } from '../../integrations/access_log/index.js';
import { requireBinary } from '../helpers/binaries.js';
import { runCli } from '../helpers/cli.js';
import { validate } from '../../shared/core/config/schema.js';
import { createEmitter } from '../../shared/emitter/emitter.js';
import type { IntegrationContext } from '../../shared/core/integration.js';
import { createLogger } from '../../shared/core/log/logger.js';
import { createSelfMetrics } from '../../shared/core/runtime/self-metrics.js';
import { createStateFiles } from '../../shared/core/runtime/state-files.js';
import type { LiveCatalogueEntry } from '../../shared/live/catalogue.js';
import { startHub } from '../../shared/live/test/harness.js';

const CHROMIUM = requireBinary('chromium', 'apt-get install chromium (Debian) — the live page tests drive it through playwright-core');
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

interface Diag {
  state: string;
  frames: number;
  batches: number;
  charts: number;
  series: number;
}

async function waitDiag(page: Page, pred: (d: Diag) => boolean, what: string, timeoutMs = 30_000): Promise<Diag> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await page.evaluate(() => (globalThis as unknown as { __live: Diag }).__live);
    if (pred(d)) return d;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(d)}`);
    await page.waitForTimeout(50);
  }
}

/** Chart title → canvas pixels in the first series colour (#3b7dd8), under one integration heading. */
function painted(page: Page, heading: string): Promise<Record<string, number>> {
  return page.evaluate((heading) => {
    const doc = (globalThis as any).document;
    const out: Record<string, number> = {};
    for (const section of Array.from(doc.querySelectorAll('#groups > section')) as any[]) {
      if (section.querySelector('h2').textContent !== heading) continue;
      for (const box of Array.from(section.querySelectorAll('.chart')) as any[]) {
        const canvas = box.querySelector('canvas');
        let n = 0;
        if (canvas) {
          const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 128 && Math.abs(data[i] - 59) < 30 && Math.abs(data[i + 1] - 125) < 30 && Math.abs(data[i + 2] - 216) < 30) n++;
          }
        }
        out[box.querySelector('.title').textContent] = n;
      }
    }
    return out;
  }, heading);
}

describe.skipIf(!CHROMIUM)('live page fed by real integrations', () => {
  let browser: Browser;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ARGS, timeout: 30_000 });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function page(url: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 2400 } });
    cleanups.push(() => context.close());
    const p = await context.newPage();
    await p.goto(url);
    return p;
  }

  it('draws access_log counters from a growing log file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telltale-live-al-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const log = join(dir, 'access.log');
    writeFileSync(log, '');
    // The catalogue exactly as the runtime builds it: root prefix + instance prefix + MetricDoc name.
    const catalogue: LiveCatalogueEntry[] = accessLog.metrics.map((m) => ({
      pattern: `tt.${m.name}`,
      type: m.type,
      unit: m.unit,
      description: m.description,
      integration: 'web',
    }));
    // As the runtime wires it: the hub is a sink of the root emitter, then attached to it.
    const h = await startHub({ flush: '100ms' }, { catalogue });
    cleanups.push(() => h.stop());
    const root = createEmitter({ prefix: 'tt', sinks: [h.hub.sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
    h.hub.attach(root);
    cleanups.push(() => root.close({ timeoutMs: 1000 }));
    const abort = new AbortController();
    const ctx: IntegrationContext = {
      name: 'web',
      emitter: root.child({ prefix: '' }),
      log: createLogger({ level: 'warn' }).child('web'),
      clock: { now: Date.now },
      signal: abort.signal,
      self: createSelfMetrics(root, 'access_log', 'web'),
      stateDir: dir,
      state: createStateFiles(dir, { type: 'access_log', instance: 'web' }),
      intervalMs: 1000,
      env: {},
      stdio: { stdin: new PassThrough(), stdout: new PassThrough() },
    };
    const v = validate(accessLog.schema, { path: log, name: 'shop', start_at: 'beginning', poll_interval: '50ms', flush_interval: '100ms' });
    if ('issues' in v) throw new Error(JSON.stringify(v.issues));
    const integ = accessLog.create(v.value, ctx);
    await integ.start!();
    cleanups.push(async () => {
      abort.abort();
      await integ.stop();
    });

    let n = 0;
    const writer = setInterval(() => {
      const lines: string[] = [];
      for (let i = 0; i < 5; i++, n++) {
        const status = n % 7 === 0 ? 404 : 200;
        const method = n % 3 === 0 ? 'POST' : 'GET';
        lines.push(`10.0.0.${n % 250} - - [22/Nov/2026:22:00:00 +0000] "${method} /item/${n} HTTP/1.1" ${status} ${500 + n} "-" "curl/8"`);
      }
      appendFileSync(log, lines.join('\n') + '\n');
    }, 50);
    cleanups.push(() => clearInterval(writer));

    const p = await page(h.url);
    await waitDiag(p, (d) => d.state === 'live' && d.batches > 20 && d.charts >= 4, 'access_log charts');
    await p.waitForFunction(() => (globalThis as any).document.querySelectorAll('section:not(.hidden) h2').length >= 1);
    const px = await painted(p, 'web');
    expect(Object.keys(px)).toEqual(expect.arrayContaining(['<src>.requests', '<src>.status.<N>xx', '<src>.method.<METHOD>', '<src>.bytes']));
    for (const t of ['<src>.requests', '<src>.status.<N>xx', '<src>.method.<METHOD>', '<src>.bytes']) expect(px[t], t).toBeGreaterThan(30);
    // Integrations first, then telltale's own groups.
    expect(await p.locator('h2').allTextContents()).toEqual(['web', 'telltale', 'live']);
    // The core's self-metrics went to their own heading, not into the mod_statsd catch-all pattern.
    expect(Object.keys(await painted(p, 'telltale'))).toEqual(expect.arrayContaining(['tt.telltale.access_log.web.*']));
    expect(Object.keys(await painted(p, 'live'))).toEqual(expect.arrayContaining(['clients', 'sent_bytes']));
    const legend = await p.locator('.chart', { hasText: '<src>.method.<METHOD>' }).locator('.u-legend').textContent();
    expect(legend).toMatch(/shop GET.*shop POST|shop POST.*shop GET/);
    await p.screenshot({ path: `${ARTIFACTS}live-page-access-log.png` });
  });

  it('`telltale run` serves the page and prints its URL; access_log on a growing file and host are drawn live', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telltale-live-cli-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const log = join(dir, 'shop.log');
    writeFileSync(log, '');
    const config = join(dir, 'integrations.yaml');
    writeFileSync(
      config,
      [
        `state_dir: ${join(dir, 'state')}`,
        'emitter:',
        '  prefix: tt',
        '  flush_interval: 1s',
        '  sinks:',
        '    - type: statsd',
        '      address: udp://127.0.0.1:9',
        'live:',
        '  enabled: true',
        '  listen: 127.0.0.1:0',
        '  flush: 250ms',
        'integrations:',
        '  host:',
        '    interval: 250ms',
        '  web:',
        '    type: access_log',
        `    path: ${log}`,
        '    start_at: beginning',
        '    poll_interval: 50ms',
        '    flush_interval: 250ms',
        '',
      ].join('\n'),
    );
    const run = runCli(['run', '--config', config]);
    cleanups.push(async () => {
      if (run.child.exitCode === null) run.child.kill('SIGTERM');
      await run.exited;
    });
    await run.waitForStderr(/live page: http:\/\/127\.0\.0\.1:\d+\//, 20_000);
    const url = /live page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(run.stderr())![1]!;
    let n = 0;
    const writer = setInterval(() => {
      const lines: string[] = [];
      for (let i = 0; i < 5; i++, n++) lines.push(`10.0.0.${n % 250} - - [22/Nov/2026:22:00:00 +0000] "GET /p/${n} HTTP/1.1" ${n % 5 ? 200 : 503} 512 "-" "curl/8"`);
      appendFileSync(log, lines.join('\n') + '\n');
    }, 50);
    cleanups.push(() => clearInterval(writer));
    const p = await page(url);
    await waitDiag(p, (d) => d.state === 'live' && d.batches > 12 && d.charts >= 8, 'host and access_log charts');
    const host = await painted(p, 'host');
    expect(Object.values(host).filter((px) => px > 30).length, JSON.stringify(host)).toBeGreaterThanOrEqual(3);
    // host's charts fill more than the viewport and the page draws only charts in view: scroll.
    await p.locator('section', { has: p.locator('h2', { hasText: /^web$/ }) }).scrollIntoViewIfNeeded();
    let web: Record<string, number> = {};
    for (let i = 0; i < 100 && !((web['<src>.requests'] ?? 0) > 30 && (web['<src>.status.<code>'] ?? 0) > 30); i++) {
      await p.waitForTimeout(100);
      web = await painted(p, 'web');
    }
    for (const t of ['<src>.requests', '<src>.status.<code>']) expect(web[t], `${t}: ${JSON.stringify(web)}`).toBeGreaterThan(30);
    await p.screenshot({ path: `${ARTIFACTS}live-page-cli.png` });
  });
});
