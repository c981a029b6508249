#!/usr/bin/env node
/**
 * Library benchmark: the cost of the HTTP instrumentation per request. A trivial handler
 * (`res.end('ok')`) is served
 *   - by plain node:http, bare and with instrumentServer(),
 *   - by Express, bare, with instrumentExpress() (wraps app.handle) and with expressMetrics()
 *     (a middleware),
 * the instrumented servers sending through createApp's emitter (the real emitter and statsd sink,
 * as a program gets with --stats) to a UDP port on loopback, held by a child process that only
 * counts what arrives.
 *
 * How it stays fair on a shared, noisy machine: each bare/instrumented pair is two server
 * processes, and one load-generator process (keep-alive connections, fixed concurrency) loads
 * them in alternating short windows in ABBA order, so whatever else the machine is doing hits
 * both sides alike, window by window. Each ABBA block of four windows gives one ratio
 * (instrumented req/s over bare req/s; a load change that is linear across the block cancels);
 * the table shows the median block ratio over all rounds, a distribution-free 95% confidence
 * interval of that median, and the spread (middle half). Rounds repeat that with fresh processes. Two more pairs tell the cost of telltale
 * from noise and from Express itself: an A/A control (bare against bare: the spread that noise
 * alone produces on this machine right now) and an empty Express middleware (what any
 * middleware costs before it does anything), plus a yardstick: Express with a known 5 us of CPU
 * added per request, which shows what this setup makes of a known cost. Per server also the CPU time per request
 * (process.cpuUsage; a server is idle outside its windows). Then the recorder alone, in process.
 *
 * Usage: npm run build && node bench/library.mjs [--rounds 4] [--seconds 15] [--window 200] [--concurrency 16] [--warm 10000] [--only node|express] [--controls 0] [--pin]
 *
 * Why 4 rounds of 15 s per pair (~10 minutes in all): on the 1 Dec VM one ABBA block's ratio
 * scatters by ~13% (A/A blocks from 0.62 to 1.50), so a 95% interval of +-2% needs some 75
 * blocks per pair; the earlier default (3 x 4 s, 15 blocks) gave intervals 15-20% wide, which
 * can neither show nor rule out a 5% goal. The "goal" column says which it is: met when the
 * interval's low end is at or above 0.95x, not met when its high end is below, else not shown.
 *
 * --pin: every server on CPU 0 and the load generator on CPU 1 (taskset; the statsd stand-in
 * floats). Both servers of a pair then run on the same core and the client never competes with
 * them, which on the 2-core development machine narrowed the A/A control from 0.95-1.08 to
 * 0.97-1.01. It also measures a different machine: one with a core per role.
 *
 * --callgrind [--seeds 3] [--requests 4000]: instead, count the instructions each server
 * variant executes per request under valgrind's callgrind, with the same keep-alive concurrency
 * (valgrind slows the server ~50x, so every event-loop turn finds all connections ready: the
 * batching no longer depends on timing), V8 made deterministic (--predictable, fixed hash and
 * random seeds, one run per seed because the seed alone moves a count by ~2%), no flush timer.
 * Repeatable to well under 1% per seed on a busy machine; blind to the kernel (the statsd
 * datagrams, the response writes), caches and GC threads, all of which the req/s rounds see.
 * (TELLTALE_LIB=/path/to/index.js benchmarks another build of the library.)
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const YARDSTICK = 'express + 5 us of CPU (yardstick)';
/** The variants that are telltale's instrumentation (the others are controls). */
const TELLTALE_VARIANTS = new Set(['node:http + instrumentServer', 'express + instrumentExpress', 'express + expressMetrics']);
const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    variant: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '15' },
    window: { type: 'string', default: '200' },
    windows: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    // Requests each server serves before the measured windows (--callgrind warms its own way).
    warm: { type: 'string', default: '10000' },
    only: { type: 'string' },
    // 0 leaves out the A/A control and empty-middleware pairs (faster, less to read).
    controls: { type: 'string', default: '1' },
    port: { type: 'string' },
    callgrind: { type: 'boolean', default: false },
    seeds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '4000' },
    // Server only: the app's flush interval (callgrind mode turns the timer off).
    flush: { type: 'string' },
    pin: { type: 'boolean', default: false },
  },
});

