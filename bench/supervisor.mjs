#!/usr/bin/env node
/**
 * supervisor eventlistener benchmark: 100,000 events pushed through `telltale supervisor` over a
 * pipe by a driver that speaks supervisord's side exactly (one event at a time, next one only
 * after RESULT, as supervisord does), reporting events/s and header->RESULT latency.
 *
 * Peers measured in the same run, with the same driver, pipes and events:
 *   - python childutils: an ack-only listener on supervisor's own `childutils.listener`, what
 *     Sulphite and superlance are built on (no metrics at all: the cheapest Python listener);
 *   - node ack floor:    a 20-line Node listener that parses and acks, no metrics;
 *   - C ack floor:       the same loop in C with blocking I/O (when a C compiler is present):
 *                        what the pipes and the scheduler allow before any runtime;
 *   - in-process:        telltale's parser + model without pipes or processes (CPU cost only).
 *
 * Two scheduling modes, because one event is one pipe round trip and on a VM the round trip
 * depends on where the two processes run more than on either of them:
 *   - one CPU: driver and listener pinned together (`taskset -c 0`). Every wake-up is a switch on
 *     the same CPU, so the rate is set by what driver and listener spend per event: the
 *     listener's own cost. The goal is judged here.
 *   - free: the scheduler decides. When it wakes the two across CPUs, each event pays two
 *     cross-CPU wake-ups; on the 2-vCPU development VM that caps every listener, the C floor
 *     included, near 20k events/s.
 * Both tables are printed, always.
 *
 * Fairness: the driver is synchronous (see driveSync) and runs in a process of its own; the statsd
 * sink telltale sends to is a separate process. Each listener first gets BENCH_WARMUP events
 * (default 20,000) that are not timed: V8 compiles a long-running listener's hot path once, in
 * its first seconds, and a 100,000-event sample would otherwise charge that one-off cost to the
 * steady rate. The warm-up time is reported in its own column. `cpu us/ev` is the listener's CPU
 * (all its threads) per timed event, which moves far less than events/s when the machine is shared.
 *
 * Needs `npm run build` (imports ../dist), mkfifo, and taskset for the pinned mode (util-linux).
 * Goal from issue 3: >= 50,000 events/s, p99 < 1 ms.
 */
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmitter } from '../dist/shared/emitter/emitter.js';
import { createModel } from '../dist/integrations/supervisor/model.js';
import { createProtocolParser } from '../dist/integrations/supervisor/protocol.js';
import { formatEnvelope } from '../integrations/supervisor/test/envelope.mjs';

