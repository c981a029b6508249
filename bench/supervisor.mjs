#!/usr/bin/env node
/**
 * supervisor eventlistener benchmark: 100,000 events pushed through `telltale supervisor` over a
 * pipe by a driver that speaks supervisord's side exactly (one event at a time, next one only
 * after RESULT, as supervisord does), reporting events/s and header→RESULT latency.
 *
 * Peers measured in the same run:
 *   - python childutils: an ack-only listener on supervisor's own `childutils.listener`, what
 *     Sulphite and superlance are built on (no metrics at all: the cheapest Python listener);
 *   - node ack floor:    a 20-line Node listener that parses and acks, no metrics (the pipe floor);
 *   - in-process:        telltale's parser + model without pipes or processes (CPU cost only).
 *
 * Needs `npm run build` (imports ../dist). Goal from issue 3: >= 50,000 events/s, p99 < 1 ms.
 */
import { spawn, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmitter } from '../dist/shared/emitter/emitter.js';
import { createModel } from '../dist/integrations/supervisor/model.js';
import { createProtocolParser, formatEnvelope } from '../dist/integrations/supervisor/protocol.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 100_000);
const CLI = fileURLToPath(new URL('../dist/shared/cli/main.js', import.meta.url));
const ACK = Buffer.from('RESULT 2\nOKREADY\n');

/** A realistic mix: lifecycles of 60 processes (some non-ASCII, some in groups), TICKs. */
function buildEvents(n) {
  const names = [];
  for (let i = 0; i < 60; i++) {
    if (i % 10 === 0) names.push([`wörker-${i}.v2`, `wörker-${i}.v2`]);
    else if (i % 3 === 0) names.push([`w${i}`, 'pool']);
    else names.push([`svc${i}`, `svc${i}`]);
  }
  const cycle = [
    ['STARTING', 'from_state:STOPPED tries:0'],
    ['RUNNING', 'from_state:STARTING pid:4242'],
    ['EXITED', 'from_state:RUNNING expected:0 pid:4242'],
    ['STARTING', 'from_state:EXITED tries:0'],
    ['BACKOFF', 'from_state:STARTING tries:1'],
    ['STARTING', 'from_state:BACKOFF tries:1'],
    ['RUNNING', 'from_state:STARTING pid:4243'],
    ['STOPPING', 'from_state:RUNNING pid:4243'],
    ['STOPPED', 'from_state:STOPPING pid:4243'],
  ];
  const out = [];
  const when = Math.floor(Date.now() / 1000);
  for (let i = 0; i < n; i++) {
    if (i % 1000 === 999) {
      out.push(formatEnvelope({ serial: i, poolserial: i, eventname: 'TICK_5', server: 'bench', pool: 'telltale' }, `when:${when}`));
      continue;
    }
    const [proc, group] = names[i % names.length];
    const [state, rest] = cycle[Math.floor(i / names.length) % cycle.length];
    out.push(formatEnvelope({ serial: i, poolserial: i, eventname: `PROCESS_STATE_${state}`, server: 'bench', pool: 'telltale' }, `processname:${proc} groupname:${group} ${rest}`));
  }
  return out;
}

function peakRssKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Drives one listener process the way supervisord does; resolves with stats. */
function drive(label, cmd, args, events, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const lat = new Float64Array(events.length);
    let buf = Buffer.alloc(0);
    let ready = false;
    let i = 0;
    let sentAt = 0n;
    let t0 = 0n;
    let rss = NaN;
    const send = () => {
      sentAt = process.hrtime.bigint();
      child.stdin.write(events[i]);
    };
    child.on('error', reject);
    child.on('exit', (code) => {
      if (i < events.length) reject(new Error(`${label} exited early (code ${code}) after ${i} events:\n${stderr.slice(-2000)}`));
    });
    child.stdout.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (!ready) {
        if (buf.length < 6) return;
        if (buf.subarray(0, 6).toString() !== 'READY\n') return reject(new Error(`${label}: expected READY, got ${JSON.stringify(buf.toString())}`));
        buf = buf.subarray(6);
        ready = true;
        t0 = process.hrtime.bigint();
        send();
        return;
      }
      // Python's childutils writes RESULT and READY separately; wait for both.
      while (buf.length >= ACK.length) {
        if (!buf.subarray(0, ACK.length).equals(ACK)) return reject(new Error(`${label}: bad reply ${JSON.stringify(buf.subarray(0, 40).toString())}`));
        buf = buf.subarray(ACK.length);
        lat[i] = Number(process.hrtime.bigint() - sentAt) / 1e6;
        i++;
        if (i === events.length) {
          const secs = Number(process.hrtime.bigint() - t0) / 1e9;
          rss = peakRssKb(child.pid);
          child.stdin.end();
          child.once('exit', () => {
            const sorted = Array.from(lat).sort((a, b) => a - b);
            resolve({ label, events: events.length, secs, rate: events.length / secs, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1], rssMb: rss / 1024 });
          });
          return;
        }
        send();
      }
    });
  });
}

const PY_LISTENER = `import sys
from supervisor import childutils
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    childutils.listener.ok(sys.stdout)
`;