const roles = { main, client, server, sink };
await roles[values.role]();

function once(child, type) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (m.type !== type) return;
      child.off('message', onMsg);
      resolve(m);
    };
    child.on('message', onMsg);
    child.once('exit', (code) => code && reject(new Error(`${values.role}: child exited ${code} waiting for ${type}`)));
  });
}

function spawnRole(role, args = []) {
  if (values.pin && (role === 'server' || role === 'client')) {
    const cpu = role === 'server' ? '0' : '1';
    return spawn('taskset', ['-c', cpu, process.execPath, SELF, '--role', role, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  return fork(SELF, ['--role', role, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

// ---------------------------------------------------------------------- load generator (child)
async function client() {
  // Two targets (bare, instrumented), loaded in alternating short windows in ABBA order: the
  // machine's other work then hits both alike, window by window.
  const ports = values.port.split(',').map(Number);
  const concurrency = Number(values.concurrency);
  const windowMs = Number(values.window);
  const windows = Number(values.windows);
  const agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: concurrency }));
  const done = [0, 0];
  const timeNs = [0, 0];
  // Per measured window: which target, requests completed, duration. Main forms ABBA blocks.
  const perWindow = [];
  let errors = 0;
  const one = (t) =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: ports[t], path: '/users/42', agent: agents[t] }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) done[t]++;
          else errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const window = async (t, ms) => {
    const d0 = done[t];
    const t0 = process.hrtime.bigint();
    const end = Date.now() + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) await one(t);
      }),
    );
    const ns = Number(process.hrtime.bigint() - t0);
    timeNs[t] += ns;
    perWindow.push({ t, n: done[t] - d0, ns });
  };
  // Warm-up (JIT, connections, heap sizing) on both, then reset and tell main to start the
  // servers' clocks. Counted in requests, not time: V8 tiers code up by how often it runs, so a
  // count warms a slow machine as much as a fast one. 300 ms each (the old warm-up) was ~600
  // requests on the 1 Dec VM, where a fresh Express server still ran at a third of its warm
  // rate, and the bench then measured how much code each variant had left to compile.
  const warmRequests = Number(values.warm);
  const warmUntil = Date.now() + 60_000;
  while ((done[0] < warmRequests || done[1] < warmRequests) && Date.now() < warmUntil) {
    if (done[0] < warmRequests) await window(0, 300);
    if (done[1] < warmRequests) await window(1, 300);
  }
  if (done[0] < warmRequests || done[1] < warmRequests) throw new Error(`warm-up: ${done.join(' / ')} of ${warmRequests} requests in 60 s`);
  done[0] = done[1] = 0;
  timeNs[0] = timeNs[1] = 0;
  perWindow.length = 0;
  process.send({ type: 'warm' });
  await new Promise((r) => process.once('message', r));
  for (let i = 0; i < windows; i++) await window([0, 1, 1, 0][i % 4], windowMs);
  for (const a of agents) a.destroy();
  process.send({ type: 'result', rps: done.map((d, t) => d / (timeNs[t] / 1e9)), perWindow, done, errors, rssKb: process.resourceUsage().maxRSS });
  process.disconnect();
}

