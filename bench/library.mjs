#!/usr/bin/env node
/**
 * Library benchmark: the cost of the HTTP instrumentation per request. A trivial handler
 * (`res.end('ok')`) is served
 *   - by plain node:http, bare and with instrumentServer(),
 *   - by Express, bare and with expressMetrics(),
 * the instrumented servers sending through createApp's emitter (the real emitter and statsd sink,
 * as a program gets with --stats) to a UDP port on loopback, held by a child process that only
 * counts what arrives.
 *
 * How it stays fair on a shared, noisy machine: each bare/instrumented pair is two server
 * processes, and one load-generator process (keep-alive connections, fixed concurrency) loads
 * them in alternating short windows in ABBA order, so whatever else the machine is doing hits
 * both sides alike, window by window. Rounds repeat that with fresh processes; the table shows
 * medians. Two measures per server: requests/s over its windows, and server CPU time per request
 * (process.cpuUsage; a server is idle outside its windows). Then the recorder alone, in process.
 *
 * Usage: npm run build && node bench/library.mjs [--rounds 3] [--seconds 4] [--window 200] [--concurrency 16] [--only node|express]
 * (TELLTALE_LIB=/path/to/index.js benchmarks another build of the library.)
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    variant: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    window: { type: 'string', default: '200' },
    windows: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    only: { type: 'string' },
    port: { type: 'string' },
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
    const t0 = process.hrtime.bigint();
    const end = Date.now() + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) await one(t);
      }),
    );
    timeNs[t] += Number(process.hrtime.bigint() - t0);
  };
  // Warm-up (JIT, connections) on both, then reset and tell main to start the servers' clocks.
  await window(0, 300);
  await window(1, 300);
  done[0] = done[1] = 0;
  timeNs[0] = timeNs[1] = 0;
  process.send({ type: 'warm' });
  await new Promise((r) => process.once('message', r));
  for (let i = 0; i < windows; i++) await window([0, 1, 1, 0][i % 4], windowMs);
  for (const a of agents) a.destroy();
  process.send({ type: 'result', rps: done.map((d, t) => d / (timeNs[t] / 1e9)), done, errors, rssKb: process.resourceUsage().maxRSS });
  process.disconnect();
}

// ------------------------------------------------------------------------------- server (child)
async function server() {
  const libPath = process.env.TELLTALE_LIB ?? fileURLToPath(new URL('../dist/shared/index.js', import.meta.url));
  const lib = await import(pathToFileURL(libPath).href);
  const variant = values.variant;
  const stats = () => lib.createApp({ name: 'web', argv: ['--stats', '--stats-port', String(values.port)], env: {}, handleExit: false }).stats;
  const handler = (_req, res) => res.end('ok');
  let srv;
  if (variant === 'node:http bare') srv = http.createServer(handler);
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
  const libPath = process.env.TELLTALE_LIB ?? fileURLToPath(new URL('../dist/shared/index.js', import.meta.url));
  const lib = await import(pathToFileURL(libPath).href).catch(() => ({}));
  if (!lib.createApp || !lib.instrumentServer) throw new Error(`${libPath} lacks createApp/instrumentServer: run npm run build`);
  const hasExpress = await import('express').then(
    () => true,
    () => false,
  );
  const pairs = [['node:http bare', 'node:http + instrumentServer']];
  if (hasExpress) pairs.push(['express bare', 'express + expressMetrics']);
  if (values.only) pairs.splice(0, pairs.length, ...pairs.filter((p) => p[0].startsWith(values.only)));

  const sinkChild = spawnRole('sink');
  const statsPort = (await once(sinkChild, 'port')).port;
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const rps = new Map();
  const cpu = new Map();
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
      pair.forEach((variant, i) => {
        push(rps, variant, res.rps[i]);
        push(cpu, variant, rep[i].cpuUs / Math.max(1, rep[i].requests));
        peakServerRss = Math.max(peakServerRss, rep[i].rssKb);
      });
      peakClientRss = Math.max(peakClientRss, res.rssKb);
    }
  }

  // The recorder in isolation (what each instrumented request adds besides one 'close'
  // listener and two clock reads), through the real emitter and statsd sink, in batches that
  // let the socket drain. Steadier than the HTTP rounds on a busy machine.
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

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const rows = [];
  for (const [bare, inst] of pairs) {
    for (const variant of [bare, inst]) {
      const r = median(rps.get(variant));
      const c = median(cpu.get(variant));
      const cb = median(cpu.get(bare));
      // Per-round ratios (both sides measured in the same window) are steadier than ratios of medians.
      const ratios = rps.get(variant).map((x, i) => x / rps.get(bare)[i]);
      rows.push({
        variant,
        'req/s (median)': Math.round(r).toLocaleString('en-US'),
        'req/s per round': rps.get(variant).map((x) => Math.round(x)).join(' / '),
        'vs bare (median of rounds)': variant === bare ? '1.000x' : `${median(ratios).toFixed(3)}x`,
        'server CPU us/req': c.toFixed(1),
        'CPU/req vs bare': variant === bare ? '-' : `${(((c - cb) / cb) * 100).toFixed(1)}% (${c - cb >= 0 ? '+' : ''}${(c - cb).toFixed(1)} us)`,
      });
    }
  }
  const keys = Object.keys(rows[0]);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  const out = [];
  out.push('', `HTTP instrumentation overhead: trivial handler, ${values.concurrency} keep-alive connections, loopback;`);
  out.push(`bare and instrumented servers loaded in alternating ${values.window} ms windows (ABBA), ${seconds} s per pair x ${rounds} rounds`, '');
  out.push(line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(Object.values(r))), '');
  out.push(`recorder alone (counter + timer through the real emitter and statsd sink): ${Math.round(median(isolated))} ns CPU per request (median of 5 x 100,000; dropped: ${JSON.stringify(dropped)})`);
  out.push(`load average during the run: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} cores`);
  out.push(`statsd side: ${lines.toLocaleString('en-US')} lines in ${datagrams.toLocaleString('en-US')} datagrams (${(lines / Math.max(1, datagrams)).toFixed(1)} lines/packet)`);
  out.push(`peak RSS: server ${(peakServerRss / 1024).toFixed(0)} MiB, load client ${(peakClientRss / 1024).toFixed(0)} MiB, bench main ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  out.push('goal: instrumented within 5% of bare (req/s). The load generators share the cores with the servers,');
  out.push('so a bare node:http server is the harshest peer: its whole request costs only tens of microseconds.', '');
  process.stdout.write(out.join('\n'));
}
