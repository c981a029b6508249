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
 * Fairness: every listener gets the same driver, the same pipes and the same events. The statsd
 * sink telltale sends to is a separate process, so receiving its datagrams never runs on the
 * driver's event loop (it used to, which slowed telltale's row alone). Each listener first gets
 * BENCH_WARMUP events (default 20,000) that are not timed: V8 compiles a long-running
 * listener's hot path once, in its first seconds, and a 100,000-event sample would otherwise
 * charge that one-off cost (~0.2 s of CPU for the CLI) to the steady rate. The warm-up time is
 * reported in its own column. `cpu us/ev` is the listener's CPU (all its threads) per timed
 * event, which moves far less than events/s when the machine is shared.
 *
 * Needs `npm run build` (imports ../dist). Goal from issue 3: >= 50,000 events/s, p99 < 1 ms.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmitter } from '../dist/shared/emitter/emitter.js';
import { createModel } from '../dist/integrations/supervisor/model.js';
import { createProtocolParser, formatEnvelope } from '../dist/integrations/supervisor/protocol.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 100_000);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 20_000);
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

/** CPU time of a process, all threads (utime + stime), in ms; /proc counts in 10 ms ticks. */
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Drives one listener process the way supervisord does; resolves with stats. The first `warmup`
 * events are sent the same way but not timed.
 */
function drive(label, cmd, args, events, warmup, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const timed = events.length - warmup;
    const lat = new Float64Array(timed);
    let buf = Buffer.alloc(0);
    let ready = false;
    let i = 0;
    let sentAt = 0n;
    let start = 0n;
    let t0 = 0n;
    let cpu0 = NaN;
    let rss = NaN;
    const send = () => {
      sentAt = process.hrtime.bigint();
      child.stdin.write(events[i]);
    };
    const startTiming = () => {
      t0 = process.hrtime.bigint();
      cpu0 = cpuMs(child.pid);
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
        start = process.hrtime.bigint();
        if (warmup === 0) startTiming();
        send();
        return;
      }
      // Python's childutils writes RESULT and READY separately; wait for both.
      while (buf.length >= ACK.length) {
        if (!buf.subarray(0, ACK.length).equals(ACK)) return reject(new Error(`${label}: bad reply ${JSON.stringify(buf.subarray(0, 40).toString())}`));
        buf = buf.subarray(ACK.length);
        if (i >= warmup) lat[i - warmup] = Number(process.hrtime.bigint() - sentAt) / 1e6;
        i++;
        if (i === warmup) startTiming();
        if (i === events.length) {
          const end = process.hrtime.bigint();
          const secs = Number(end - t0) / 1e9;
          const cpuUs = ((cpuMs(child.pid) - cpu0) * 1000) / timed;
          rss = peakRssKb(child.pid);
          child.stdin.end();
          child.once('exit', () => {
            const sorted = Array.from(lat).sort((a, b) => a - b);
            resolve({ label, events: timed, secs, rate: timed / secs, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1], rssMb: rss / 1024, cpuUs, warmupMs: warmup > 0 ? Number(t0 - start) / 1e6 : NaN });
          });
          return;
        }
        send();
      }
    });
  });
}

/**
 * A UDP counter standing in for statsd, in its own process: the driver's event loop must only
 * drive the protocol, the same for every row.
 */
const UDP_COUNTER = `const s = require('node:dgram').createSocket('udp4'); let n = 0;
s.on('message', () => n++);
s.bind(0, '127.0.0.1', () => process.stdout.write(s.address().port + '\\n'));
process.stdin.resume();
process.stdin.on('end', () => { process.stdout.write(n + '\\n'); s.close(); });`;