const N = Number(process.env['BENCH_EVENTS'] ?? 100_000);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 20_000);
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const ACK = Buffer.from('RESULT 2\nOKREADY\n');
const SELF = fileURLToPath(import.meta.url);

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
 * Drives one listener process the way supervisord does, with blocking I/O: one event written,
 * then a blocking read until its 17-byte answer is in, then the next. Runs in a child process
 * of its own (role `--drive`) so that `taskset` can put it and the listener on one CPU.
 *
 * Why blocking reads over FIFOs rather than child.stdin/stdout streams: the driver is a stand-in
 * for supervisord and must cost as little as possible, or the bench measures the driver. A
 * Node stream driver spends ~10-25 us of CPU per event in its event loop; pinned to the
 * listener's CPU, that was most of every round trip (the floor did 35-46k events/s pinned with
 * it, 92-119k with this one). The listener still sees an ordinary pipe (a FIFO is S_ISFIFO,
 * exactly what supervisord's pipes are to libuv and to Python). The listener opens the FIFOs
 * itself through `sh -c 'exec ...'`, so the driver holds only its own ends: a listener that dies
 * gives the driver EOF/EPIPE instead of a read that blocks forever.
 */
function driveSync(spec, dir, onChild) {
  const { cmd, args, env, warmup } = spec;
  const events = buildEvents(spec.total);
  const fifoIn = join(dir, 'in');
  const fifoOut = join(dir, 'out');
  execFileSync('mkfifo', [fifoIn, fifoOut]);
  const quote = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;
  const child = spawn('/bin/sh', ['-c', `exec ${[cmd, ...args].map(quote).join(' ')} <${quote(fifoIn)} >${quote(fifoOut)} 2>${quote(join(dir, 'err'))}`], { stdio: 'ignore', env: { ...process.env, ...env } });
  onChild(child);
  const stderrTail = () => {
    try {
      return readFileSync(join(dir, 'err'), 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  // Same order as the shell (stdin first, then stdout): each open blocks until the other side
  // opens, so any other order deadlocks.
  const w = openSync(fifoIn, 'w');
  const r = openSync(fifoOut, 'r');
  const rb = Buffer.alloc(4096);
  const readExactly = (n) => {
    let got = 0;
    while (got < n) {
      const k = readSync(r, rb, got, n - got, null);
      if (k === 0) throw new Error(`${spec.label}: listener closed stdout after ${got} of ${n} bytes:\n${stderrTail()}`);
      got += k;
    }
    return rb.subarray(0, n);
  };
  try {
    if (!readExactly(6).equals(Buffer.from('READY\n'))) throw new Error(`${spec.label}: expected READY, got ${JSON.stringify(rb.subarray(0, 6).toString())}`);
    const timed = events.length - warmup;
    const lat = new Float64Array(timed);
    const start = process.hrtime.bigint();
    let t0 = start;
    let cpu0 = cpuMs(child.pid);
    for (let i = 0; i < events.length; i++) {
      if (i === warmup) {
        t0 = process.hrtime.bigint();
        cpu0 = cpuMs(child.pid);
      }
      const sentAt = process.hrtime.bigint();
      writeSync(w, events[i]);
      // Python's childutils writes RESULT and READY separately: read until both are in.
      const reply = readExactly(ACK.length);
      if (!reply.equals(ACK)) throw new Error(`${spec.label}: bad reply ${JSON.stringify(reply.toString())} to event ${i}`);
      if (i >= warmup) lat[i - warmup] = Number(process.hrtime.bigint() - sentAt) / 1e6;
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuUs = ((cpuMs(child.pid) - cpu0) * 1000) / timed;
    const rss = peakRssKb(child.pid);
    const sorted = Array.from(lat).sort((a, b) => a - b);
    return { label: spec.label, events: timed, secs, rate: timed / secs, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1], rssMb: rss / 1024, cpuUs, warmupMs: warmup > 0 ? Number(t0 - start) / 1e6 : NaN };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    // EOF on stdin: every listener here exits 0 on it (telltale flushes first).
    closeSync(w);
    closeSync(r);
  }
}

/** The `--drive` role: one listener driven, its result as JSON on stdout once it has exited. */
async function driverRole(spec) {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-bench-drive-'));
  try {
    let child;
    const result = driveSync(spec, dir, (c) => (child = c));
    const code = child.exitCode ?? (await new Promise((res) => child.once('exit', (c, sig) => res(c ?? sig))));
    // telltale must exit 0 on EOF (issue 3); childutils' loop just dies on the empty header.
    if (spec.cleanExit && code !== 0) throw new Error(`${spec.label}: listener exited ${code} on EOF`);
    process.stdout.write(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs driveSync in a child process, pinned to one CPU (`cpu` set) or left to the scheduler;
 * the listener inherits the driver's affinity. A listener that hangs is killed with its driver
 * after `timeoutMs`.
 */
function drive(spec, cpu, timeoutMs = 180_000) {
  return new Promise((resolve, reject) => {
    const argv = [SELF, '--drive', JSON.stringify(spec)];
    // detached: the driver leads a process group that its listener joins, so one kill stops both.
    const opts = { stdio: ['ignore', 'pipe', 'inherit'], detached: true };
    const child = cpu === undefined ? spawn(process.execPath, argv, opts) : spawn('taskset', ['-c', String(cpu), process.execPath, ...argv], opts);
    let out = '';
    const timer = setTimeout(() => {
      process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${spec.label}: driver exited ${code ?? signal}`));
      resolve(JSON.parse(out));
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

/**
 * The kernel's own floor: the same parse-and-ack loop in C, blocking reads and writes. Only
 * when a C compiler is there (it is not a dependency of telltale); it tells what the pipes and
 * the scheduler allow before any runtime is involved.
 */
const C_FLOOR = `#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  static char b[1 << 20]; long have = 0, need = -1;
  if (write(1, "READY\\n", 6) != 6) return 1;
  for (;;) {
    long n = read(0, b + have, sizeof b - have);
    if (n <= 0) return 0;
    have += n; long off = 0;
    for (;;) {
      if (need < 0) {
        char *nl = memchr(b + off, '\\n', have - off); if (!nl) break;
        char *l = memmem(b + off, nl - (b + off), "len:", 4); need = l ? atol(l + 4) : 0; off = nl - b + 1;
      }
      /* len counts code points (supervisor 4), as the Node floor reads it. */
      long k = off, cps = 0;
      while (k < have && cps < need) { if ((b[k] & 0xc0) != 0x80) cps++; k++; }
      while (k < have && (b[k] & 0xc0) == 0x80) k++;
      if (cps < need) break;
      off = k; need = -1;
      if (write(1, "RESULT 2\\nOKREADY\\n", 17) != 17) return 1;
    }
    memmove(b, b + off, have - off); have -= off;
  }
}
`;

function buildCFloor(dir) {
  const cc = ['cc', 'gcc'].find((bin) => {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!cc) return undefined;
  writeFileSync(join(dir, 'floor.c'), C_FLOOR);
  execFileSync(cc, ['-O2', '-D_GNU_SOURCE', '-o', join(dir, 'floor'), join(dir, 'floor.c')]);
  return join(dir, 'floor');
}


function canPin() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const loadBefore = loadavg();
  const total = WARMUP + N;
  const dir = mkdtempSync(join(tmpdir(), 'telltale-bench-sv-'));
  const sink = await startUdpCounter();
  let datagrams = NaN;
  const yaml = join(dir, 'integrations.yaml');
  writeFileSync(yaml, `emitter:\n  prefix: bench\n  flush_interval: 1s\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${sink.port}\nintegrations:\n  supervisor:\n    resync: false\n    log_level: warn\n`);
  // Two rounds, best (highest rate) kept per listener: the machine is shared, and a stall of
  // another process lands on whichever run happens to be going.
  const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
  const best = (a, b) => (!a || b.rate > a.rate ? b : a);
  const modes = [];
  if (canPin()) modes.push({ name: 'one CPU (driver and listener pinned with taskset -c 0)', cpu: 0 });
  else process.stderr.write('taskset not found: the pinned mode is skipped\n');
  modes.push({ name: 'free (the scheduler places driver and listener)', cpu: undefined });
  const tables = [];
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
    const cFloor = buildCFloor(dir);
    if (!cFloor) process.stderr.write('no C compiler: skipping the C floor\n');
    const listeners = [
      { label: 'telltale supervisor (CLI, statsd sink)', cmd: process.execPath, args: [CLI, 'supervisor', '--config', yaml], cleanExit: true },
      ...(py ? [{ label: 'python childutils ack-only (Sulphite/superlance base)', cmd: py, args: [join(dir, 'ack.py')] }] : []),
      { label: 'node ack floor (parse + ack, no metrics)', cmd: process.execPath, args: ['-e', NODE_FLOOR] },
      ...(cFloor ? [{ label: 'C ack floor (parse + ack, blocking I/O)', cmd: cFloor, args: [] }] : []),
    ];
    for (const mode of modes) {
      const slots = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const [k, l] of listeners.entries()) slots[k] = best(slots[k], await drive({ ...l, env: {}, total, warmup: WARMUP }, mode.cpu));
      }
      tables.push({ mode: mode.name, results: slots });
    }
    const ip = [];
    for (let round = 0; round < ROUNDS; round++) ip[0] = best(ip[0], inProcess(buildEvents(WARMUP), buildEvents(total).slice(WARMUP)));
    tables.push({ mode: 'no pipes, no processes', results: ip });
  } finally {
    datagrams = await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const fmt = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  process.stdout.write(`\nsupervisor eventlistener: ${N.toLocaleString('en-US')} events after ${WARMUP.toLocaleString('en-US')} untimed warm-up events, one at a time over pipes (header -> RESULT), best of ${ROUNDS} rounds; load average ${loadBefore} before, ${loadavg()} after\n`);
  const base = tables[0].results[0];
  for (const t of tables) {
    const rows = [['listener', 'events', 'events/s', 'vs telltale', 'p50 ms', 'p99 ms', 'max ms', 'cpu us/ev', 'warm-up ms', 'peak RSS MB']];
    for (const r of t.results) rows.push([r.label, String(r.events), Math.round(r.rate).toLocaleString('en-US'), `${fmt(r.rate / base.rate, 2)}x`, fmt(r.p50), fmt(r.p99), fmt(r.max), fmt(r.cpuUs, 1), fmt(r.warmupMs, 0), fmt(r.rssMb, 1)]);
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    process.stdout.write(`\n${t.mode}:\n`);
    for (const [k, r] of rows.entries()) {
      process.stdout.write(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ') + '\n');
      if (k === 0) process.stdout.write(widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
    }
  }
  process.stdout.write('\n("vs telltale" is against telltale in the first table.)\n');
  for (const t of tables.slice(0, -1)) {
    const r = t.results[0];
    process.stdout.write(`goal: >= 50,000 events/s and p99 < 1 ms, ${t.mode} -> ${r.rate >= 50_000 ? 'met' : 'NOT met'} (rate ${Math.round(r.rate).toLocaleString('en-US')}), ${r.p99 < 1 ? 'met' : 'NOT met'} (p99)\n`);
  }
  process.stdout.write(`statsd datagrams received from telltale (all its runs, warm-up included): ${datagrams}\n`);
}

if (process.argv[2] === '--drive') await driverRole(JSON.parse(process.argv[3]));
else await main();