const NODE_FLOOR = `let buf = Buffer.alloc(0); let need = -1;
process.stdout.write('READY\\n');
process.stdin.on('data', (d) => {
  buf = buf.length ? Buffer.concat([buf, d]) : d;
  for (;;) {
    if (need < 0) { const nl = buf.indexOf(10); if (nl < 0) return;
      need = Number(/len:(\\d+)/.exec(buf.toString('latin1', 0, nl))[1]); buf = buf.subarray(nl + 1); }
    let cps = 0, k = 0; while (k < buf.length && cps < need) { if ((buf[k] & 0xc0) !== 0x80) cps++; k++; }
    while (k < buf.length && (buf[k] & 0xc0) === 0x80) k++;
    if (cps < need) return;
    buf = buf.subarray(k); need = -1; process.stdout.write('RESULT 2\\nOKREADY\\n');
  }
});`;

function inProcess(events) {
  const emitter = createEmitter({ sinks: [{ name: 'null', counter() {}, gauge() {}, gaugeDelta() {}, timing() {}, set() {}, datapoint() {}, flush: async () => {}, close: async () => {}, stats: () => ({ sent: 0, bytes: 0, dropped: {}, errors: 0, queued: 0, reconnects: 0 }) }], selfMetrics: false });
  const model = createModel({ emitter: emitter.child({ prefix: 'supervisor' }), now: Date.now, compat: 'none', sulphiteSuffix: undefined, detectDrops: true, includeSelf: true, self: { process: undefined, group: undefined } });
  const parser = createProtocolParser();
  const stream = Buffer.concat(events);
  const t0 = process.hrtime.bigint();
  let n = 0;
  // Fed in 64 KiB chunks: the parser cost per event, not the per-event syscall.
  for (let off = 0; off < stream.length; off += 65_536) {
    for (const it of parser.feed(stream.subarray(off, off + 65_536))) if (it.kind === 'event') (model.handle(it.event, Date.now()), n++);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (n !== events.length) throw new Error(`in-process parsed ${n} of ${events.length}`);
  return { label: 'telltale in-process (parser+model, no IO; RSS = bench process)', events: n, secs, rate: n / secs, p50: NaN, p99: NaN, max: NaN, rssMb: process.resourceUsage().maxRSS / 1024 };
}

async function main() {
  const events = buildEvents(N);
  const dir = mkdtempSync(join(tmpdir(), 'telltale-bench-sv-'));
  const sink = dgram.createSocket('udp4');
  let datagrams = 0;
  sink.on('message', () => datagrams++);
  await new Promise((r) => sink.bind(0, '127.0.0.1', r));
  const yaml = join(dir, 'integrations.yaml');
  writeFileSync(yaml, `emitter:\n  prefix: bench\n  flush_interval: 1s\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${sink.address().port}\nintegrations:\n  supervisor:\n    resync: false\n    log_level: warn\n`);
  const results = [];
  // Two rounds, best (highest rate) kept per listener: the machine is shared, and a stall of
  // another process lands on whichever run happens to be going.
  const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
  const best = (a, b) => (!a || b.rate > a.rate ? b : a);
  try {
    // Debian's supervisor lives in the system Python; a pyenv/venv python3 on PATH may lack it.
    const py = ['/usr/bin/python3', 'python3'].find((bin) => {
      try {
        execFileSync(bin, ['-c', 'import supervisor.childutils'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!py) process.stderr.write('python3 with the supervisor package not found: skipping the childutils peer\n');
    else writeFileSync(join(dir, 'ack.py'), PY_LISTENER);
    const slots = [];
    for (let round = 0; round < ROUNDS; round++) {
      let k = 0;
      slots[k] = best(slots[k], await drive('telltale supervisor (CLI, statsd sink)', process.execPath, [CLI, 'supervisor', '--config', yaml], events));
      k++;
      if (py) {
        slots[k] = best(slots[k], await drive('python childutils ack-only (Sulphite/superlance base)', py, [join(dir, 'ack.py')], events));
        k++;
      }
      slots[k] = best(slots[k], await drive('node ack floor (parse + ack, no metrics)', process.execPath, ['-e', NODE_FLOOR], events));
      k++;
      slots[k] = best(slots[k], inProcess(events));
    }
    results.push(...slots);
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = results[0];
  const fmt = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const rows = [['listener', 'events', 'events/s', 'vs telltale', 'p50 ms', 'p99 ms', 'max ms', 'peak RSS MB']];
  for (const r of results) rows.push([r.label, String(r.events), Math.round(r.rate).toLocaleString('en-US'), `${fmt(r.rate / base.rate, 2)}x`, fmt(r.p50), fmt(r.p99), fmt(r.max), fmt(r.rssMb, 1)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  process.stdout.write(`\nsupervisor eventlistener: ${N.toLocaleString('en-US')} events, one at a time over pipes (header -> RESULT), best of ${ROUNDS} rounds\n\n`);
  for (const [k, r] of rows.entries()) {
    process.stdout.write(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ') + '\n');
    if (k === 0) process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  }
  process.stdout.write(`\ngoal: >= 50,000 events/s and p99 < 1 ms for telltale -> ${base.rate >= 50_000 ? 'met' : 'NOT met'} (rate), ${base.p99 < 1 ? 'met' : 'NOT met'} (p99)\n`);
  process.stdout.write(`statsd datagrams received from telltale during the run: ${datagrams}\n`);
}

await main();