function startUdpCounter() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', UDP_COUNTER], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let port = 0;
    child.on('error', reject);
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (port === 0 && out.includes('\n')) {
        port = Number(out.split('\n')[0]);
        resolve({
          port,
          /** Stops the counter; resolves with the datagrams it received. */
          stop: () =>
            new Promise((res) => {
              child.once('exit', () => res(Number(out.split('\n')[1])));
              child.stdin.end();
            }),
        });
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

function inProcess(warm, events) {
  const emitter = createEmitter({ sinks: [{ name: 'null', counter() {}, gauge() {}, gaugeDelta() {}, timing() {}, set() {}, datapoint() {}, flush: async () => {}, close: async () => {}, stats: () => ({ sent: 0, bytes: 0, dropped: {}, errors: 0, queued: 0, reconnects: 0 }) }], selfMetrics: false });
  const model = createModel({ emitter: emitter.child({ prefix: 'supervisor' }), now: Date.now, compat: 'none', sulphiteSuffix: undefined, detectDrops: true, includeSelf: true, self: { process: undefined, group: undefined } });
  const parser = createProtocolParser();
  // Fed in 64 KiB chunks: the parser cost per event, not the per-event syscall.
  const feed = (stream) => {
    let n = 0;
    for (let off = 0; off < stream.length; off += 65_536) {
      for (const it of parser.feed(stream.subarray(off, off + 65_536))) if (it.kind === 'event') (model.handle(it.event, Date.now()), n++);
    }
    return n;
  };
  feed(Buffer.concat(warm));
  const stream = Buffer.concat(events);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const n = feed(stream);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  if (n !== events.length) throw new Error(`in-process parsed ${n} of ${events.length}`);
  return { label: 'telltale in-process (parser+model, no IO; RSS = bench process)', events: n, secs, rate: n / secs, p50: NaN, p99: NaN, max: NaN, rssMb: process.resourceUsage().maxRSS / 1024, cpuUs: (cpu.user + cpu.system) / n, warmupMs: NaN };
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main() {
  const loadBefore = loadavg();
  const all = buildEvents(WARMUP + N);
  const events = all.slice(WARMUP);
  const dir = mkdtempSync(join(tmpdir(), 'telltale-bench-sv-'));
  const sink = await startUdpCounter();
  let datagrams = NaN;
  const yaml = join(dir, 'integrations.yaml');
  writeFileSync(yaml, `emitter:\n  prefix: bench\n  flush_interval: 1s\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${sink.port}\nintegrations:\n  supervisor:\n    resync: false\n    log_level: warn\n`);
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
      slots[k] = best(slots[k], await drive('telltale supervisor (CLI, statsd sink)', process.execPath, [CLI, 'supervisor', '--config', yaml], all, WARMUP));
      k++;
      if (py) {
        slots[k] = best(slots[k], await drive('python childutils ack-only (Sulphite/superlance base)', py, [join(dir, 'ack.py')], all, WARMUP));
        k++;
      }
      slots[k] = best(slots[k], await drive('node ack floor (parse + ack, no metrics)', process.execPath, ['-e', NODE_FLOOR], all, WARMUP));
      k++;
      slots[k] = best(slots[k], inProcess(all.slice(0, WARMUP), events));
    }
    results.push(...slots);
  } finally {
    datagrams = await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = results[0];
  const fmt = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const rows = [['listener', 'events', 'events/s', 'vs telltale', 'p50 ms', 'p99 ms', 'max ms', 'cpu us/ev', 'warm-up ms', 'peak RSS MB']];
  for (const r of results) rows.push([r.label, String(r.events), Math.round(r.rate).toLocaleString('en-US'), `${fmt(r.rate / base.rate, 2)}x`, fmt(r.p50), fmt(r.p99), fmt(r.max), fmt(r.cpuUs, 1), fmt(r.warmupMs, 0), fmt(r.rssMb, 1)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  process.stdout.write(`\nsupervisor eventlistener: ${N.toLocaleString('en-US')} events after ${WARMUP.toLocaleString('en-US')} untimed warm-up events, one at a time over pipes (header -> RESULT), best of ${ROUNDS} rounds; load average ${loadBefore} before, ${loadavg()} after\n\n`);
  for (const [k, r] of rows.entries()) {
    process.stdout.write(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ') + '\n');
    if (k === 0) process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  }
  process.stdout.write(`\ngoal: >= 50,000 events/s and p99 < 1 ms for telltale -> ${base.rate >= 50_000 ? 'met' : 'NOT met'} (rate), ${base.p99 < 1 ? 'met' : 'NOT met'} (p99)\n`);
  process.stdout.write(`statsd datagrams received from telltale (all its runs, warm-up included): ${datagrams}\n`);
}

await main();
