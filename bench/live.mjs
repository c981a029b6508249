// Live page cost. Server: CPU and bytes/s of the hub with 500 series at 1 Hz and 0, 1 and 5
// pages (measured 20× accelerated, reported per second) (clients run in a child process so only the hub is measured), next to the emitter feed
// alone; the size and build time of a full-history hello. Page: main-thread time per frame in
// Debian Chromium for 50 charts × 600 and × 3,600 points, all on screen and in a normal viewport.
// Usage: npm run build && node bench/live.mjs   (needs /usr/bin/chromium for the page part)
import { fork, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

// ---- child mode: N page-like clients that read everything and count bytes ------------------
if (process.argv[2] === '--clients') {
  const [port, n] = [Number(process.argv[3]), Number(process.argv[4])];
  let bytes = 0;
  let messages = 0;
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live`, ['telltale-live.v1']);
    ws.on('message', (d) => {
      bytes += d.length;
      messages++;
      JSON.parse(String(d)); // a page parses every message
    });
    sockets.push(new Promise((resolve) => ws.once('open', resolve)));
  }
  await Promise.all(sockets);
  process.send({ type: 'ready' });
  process.on('message', (m) => {
    if (m === 'report') process.send({ type: 'report', bytes, messages });
    if (m === 'exit') process.exit(0);
  });
} else {
  await main();
}

async function main() {
  const { createLiveHub } = await import('../dist/shared/live/hub.js');
  const { createStore } = await import('../dist/shared/live/store.js');
  const { createEmitter } = await import('../dist/shared/emitter/emitter.js');
  const { createLogger } = await import('../dist/shared/core/log/logger.js');
  const { liveSchema } = await import('../dist/shared/core/config/live-config.js');
  const { validate } = await import('../dist/shared/core/config/schema.js');

  const SECONDS = Number(process.env.LIVE_BENCH_SECONDS ?? 4);
  const catalogue = [
    { pattern: 'tt.web.requests.<status>', type: 'counter', unit: 'count', description: 'requests', integration: 'web' },
    { pattern: 'tt.host.disk.<mount>.percent', type: 'gauge', unit: 'percent', description: 'disk', integration: 'host' },
    { pattern: 'tt.web.latency.<route>', type: 'timer', unit: 'ms', description: 'latency', integration: 'web' },
    { pattern: 'tt.billing.<service>.usd', type: 'datapoint', unit: 'USD', description: 'billing', integration: 'billing' },
  ];

  /** 500 series: 300 counters, 150 gauges, 15 timers (×3 series: p50/p95/p99), 5 datapoints. */
  function feed(emitter) {
    let tick = 0;
    return () => {
      tick++;
      for (let i = 0; i < 300; i++) for (let k = 0; k < 10; k++) emitter.counter(`tt.web.requests.s${i}`);
      for (let i = 0; i < 150; i++) emitter.gauge(`tt.host.disk.m${i}.percent`, 40 + ((i + tick) % 50) + 0.123);
      for (let i = 0; i < 15; i++) for (let k = 0; k < 20; k++) emitter.timing(`tt.web.latency.r${i}`, 5 + ((k * 7 + tick) % 90));
      for (let i = 0; i < 5; i++) emitter.datapoint(`tt.billing.svc${i}.usd`, 100 + tick + i / 10, Math.floor(Date.now() / 1000) - 60);
    };
  }

  // 1 Hz is ~1 % of a core: too little to measure against timer and neighbour noise. So the
  // same 500-series load runs 20× faster (50 ms flush, fed every 50 ms) and is reported per
  // flush, i.e. per second of real 1 Hz operation.
  const FLUSH_MS = 50;
  async function serverCase(label, clients, withHub) {
    const r = validate(liveSchema, { enabled: true, listen: '127.0.0.1:0', flush: `${FLUSH_MS}ms`, history: '30s' });
    const hub = withHub ? createLiveHub(r.value, { log: createLogger({ level: 'silent' }), catalogue }) : undefined;
    const port = hub ? Number(new URL((await hub.start()).url).port) : 0;
    const emitter = createEmitter({ sinks: hub ? [hub.sink] : [], selfMetrics: false, flushIntervalMs: 3_600_000 });
    const tickFeed = feed(emitter);
    tickFeed();
    let child;
    if (clients > 0) {
      child = fork(here('./live.mjs'), ['--clients', String(port), String(clients)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await new Promise((resolve) => child.once('message', resolve));
    }
    const ask = () => new Promise((resolve) => {
      child.once('message', resolve);
      child.send('report');
    });
    const before = { cpu: process.cpuUsage(), t: performance.now(), sent: hub?.stats().sentBytes ?? 0, msgs: hub?.stats().sentMessages ?? 0, recv: child ? (await ask()).bytes : 0 };
    const ticks = Math.round((SECONDS * 1000) / FLUSH_MS);
    await new Promise((resolve) => {
      let n = 0;
      const t = setInterval(() => {
        tickFeed();
        if (++n >= ticks) {
          clearInterval(t);
          resolve();
        }
      }, FLUSH_MS);
    });
    const cpu = process.cpuUsage(before.cpu);
    const s = hub?.stats();
    const recv = child ? (await ask()).bytes - before.recv : 0;
    child?.send('exit');
    await emitter.close({ timeoutMs: 1000 });
    await hub?.stop();
    return {
      label,
      cpuMsPerSec: (cpu.user + cpu.system) / 1000 / ticks,
      sentPerSec: ((s?.sentBytes ?? 0) - before.sent) / ticks,
      recvPerSec: recv / ticks,
      series: s?.series ?? 0,
      skipped: s?.skippedBatches ?? 0,
    };
  }

  const rows = [];
  await serverCase('warm-up (discarded)', 1, true);
  rows.push(await serverCase('emitter feed only (no hub)', 0, false));
  rows.push(await serverCase('hub, 0 pages', 0, true));
  rows.push(await serverCase('hub, 1 page', 1, true));
  rows.push(await serverCase('hub, 5 pages', 5, true));

  // Full-history hello: 500 series × 600 buckets (10 min at 1 s), built by the real store.
  const store = createStore({ flushMs: 1000, historyMs: 600_000, maxSeries: 500, catalogue });
  const fakeEmitter = {
    counter: (n, v) => store.counter(n, v ?? 1, 1),
    gauge: (n, v) => store.gauge(n, v),
    timing: (n, v) => store.timing(n, v),
    datapoint: (n, v, ts) => store.datapoint(n, v, ts),
  };
  const tick = feed(fakeEmitter);
  const t0 = Date.now() - 600_000;
  for (let i = 0; i < 600; i++) {
    tick();
    store.flush(t0 + i * 1000);
  }
  // One steady-state 1 Hz batch, as the hub builds it (same store, same message shape).
  tick();
  const r1 = store.flush(t0 + 600_000);
  const batchBytes = Buffer.byteLength(JSON.stringify({ type: 'batch', t: r1.t, v: r1.values, p: r1.points, refused: r1.refused }));
  const h0 = performance.now();
  const helloText = JSON.stringify({ type: 'hello', ...store.snapshot() });
  const helloMs = performance.now() - h0;

  const pad = (s, n) => String(s).padEnd(n);
  const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
  const base = rows[0].cpuMsPerSec;
  console.log(`\nlive hub: 500 series, 5 pages; load run 20× accelerated (${FLUSH_MS} ms flush) and reported per 1 Hz second\n`);
  console.log(`${pad('case', 30)}${pad('CPU ms per second', 19)}${pad('% of a core', 13)}${pad('vs feed only', 14)}${pad('sent/flush', 13)}${pad('received/flush', 20)}skipped`);
  for (const r of rows) {
    console.log(
      `${pad(r.label, 30)}${pad(r.cpuMsPerSec.toFixed(2), 19)}${pad((r.cpuMsPerSec / 10).toFixed(2) + ' %', 13)}${pad((r.cpuMsPerSec / base).toFixed(2) + '×', 14)}` +
        `${pad(kb(r.sentPerSec), 13)}${pad(kb(r.recvPerSec), 20)}${r.skipped}`,
    );
  }
  console.log(
    `\nat 1 Hz one batch of this load is ${kb(batchBytes)} (+ 4 B ws framing): ${kb(batchBytes + 4)}/s per page, ` +
      `${kb(5 * (batchBytes + 4))}/s for 5 pages (the measured columns also carry each page's hello and the\n` +
      'one-off series announcements, amortised over the run).',
  );
  console.log(`\nhello with full history (500 series × 600 buckets): ${kb(Buffer.byteLength(helloText))}, snapshot + stringify ${helloMs.toFixed(1)} ms`);

  // ---- page ------------------------------------------------------------------------------
  let chromiumBin;
  try {
    chromiumBin = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    chromiumBin = '';
  }
  if (!chromiumBin) {
    console.log('\npage: chromium not found (apt-get install chromium); skipped');
  } else {
    await pageBench(chromiumBin, createLiveHub, validate, liveSchema, createLogger);
  }
  console.log(`\npeak RSS (this process): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

async function pageBench(chromiumBin, createLiveHub, validate, liveSchema, createLogger) {
  const { chromium } = await import('playwright-core');
  // The real hub serves the real page; the socket is answered inside the page by
  // routeWebSocket, so history of any length can be handed over at once.
  const hub = createLiveHub(validate(liveSchema, { enabled: true, listen: '127.0.0.1:0' }).value, {
    log: createLogger({ level: 'silent' }),
    catalogue: [],
  });
  const { url } = await hub.start();
  const browser = await chromium.launch({
    executablePath: chromiumBin,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const CHARTS = 50;
  const BATCHES = 40;

  async function run(points, height) {
    const context = await browser.newContext({ viewport: { width: 1280, height } });
    const page = await context.newPage();
    const now = Date.now();
    const flushMs = 1000;
    const times = Array.from({ length: points }, (_, i) => now - (points - i) * flushMs);
    const families = [];
    const series = [];
    const values = {};
    for (let c = 0; c < CHARTS; c++) {
      families.push({ key: `f${c}|gauge`, integration: `group${Math.floor(c / 10)}`, title: `chart ${c}`, kind: 'gauge', unit: 'percent', description: '' });
      series.push({ id: c, name: `tt.c${c}`, family: `f${c}|gauge`, label: `s${c}` });
      values[c] = times.map((_, i) => 50 + 40 * Math.sin((i + c * 7) / 30));
    }
    const hello = { type: 'hello', v: 1, serverTime: now, flushMs, historyMs: points * flushMs, maxSeries: 500, families, series, times, values, points: {}, refused: 0 };
    let route;
    await page.routeWebSocket(/\/live$/, (ws) => {
      route = ws;
      ws.send(JSON.stringify(hello));
    });
    await page.goto(url);
    await page.waitForFunction((n) => globalThis.__live.state === 'live' && globalThis.__live.frames > 0 && globalThis.__live.charts === n, CHARTS);
    // Longest window, so every point is in range and drawn.
    await page.selectOption('#window', String(points));
    await page.waitForTimeout(300);
    const start = await page.evaluate(() => ({ frames: globalThis.__live.frames, drawn: globalThis.__live.chartsDrawn }));
    for (let b = 0; b < BATCHES; b++) {
      const t = now + b * flushMs;
      const v = [];
      for (let c = 0; c < CHARTS; c++) v.push(c, 50 + 40 * Math.sin((points + b + c * 7) / 30));
      route.send(JSON.stringify({ type: 'batch', t, v, p: [], refused: 0 }));
      // One batch per ~2 frames: every batch gets its own redraw.
      await page.waitForTimeout(40);
    }
    await page.waitForTimeout(200);
    const end = await page.evaluate(() => ({
      frames: globalThis.__live.frames,
      drawn: globalThis.__live.chartsDrawn,
      ms: globalThis.__live.drawMs.slice(),
      frameMs: globalThis.__live.frameMs.slice(),
    }));
    await context.close();
    const frames = end.frames - start.frames;
    const sorted = (a) => a.slice(-frames).sort((x, y) => x - y);
    const q = (a, p) => a[Math.min(a.length - 1, Math.floor(p * a.length))] ?? NaN;
    const ms = sorted(end.ms);
    const fr = sorted(end.frameMs);
    return {
      points, height, frames, batches: BATCHES,
      chartsPerFrame: (end.drawn - start.drawn) / Math.max(1, frames),
      p50: q(ms, 0.5), p95: q(ms, 0.95), max: ms.at(-1) ?? NaN, frameP50: q(fr, 0.5), frameP95: q(fr, 0.95),
    };
  }

  // 50 charts in two columns are ~6,700 px tall: a 7,000 px viewport puts them all on screen.
  const cases = [
    ['50 charts × 600 pts, all on screen', 600, 7000],
    ['50 charts × 3,600 pts, all on screen', 3600, 7000],
    ['50 charts × 3,600 pts, 1280×900 viewport', 3600, 900],
  ];
  const rows = [];
  for (const [label, points, height] of cases) rows.push({ label, ...(await run(points, height)) });
  await browser.close();
  await hub.stop();

  const pad = (s, n) => String(s).padEnd(n);
  const base = rows[0].p50;
  console.log(`\nlive page: Debian Chromium headless --disable-gpu, ${BATCHES} batches each redrawing every dirty visible chart (main-thread JS per frame)\n`);
  console.log(`${pad('case', 44)}${pad('frames/batches', 16)}${pad('charts/frame', 14)}${pad('JS p50 ms', 11)}${pad('JS p95 ms', 11)}${pad('JS max ms', 11)}${pad('vs 600 pts', 12)}${pad('to next frame p50', 19)}p95`);
  for (const r of rows) {
    console.log(
      `${pad(r.label, 44)}${pad(`${r.frames}/${r.batches}`, 16)}${pad(r.chartsPerFrame.toFixed(1), 14)}${pad(r.p50.toFixed(1), 11)}${pad(r.p95.toFixed(1), 11)}${pad(r.max.toFixed(1), 11)}` +
        `${pad((r.p50 / base).toFixed(2) + '×', 12)}${pad(r.frameP50.toFixed(1), 19)}${r.frameP95.toFixed(1)}`,
    );
  }
  console.log('(frames < batches: batches that arrive before the next frame are drawn together, by design)');
}