// ------------------------------------------------------------------------------- server (child)
async function server() {
  const libPath = process.env.TELLTALE_LIB ?? fileURLToPath(new URL('../dist/shared/library/index.js', import.meta.url));
  const lib = await import(pathToFileURL(libPath).href);
  const variant = values.variant;
  const flush = values.flush === undefined ? {} : { flushIntervalMs: Number(values.flush) };
  const stats = () => lib.createApp({ name: 'web', argv: ['--stats', '--stats-port', String(values.port)], env: {}, handleExit: false, ...flush }).stats;
  const handler = (_req, res) => res.end('ok');
  let srv;
  if (variant.startsWith('node:http bare')) srv = http.createServer(handler);
  else if (variant === 'node:http + instrumentServer') {
    srv = http.createServer((req, res) => {
      web.setRoute(req, '/users/:id');
      res.end('ok');
    });
    const web = lib.instrumentServer(srv, { emitter: stats() });
  } else {
    const express = (await import('express')).default;
    const app = express();
    app.set('etag', false);
    app.set('x-powered-by', false);
    if (variant === 'express + expressMetrics') app.use(lib.expressMetrics({ emitter: stats() }));
    if (variant === 'express + instrumentExpress') lib.instrumentExpress(app, { emitter: stats() });
    // The floor for any middleware: Express's router runs one more layer per request.
    if (variant === 'express + empty middleware') app.use((_req, _res, next) => next());
    // A known cost, added where instrumentExpress adds its own (around app.handle): 5 us of CPU
    // per request and nothing else. What this setup reports for it is the yardstick for the
    // other ratios: how far a few microseconds per request can be told apart on this machine.
    if (variant === YARDSTICK) {
      const handle = app.handle;
      app.handle = function (req, res, next) {
        const end = performance.now() + 0.005;
        while (performance.now() < end);
        return handle.call(this, req, res, next);
      };
    }
    app.get('/users/:id', handler);
    srv = http.createServer(app);
  }
  let requests = 0;
  srv.on('request', () => requests++);
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  let cpu0;
  let req0 = 0;
  process.on('message', (m) => {
    if (m === 'go') {
      cpu0 = process.cpuUsage();
      req0 = requests;
    } else if (m === 'report') {
      const cpu = process.cpuUsage(cpu0);
      process.send({ type: 'report', cpuUs: cpu.user + cpu.system, requests: requests - req0, rssKb: process.resourceUsage().maxRSS });
      srv.closeAllConnections();
      srv.close();
      process.disconnect();
    }
  });
  process.send({ type: 'listening', port: srv.address().port });
}

// --------------------------------------------------------------------- statsd stand-in (child)
async function sink() {
  const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  let datagrams = 0;
  let lines = 0;
  udp.on('message', (m) => {
    datagrams++;
    for (let i = 0; i < m.length; i++) if (m[i] === 10) lines++;
    lines++;
  });
  await new Promise((r) => udp.bind(0, '127.0.0.1', r));
  process.on('message', () => {
    process.send({ type: 'counts', datagrams, lines });
    udp.close();
    process.disconnect();
  });
  process.send({ type: 'port', port: udp.address().port });
}

