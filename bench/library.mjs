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
 * How it stays fair on a shared, noisy machine: each bare/instrumented pair runs AT THE SAME
 * TIME, each server in its own process with its own load-generator process (keep-alive
 * connections, fixed concurrency, fixed duration), so whatever else the machine is doing hits
 * both sides alike. Rounds repeat that; the table shows medians. Two measures per server:
 * requests/s, and server CPU time per request (process.cpuUsage over the measured window).
 *
 * Usage: npm run build && node bench/library.mjs [--rounds 5] [--seconds 2] [--concurrency 16]
 * (TELLTALE_LIB=/path/to/index.js benchmarks another build of the library.)
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    variant: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
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
  const port = Number(values.port);
  const concurrency = Number(values.concurrency);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let done = 0;
  let errors = 0;
  let stop = false;
  const one = () =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/users/42', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) done++;
          else errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  // Warm-up (JIT, connections) until main says go, then the measured window until it says stop.
  let measuring = false;
  let t0 = 0n;
  process.on('message', (m) => {
    if (m === 'go') {
      done = 0;
      errors = 0;
      measuring = true;
      t0 = process.hrtime.bigint();
    } else if (m === 'stop') stop = true;
  });
  process.send({ type: 'ready' });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop) await one();
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  process.send({ type: 'result', rps: measuring ? done / elapsed : 0, done, errors, rssKb: process.resourceUsage().maxRSS });
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
      const clients = ports.map((port) => spawnRole('client', ['--port', String(port), '--concurrency', values.concurrency]));
      const results = clients.map((c) => once(c, 'result'));
      await Promise.all(clients.map((c) => once(c, 'ready')));
      // Warm-up: both sides run for 300 ms before the measured window opens.
      await new Promise((r) => setTimeout(r, 300));
      for (const p of [...servers, ...clients]) p.send('go');
      await new Promise((r) => setTimeout(r, seconds * 1000));
      for (const c of clients) c.send('stop');
      const res = await Promise.all(results);
      const reports = servers.map((s) => once(s, 'report'));
      for (const s of servers) s.send('report');
      const rep = await Promise.all(reports);
      await Promise.all([...servers, ...clients].map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
      pair.forEach((variant, i) => {
        if (res[i].errors > 0) throw new Error(`${variant}: ${res[i].errors} failed requests`);
        push(rps, variant, res[i].rps);
        push(cpu, variant, rep[i].cpuUs / Math.max(1, rep[i].requests));
        peakServerRss = Math.max(peakServerRss, rep[i].rssKb);
        peakClientRss = Math.max(peakClientRss, res[i].rssKb);
      });
    }
  }
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
        'req/s vs bare (median of rounds)': variant === bare ? '1.000x' : `${median(ratios).toFixed(3)}x`,
        'server CPU us/req': c.toFixed(1),
        'CPU/req vs bare': variant === bare ? '-' : `${(((c - cb) / cb) * 100).toFixed(1)}% (${c - cb >= 0 ? '+' : ''}${(c - cb).toFixed(1)} us)`,
      });
    }
  }
  const keys = Object.keys(rows[0]);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  const out = [];
  out.push('', `HTTP instrumentation overhead: trivial handler, ${values.concurrency} keep-alive connections per server,`);
  out.push(`bare and instrumented servers loaded at the same time, ${seconds} s x ${rounds} rounds, loopback`, '');
  out.push(line(keys), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(Object.values(r))), '');
  out.push(`statsd side: ${lines.toLocaleString('en-US')} lines in ${datagrams.toLocaleString('en-US')} datagrams (${(lines / Math.max(1, datagrams)).toFixed(1)} lines/packet)`);
  out.push(`peak RSS: server ${(peakServerRss / 1024).toFixed(0)} MiB, load client ${(peakClientRss / 1024).toFixed(0)} MiB, bench main ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  out.push('goal: instrumented within 5% of bare (req/s). The load generators share the cores with the servers,');
  out.push('so a bare node:http server is the harshest peer: its whole request costs only tens of microseconds.', '');
  process.stdout.write(out.join('\n'));
}