// ------------------------------------------------------------------------------------- main
async function main() {
  const libPath = process.env.TELLTALE_LIB ?? fileURLToPath(new URL('../dist/shared/library/index.js', import.meta.url));
  const lib = await import(pathToFileURL(libPath).href).catch(() => ({}));
  if (!lib.createApp || !lib.instrumentServer) throw new Error(`${libPath} lacks createApp/instrumentServer: run npm run build`);
  const hasExpress = await import('express').then(
    () => true,
    () => false,
  );
  const controls = values.controls !== '0';
  const pairs = [['node:http bare', 'node:http + instrumentServer']];
  if (controls) pairs.push(['node:http bare', 'node:http bare (A/A control)']);
  if (hasExpress) {
    pairs.push(['express bare', 'express + instrumentExpress'], ['express bare', 'express + expressMetrics']);
    if (controls) pairs.push(['express bare', 'express bare (A/A control)'], ['express bare', 'express + empty middleware'], ['express bare', YARDSTICK]);
  }
  if (values.only) pairs.splice(0, pairs.length, ...pairs.filter((p) => p[0].startsWith(values.only)));

  const sinkChild = spawnRole('sink');
  const statsPort = (await once(sinkChild, 'port')).port;
  if (values.callgrind) {
    try {
      await callgrindMode([...new Set(pairs.flat())].filter((v) => !v.includes('A/A')), statsPort);
    } finally {
      sinkChild.send('counts');
    }
    return;
  }
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const rps = new Map();
  const cpu = new Map();
  // Instrumented/bare ratio of every ABBA block, per pair.
  const blocks = new Map();
  // And of every round as a whole. Each round starts fresh processes, and on the development VM
  // the same variant in two fresh processes differs by up to 10-15% (JIT and memory layout):
  // blocks within a round share that luck, rounds do not.
  const roundRatios = new Map();
  let peakServerRss = 0;
  let peakClientRss = 0;
  const push = (m, k, v) => (m.get(k) ?? m.set(k, []).get(k)).push(v);

  for (let round = 0; round < rounds; round++) {
    for (const pair of pairs) {
      const servers = pair.map((variant) => spawnRole('server', ['--variant', variant, '--port', String(statsPort)]));
      const ports = await Promise.all(servers.map((s) => once(s, 'listening').then((m) => m.port)));
      const clientChild = spawnRole('client', [
        '--port',
        ports.join(','),
        '--concurrency',
        values.concurrency,
        '--window',
        values.window,
        '--warm',
        values.warm,
        '--windows',
        String(Math.max(4, Math.round((seconds * 1000) / Number(values.window)))),
      ]);
      const result = once(clientChild, 'result');
      await once(clientChild, 'warm');
      for (const sv of servers) sv.send('go');
      clientChild.send('go');
      const res = await result;
      const reports = servers.map((sv) => once(sv, 'report'));
      for (const sv of servers) sv.send('report');
      const rep = await Promise.all(reports);
      await Promise.all([...servers, clientChild].map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
      if (res.errors > 0) throw new Error(`${pair.join(' / ')}: ${res.errors} failed requests`);
      for (let k = 0; k + 4 <= res.perWindow.length; k += 4) {
        const w = res.perWindow.slice(k, k + 4);
        const rate = (t) => w.filter((x) => x.t === t).reduce((a, x) => a + x.n, 0) / w.filter((x) => x.t === t).reduce((a, x) => a + x.ns, 0);
        push(blocks, pair.join(' / '), rate(1) / rate(0));
      }
      push(roundRatios, pair.join(' / '), res.rps[1] / res.rps[0]);
      pair.forEach((variant, i) => {
        const key = `${pair.join(' / ')}#${i}`;
        push(rps, key, res.rps[i]);
        push(cpu, key, rep[i].cpuUs / Math.max(1, rep[i].requests));
        peakServerRss = Math.max(peakServerRss, rep[i].rssKb);
      });
      peakClientRss = Math.max(peakClientRss, res.rssKb);
    }
  }

  // The recorder in isolation (what each instrumented request adds besides one 'close'
  // listener and two clock reads), through the real emitter and statsd sink, in loops of 1,000
  // that let the socket drain. Steadier than the HTTP rounds on a busy machine.
  const app = lib.createApp({ name: 'iso', argv: ['--stats', '--stats-port', String(statsPort)], env: {}, handleExit: false });
  const recorder = lib.createHttpMetrics({ emitter: app.stats });
  const isolated = [];
  for (let rep = 0; rep < 5; rep++) {
    let cpuUs = 0;
    const calls = 100_000;
    for (let b = 0; b < calls / 1000; b++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < 1000; i++) recorder.record('/users/:id', 'GET', 200, 0.25 + (i & 15) / 100);
      const c = process.cpuUsage(c0);
      cpuUs += c.user + c.system;
      await new Promise((r) => setImmediate(r));
    }
    isolated.push((cpuUs * 1000) / calls);
  }
  await app.close();
  const dropped = app.stats.stats().sinks.statsd?.dropped ?? {};

  sinkChild.send('counts');
  const { datagrams, lines } = await once(sinkChild, 'counts');

  const rows = [];
  for (const pair of pairs) {
    const name = pair.join(' / ');
    const ratios = blocks.get(name);
    pair.forEach((variant, i) => {
      const r = median(rps.get(`${name}#${i}`));
      const c = median(cpu.get(`${name}#${i}`));
      const cb = median(cpu.get(`${name}#0`));
      rows.push({
        variant,
        'req/s (median of rounds)': `${Math.round(r).toLocaleString('en-US')} (${rps.get(`${name}#${i}`).map((x) => Math.round(x)).join(' / ')})`,
        'vs bare: median block': i === 0 ? '' : `${ratios.length} blocks: ${median(ratios).toFixed(3)}x`,
        '95% CI of median': i === 0 ? '' : medianCi(ratios).map((x) => x.toFixed(3)).join('-'),
        'middle half': i === 0 ? '' : `${quantile(ratios, 0.25).toFixed(3)}-${quantile(ratios, 0.75).toFixed(3)}`,
        'vs bare: median round (range)': i === 0 ? '' : roundCell(roundRatios.get(name)),
        'server CPU us/req': c.toFixed(1),
        'CPU/req vs bare': i === 0 ? '-' : `${(((c - cb) / cb) * 100).toFixed(1)}% (${c - cb >= 0 ? '+' : ''}${(c - cb).toFixed(1)} us)`,
        'goal < 5%': i === 0 || !TELLTALE_VARIANTS.has(variant) ? '' : verdict(ratios),
      });
    });
  }
  const keys = Object.keys(rows[0]);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  const out = [];
  out.push('', `HTTP instrumentation overhead: trivial handler, ${values.concurrency} keep-alive connections, loopback;`);
  out.push(`bare and instrumented servers loaded in alternating ${values.window} ms windows (ABBA), ${seconds} s per pair x ${rounds} rounds`);
  out.push(`after ${Number(values.warm).toLocaleString('en-US')} warm-up requests per server;${values.pin ? ' servers pinned to CPU 0, load generator to CPU 1;' : ''}`);
  out.push('"vs bare" is the median over all ABBA blocks of instrumented/bare req/s, with a distribution-free 95% confidence');
  out.push('interval of that median (order statistics) and the middle half of the blocks (25th-75th percentile); "median round"');
  out.push('is the same ratio per round (fresh processes each round), the honest unit when processes differ in speed', '');
  out.push(line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(Object.values(r))), '');
  out.push(`recorder alone (held, handed over in batches through the real emitter and statsd sink): ${Math.round(median(isolated))} ns CPU per request (median of 5 x 100,000; dropped: ${JSON.stringify(dropped)})`);
  out.push(`load average during the run: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} cores`);
  out.push(`statsd side: ${lines.toLocaleString('en-US')} lines in ${datagrams.toLocaleString('en-US')} datagrams (${(lines / Math.max(1, datagrams)).toFixed(1)} lines/packet)`);
  out.push(`peak RSS: server ${(peakServerRss / 1024).toFixed(0)} MiB, load client ${(peakClientRss / 1024).toFixed(0)} MiB, bench main ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  out.push('goal: instrumented within 5% of bare (req/s): "met" when the 95% CI of the median block lies at or above 0.95x,');
  out.push('"not met" when it lies below. The load generators share the cores with the servers,');
  out.push('so a bare node:http server is the harshest peer: its whole request costs only tens of microseconds.');
  if (controls) {
    out.push('An A/A control far from 1.000x, or a wide middle half, means the machine was too noisy to tell a few percent apart.');
    if (hasExpress) out.push(`The yardstick adds a known 5 us of CPU per request around app.handle: compare telltale's ratios with what it shows.`);
  }
  out.push('');
  process.stdout.write(out.join('\n'));
}

/** The 5% goal against the 95% CI of the median block: shown met, shown not met, or neither. */
function verdict(ratios) {
  // Below ~20 blocks the order-statistics interval is little more than the sample's range.
  if (ratios.length < 20) return `too few blocks (${ratios.length})`;
  const [lo, hi] = medianCi(ratios);
  if (lo >= 0.95) return 'met';
  if (hi < 0.95) return 'not met';
  return 'not shown (CI spans 0.95)';
}

/** Median of the per-round ratios with their range; from 9 rounds on, a 95% CI of the median instead. */
function roundCell(xs) {
  const [lo, hi] = xs.length >= 9 ? medianCi(xs) : [Math.min(...xs), Math.max(...xs)];
  return `${median(xs).toFixed(3)}x (${xs.length >= 9 ? 'CI ' : ''}${lo.toFixed(3)}-${hi.toFixed(3)})`;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
}

/** 95% confidence interval of the median from order statistics (normal approximation of the binomial). */
function medianCi(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const lo = Math.max(0, Math.floor(n / 2 - 0.98 * Math.sqrt(n)) - 1);
  const hi = Math.min(n - 1, Math.ceil(n / 2 + 0.98 * Math.sqrt(n)) - 1);
  return [s[lo], s[hi]];
}

// ------------------------------------------------------------------------ callgrind (main)
async function callgrindMode(variants, statsPort) {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('--callgrind needs valgrind on PATH');
  }
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  const requests = Number(values.requests);
  const warm = 4000;
  const concurrency = Number(values.concurrency);
  const dir = mkdtempSync(join(tmpdir(), 'telltale-bench-cg-'));
  const running = new Set();
  const get = (port, agent) =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/users/42', agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        })
        .on('error', reject);
    });
  const one = async (variant, seed) => {
    const out = join(dir, `cg.${seeds.indexOf(seed)}.${variants.indexOf(variant)}`);
    // Instrumentation starts off (startup and warm-up run at valgrind's fast speed) and is
    // switched on for the measured requests only.
    const child = spawn(
      'valgrind',
      ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}`, process.execPath,
        '--predictable', `--hash-seed=${seed}`, `--random-seed=${seed}`, SELF, '--role', 'server', '--variant', variant, '--port', String(statsPort), '--flush', '3600000'],
      { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
    );
    running.add(child);
    child.once('exit', () => running.delete(child));
    let log = '';
    child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
    try {
      const { port } = await once(child, 'listening');
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      const load = async (n) => {
        let started = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (started++ < n) await get(port, agent);
          }),
        );
      };
      await load(warm);
      execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
      await load(requests);
      execFileSync('callgrind_control', ['-i', 'off', String(child.pid)], { stdio: 'ignore' });
      agent.destroy();
      const exited = new Promise((r) => child.once('exit', r));
      child.send('report');
      await once(child, 'report');
      await exited;
      const totals = readdirSync(dir)
        .filter((f) => f.startsWith(out.slice(dir.length + 1)))
        .map((f) => Number(/^totals: (\d+)/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? NaN))
        .reduce((a, b) => a + b, 0);
      if (!(totals > 0)) throw new Error(`no callgrind totals for ${variant}`);
      return totals / requests;
    } catch (e) {
      if (child.exitCode === null) child.kill('SIGKILL');
      throw new Error(`${variant} (seed ${seed}): ${e instanceof Error ? e.message : String(e)}\n${log}`);
    }
  };
  const jobs = seeds.flatMap((seed) => variants.map((variant) => ({ seed, variant })));
  const ir = new Map();
  let next = 0;
  let failed = false;
  // One valgrind per core: the counts do not depend on how busy the machine is.
  try {
    await Promise.all(
      Array.from({ length: Math.min(availableParallelism(), jobs.length) }, async () => {
        while (next < jobs.length && !failed) {
          const j = jobs[next++];
          try {
            ir.set(`${j.variant}#${j.seed}`, await one(j.variant, j.seed));
          } catch (e) {
            failed = true;
            throw e;
          }
          process.stderr.write(`callgrind: ${j.variant}, seed ${j.seed}: ${Math.round(ir.get(`${j.variant}#${j.seed}`))} instructions/request\n`);
        }
      }),
    );
  } finally {
    // A failed run must not leave the other valgrind behind.
    for (const c of running) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  const out = ['', `Instructions per request (callgrind; ${requests} requests after ${warm} of warm-up, ${concurrency} keep-alive connections; V8 seeds ${seeds.join(', ')}):`, ''];
  for (const variant of variants) {
    const base = variant.startsWith('node:http') ? 'node:http bare' : 'express bare';
    const per = seeds.map((sd) => ir.get(`${variant}#${sd}`));
    // Overhead per seed against the bare server of the same seed, then the median of those.
    const over = seeds.map((sd) => ir.get(`${variant}#${sd}`) / ir.get(`${base}#${sd}`) - 1);
    const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
    out.push(
      `${variant.padEnd(30)} ${Math.round(median(per)).toLocaleString('en-US').padStart(9)}  (${per.map((x) => Math.round(x / 1000) + 'k').join(' / ')})` +
        (variant === base || !ir.has(`${base}#1`) ? '' : `  vs bare: ${pct(median(over))} (${over.map(pct).join(' / ')})`),
    );
  }
  out.push(`load average: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} cores`, '');
  process.stdout.write(out.join('\n'));
}
