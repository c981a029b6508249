#!/usr/bin/env node
/**
 * access_log benchmark: one generated 1,000,000-line nginx log (combined + $request_time +
 * "$upstream_response_time"), read by
 *   - telltale's access_log once() (the real integration from dist/, emitter with a sink that
 *     only counts what it receives),
 *   - mtail --one_shot (Debian's mtail) with an equivalent program,
 *   - cat (the floor),
 * and the same mix of requests as a varnishncsa log in the varnishncsa_extended format (absolute URL,
 * %D, time to first byte, handling, hitmiss; piped requests with `-` for status and bytes) read
 * by telltale once(), in the same run, with wall time and peak RSS from GNU time. Then peak RSS
 * with 10 files being tailed at full speed, and CPU at a steady 10,000 lines/s.
 *
 * Usage: npm run build && node bench/access_log.mjs [--multi-only | --steady-only | --idle-only] [--lines N]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
// TELLTALE_BENCH_DIST: another build (say, of main) to compare with in the same run.
const dist = process.env.TELLTALE_BENCH_DIST ?? join(here, '..', 'dist');

// ---------------------------------------------------------------- deterministic generator
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = [['GET', 0.85], ['POST', 0.09], ['HEAD', 0.02], ['PUT', 0.015], ['DELETE', 0.01], ['OPTIONS', 0.01], ['PATCH', 0.005]];
const STATUSES = [[200, 0.78], [304, 0.07], [404, 0.035], [301, 0.02], [302, 0.02], [206, 0.01], [204, 0.01], [400, 0.008], [401, 0.006], [403, 0.006], [499, 0.004], [500, 0.004], [502, 0.003], [503, 0.003], [504, 0.002], [201, 0.002]];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'curl/8.4.0',
  'kube-probe/1.28',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 \\x22quoted\\x22 agent',
];
const PATHS = ['/', '/index.html', '/api/v1/orders', '/api/v1/users/42', '/static/app.js', '/static/app.css', '/images/logo.png', '/search?q=%22x%22', '/health', '/login'];

function pick(r, table) {
  let x = r();
  for (const [v, p] of table) {
    if (x < p) return v;
    x -= p;
  }
  return table[0][0];
}

const HANDLING = [['hit', 0.6], ['miss', 0.24], ['pass', 0.12], ['synth', 0.03], ['pipe', 0.01]];

/**
 * Writes `lines` lines to `file` (`kind` nginx: nginx_combined_rt; varnish: varnishncsa_extended,
 * the same requests as varnishncsa writes them); returns the ground truth.
 */
function generate(file, lines, seed, kind = 'nginx') {
  const r = mulberry32(seed);
  const truth = { lines, requests: 0, unparsed: 0, c2: 0, c3: 0, c4: 0, c5: 0, sumMs: 0, timed: 0, firstByte: 0, hit: 0, pipe: 0 };
  let out = '';
  writeFileSync(file, '');
  for (let i = 0; i < lines; i++) {
    if (r() < 0.001) {
      // Printable junk (mtail stops at invalid UTF-8, so the shared file stays valid for it).
      out += r() < 0.5 ? 'garbage line without structure\n' : `10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] "GET /broken HTTP/1.1\n`;
      truth.unparsed++;
    } else {
      const ip = r() < 0.03 ? `2001:db8::${(r() * 65535) | 0}` : `${(r() * 223 + 1) | 0}.${(r() * 255) | 0}.${(r() * 255) | 0}.${(r() * 255) | 0}`;
      const m = pick(r, METHODS);
      const s = pick(r, STATUSES);
      const ms = s === 504 ? 60000 + ((r() * 5) | 0) : r() < 0.015 ? 0 : Math.round(Math.exp(Math.log(22) + 1.1 * (r() + r() + r() - 1.5) * 1.4));
      const up = r() < 0.2 ? '-' : r() < 0.05 ? `${(ms / 2000).toFixed(3)}, ${(ms / 2000).toFixed(3)}` : (ms / 1000).toFixed(3);
      const path = PATHS[(r() * PATHS.length) | 0];
      const esc = r() < 0.002 ? '\\"x\\"' : '';
      const bytes = s === 304 || s === 204 ? 0 : (r() * 50000) | 0;
      const stamp = `[10/Oct/2023:13:55:${String(i % 60).padStart(2, '0')} +0000]`;
      const agent = AGENTS[(r() * AGENTS.length) | 0];
      truth.requests++;
      if (kind === 'nginx') {
        out += `${ip} - - ${stamp} "${m} ${path}${esc} HTTP/1.1" ${s} ${bytes} "https://example.com/" "${agent}" ${(ms / 1000).toFixed(3)} "${up}"\n`;
        truth[`c${(s / 100) | 0}`]++;
        truth.sumMs += ms;
        truth.timed++;
      } else {
        // varnishncsa: %r carries the absolute URL, %D is µs, time to first byte in s (6 decimals).
        const handling = pick(r, HANDLING);
        const ttfbUs = Math.round(ms * 1000 * r());
        const url = `http://www.example.com${path}${esc}`;
        if (handling === 'pipe') {
          out += `${ip} - - ${stamp} "${m} ${url} HTTP/1.1" - - "https://example.com/" "${agent}" ${ms * 1000} ${(ttfbUs / 1e6).toFixed(6)} pipe miss\n`;
          truth.pipe++;
        } else {
          out += `${ip} - - ${stamp} "${m} ${url} HTTP/1.1" ${s} ${bytes} "https://example.com/" "${agent}" ${ms * 1000} ${(ttfbUs / 1e6).toFixed(6)} ${handling} ${handling === 'hit' ? 'hit' : 'miss'}\n`;
          truth[`c${(s / 100) | 0}`]++;
          truth.sumMs += ms;
          truth.timed++;
          if (handling === 'hit') truth.hit++;
        }
      }
    }
    if (out.length > 1 << 20) {
      appendFileSync(file, out);
      out = '';
    }
  }
  appendFileSync(file, out);
  return truth;
}

// ---------------------------------------------------------------- child: telltale once()
async function child(file, stateDir, mode, format = 'nginx_combined_rt') {
  const { accessLog } = await import(join(dist, 'integrations/access_log/index.js'));
  await accessLog.load();
  const { createEmitter } = await import(join(dist, 'shared/emitter/emitter.js'));
  const { createLogger } = await import(join(dist, 'shared/core/log/logger.js'));
  const { createSelfMetrics } = await import(join(dist, 'shared/core/runtime/self-metrics.js'));
  const { createStateFiles } = await import(join(dist, 'shared/core/runtime/state-files.js'));
  const { validate } = await import(join(dist, 'shared/core/config/schema.js'));
  const counters = new Map();
  let timings = 0;
  let sumMs = 0;
  const sink = {
    name: 'count',
    counter: (n, v) => counters.set(n, (counters.get(n) ?? 0) + v),
    gauge() {},
    gaugeDelta() {},
    timing: (n, v) => {
      if (n !== 'bench.response_time') return;
      timings++;
      sumMs += v;
    },
    set() {},
    datapoint() {},
    flush: async () => {},
    close: async () => {},
    stats: () => ({ sent: 0, bytes: 0, dropped: {}, errors: 0, queued: 0, reconnects: 0 }),
  };
  const root = createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
  const raw = mode === 'tail10'
    ? { path: join(file, '*.log'), format: 'nginx_combined_rt', name: 'bench', start_at: 'beginning', poll_interval: '50ms', flush_interval: '1s' }
    : mode.startsWith('glob:')
      ? { path: join(file, '*.log'), format: 'nginx_combined_rt', name: 'bench', threads: Number(mode.slice(5)) }
      : mode === 'idle'
        ? { path: join(file, '*.log'), format: 'nginx_combined_rt', name: 'bench', start_at: 'beginning', flush_interval: '1s', state_file: join(stateDir, 'offsets.json') }
        : { path: file, format, name: 'bench' };
  const v = validate(accessLog.schema, raw);
  if ('issues' in v) throw new Error(JSON.stringify(v.issues));
  const abort = new AbortController();
  const ctx = {
    name: 'bench',
    emitter: root.child({ prefix: '' }),
    log: createLogger({ level: 'warn' }),
    clock: { now: Date.now },
    signal: abort.signal,
    self: createSelfMetrics(root, 'access_log', 'bench'),
    stateDir,
    state: createStateFiles(stateDir, { type: 'access_log', instance: 'bench' }),
    intervalMs: 1000,
    env: process.env,
    stdio: { stdin: process.stdin, stdout: process.stdout },
  };
  const integ = accessLog.create(v.value, ctx);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  if (mode === 'tail10' || mode === 'idle') {
    // Follow the files until told to stop on stdin.
    await integ.start();
    await new Promise((r) => process.stdin.once('data', r));
    process.stdin.destroy();
    await integ.stop();
  } else {
    await integ.once();
    await integ.stop();
  }
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  process.stdout.write(
    JSON.stringify({
      ms: t1 - t0,
      cpuMs: (c1.user + c1.system) / 1000,
      requests: counters.get('bench.requests') ?? 0,
      unparsed: counters.get('bench.unparsed') ?? 0,
      c2: counters.get('bench.status.2xx') ?? 0,
      c5: counters.get('bench.status.5xx') ?? 0,
      hit: counters.get('bench.cache.hit') ?? 0,
      pipe: counters.get('bench.cache.pipe') ?? 0,
      timings,
      sumMs: Math.round(sumMs),
    }) + '\n',
  );
}

// ---------------------------------------------------------------- measuring helpers
/** Runs argv under GNU time; returns wall s, peak RSS MB, CPU s and stdout. */
function timed(argv, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '@@%e %M %U %S', ...argv], { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  const wall = (performance.now() - t0) / 1000; // GNU time's %e has only 10 ms resolution
  const m = /@@([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  if (!m || r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${(r.stderr ?? '').slice(-800)}`);
  return { wall, rssMb: Number(m[2]) / 1024, cpu: Number(m[3]) + Number(m[4]), stdout: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtRate = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);

const MTAIL_PROG = String.raw`
counter requests by class
counter good
counter bad
counter unparsed
histogram request_time_ms buckets 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000

/^(?P<client>\S+) \S+ \S+ \[[^\]]*\] "(?:[^"\\]|\\.)*" (?P<status>\d{3}) (?:\d+|-) "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*" (?P<rt>\d+\.\d+) "[^"]*"$/ {
  $status >= 500 {
    requests["5xx"]++
  } else {
    $status >= 400 {
      requests["4xx"]++
    } else {
      $status >= 300 {
        requests["3xx"]++
      } else {
        requests["2xx"]++
      }
    }
  }
  $status < 400 {
    good++
  } else {
    bad++
  }
  request_time_ms = $rt * 1000
} else {
  unparsed++
}
`;

const argLines = process.argv.indexOf('--lines');
const N = argLines > 0 ? Number(process.argv[argLines + 1]) : 1_000_000;

/** Runs `fn` in a scratch directory that is removed afterwards, however `fn` ends. */
async function inWorkDir(fn) {
  const work = mkdtempSync(join(tmpdir(), 'telltale-bench-al-'));
  try {
    await fn(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(work) {
  const log = join(work, 'access.log');
  let t = performance.now();
  const truth = generate(log, N, 42);
  const bytes = readFileSync(log).length;
  process.stdout.write(`access_log bench: ${N.toLocaleString()} nginx lines (${(bytes / 1e6).toFixed(1)} MB) generated in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  timed(['sh', '-c', `cat "${log}" > /dev/null`]); // warm the page cache

  const RUNS = 3;
  const rows = [];
  const cat = [];
  for (let i = 0; i < RUNS; i++) cat.push(timed(['sh', '-c', `cat "${log}" > /dev/null`]));
  rows.push({ tool: 'cat (floor)', runs: cat });

  const tt = [];
  let check;
  for (let i = 0; i < RUNS; i++) {
    const state = join(work, `state-${i}`);
    const r = timed(['node', fileURLToPath(import.meta.url), '--child', log, state, 'once']);
    tt.push(r);
    check = JSON.parse(r.stdout);
  }
  rows.push({ tool: 'telltale access_log once()', runs: tt });

  // The same mix of requests as varnishncsa writes them, read right after, in the same run.
  const vlog = join(work, 'varnishncsa.log');
  const vtruth = generate(vlog, N, 42, 'varnish');
  const vbytes = readFileSync(vlog).length;
  timed(['sh', '-c', `cat "${vlog}" > /dev/null`]);
  const vt = [];
  let vcheck;
  for (let i = 0; i < RUNS; i++) {
    const r = timed(['node', fileURLToPath(import.meta.url), '--child', vlog, join(work, `vstate-${i}`), 'once', 'varnishncsa_extended']);
    vt.push(r);
    vcheck = JSON.parse(r.stdout);
  }
  rows.push({ tool: `telltale once(), varnishncsa_extended (${(vbytes / 1e6).toFixed(0)} MB)`, runs: vt });

  const mtailBin = '/usr/bin/mtail';
  let mtailOut;
  if (existsSync(mtailBin)) {
    const progs = join(work, 'progs');
    mkdirSync(progs);
    writeFileSync(join(progs, 'accesslog.mtail'), MTAIL_PROG);
    const m = timed([mtailBin, '--one_shot', '--one_shot_format=prometheus', '--progs', progs, '--logs', log, '--address=127.0.0.1', '--port=0', '--logtostderr']);
    rows.push({ tool: 'mtail --one_shot (rc50)', runs: [m] });
    mtailOut = m.stdout;
  } else process.stdout.write('mtail not installed (apt-get install mtail): its row is missing\n');

  // Correctness: everyone must agree with the generator before speed means anything.
  const ok = check.requests === truth.requests && check.unparsed === truth.unparsed && check.timings === truth.timed && check.sumMs === truth.sumMs;
  process.stdout.write(
    `\ncorrectness: telltale requests ${check.requests} / truth ${truth.requests}, unparsed ${check.unparsed} / ${truth.unparsed}, ` +
      `timers ${check.timings} / ${truth.timed}, Σms ${check.sumMs} / ${truth.sumMs} → ${ok ? 'OK' : 'MISMATCH'}\n`,
  );
  const vok =
    vcheck.requests === vtruth.requests &&
    vcheck.unparsed === vtruth.unparsed &&
    vcheck.timings === vtruth.timed &&
    vcheck.sumMs === vtruth.sumMs &&
    vcheck.hit === vtruth.hit &&
    vcheck.pipe === vtruth.pipe;
  process.stdout.write(
    `correctness (varnishncsa): requests ${vcheck.requests} / ${vtruth.requests}, unparsed ${vcheck.unparsed} / ${vtruth.unparsed}, ` +
      `timers ${vcheck.timings} / ${vtruth.timed}, Σms ${vcheck.sumMs} / ${vtruth.sumMs}, cache.hit ${vcheck.hit} / ${vtruth.hit}, ` +
      `cache.pipe ${vcheck.pipe} / ${vtruth.pipe} → ${vok ? 'OK' : 'MISMATCH'}\n`,
  );
  if (mtailOut) {
    const reqs = [...mtailOut.matchAll(/^requests\{class="\dxx"[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
    const unp = /^unparsed\{[^}]*\} (\d+)/m.exec(mtailOut)?.[1] ?? /^unparsed (\d+)/m.exec(mtailOut)?.[1];
    process.stdout.write(`correctness: mtail requests ${reqs} / truth ${truth.requests}, unparsed ${unp} / ${truth.unparsed}\n`);
  }

  const catWall = median(cat.map((r) => r.wall));
  const mtailRow = rows.find((r) => r.tool.startsWith('mtail'));
  const mtailWall = mtailRow ? median(mtailRow.runs.map((r) => r.wall)) : undefined;
  process.stdout.write(`\n| tool | runs | median wall s | lines/s | vs cat | vs mtail | CPU s | peak RSS MB |\n|---|---|---|---|---|---|---|---|\n`);
  for (const row of rows) {
    const wall = median(row.runs.map((r) => r.wall));
    const rate = N / Math.max(wall, 0.001);
    process.stdout.write(
      `| ${row.tool} | ${row.runs.length} | ${wall.toFixed(2)} | ${fmtRate(rate)} | ${(wall / Math.max(catWall, 0.01)).toFixed(0)}× slower | ${mtailWall ? `${(mtailWall / wall).toFixed(1)}×` : '—'} | ${median(row.runs.map((r) => r.cpu)).toFixed(2)} | ${Math.max(...row.runs.map((r) => r.rssMb)).toFixed(0)} |\n`,
    );
  }
  const inProc = median(tt.map((r) => JSON.parse(r.stdout).ms));
  process.stdout.write(`\ntelltale once() itself (excluding node start-up and imports): ${(inProc / 1000).toFixed(2)} s = ${fmtRate(N / (inProc / 1000))} lines/s\n`);
  const ttWall = median(tt.map((r) => r.wall));
  process.stdout.write(
    `one file, wall incl. start-up vs in-process: ${fmtRate(N / ttWall)} vs ${fmtRate(N / (inProc / 1000))} lines/s = ${(inProc / 1000 / ttWall).toFixed(2)}× (goal ≥ 0.9×; start-up + imports ${(ttWall - inProc / 1000).toFixed(2)} s)\n`,
  );
  // CPU moves far less than wall on a shared machine: the same ratio in CPU seconds.
  const inProcCpu = median(tt.map((r) => JSON.parse(r.stdout).cpuMs)) / 1000;
  const ttCpu = median(tt.map((r) => r.cpu));
  process.stdout.write(`same in CPU: once() ${inProcCpu.toFixed(2)} s of ${ttCpu.toFixed(2)} s for the whole process = ${(inProcCpu / ttCpu).toFixed(2)}×\n`);
  const vInProc = median(vt.map((r) => JSON.parse(r.stdout).ms));
  process.stdout.write(`the same, varnishncsa_extended: ${(vInProc / 1000).toFixed(2)} s = ${fmtRate(N / (vInProc / 1000))} lines/s\n`);
  process.stdout.write(`(wall includes process start-up: node ≈ 0.05–0.1 s; the machine is shared, so CPU s is the steadier column.)\n`);

  await multi(work, Math.floor(N / 4));
  await steady(work);
  await idle(work);
}

/**
 * --once over 4 files of `per` lines each: worker threads (one per core: 2 here) against one
 * thread, wall incl. start-up and the once() itself, in the same run (alternating runs).
 */
async function multi(work, per) {
  const dir = join(work, 'multi');
  mkdirSync(dir);
  const truth = { requests: 0, timed: 0, sumMs: 0 };
  for (let f = 0; f < 4; f++) {
    const t = generate(join(dir, `vhost${f}.log`), per, 100 + f);
    truth.requests += t.requests;
    truth.timed += t.timed;
    truth.sumMs += t.sumMs;
  }
  timed(['sh', '-c', `cat "${dir}"/*.log > /dev/null`]);
  const cores = Math.min(4, (await import('node:os')).availableParallelism());
  const rows = { 1: [], [cores]: [] };
  for (let i = 0; i < 3; i++) {
    for (const threads of [1, cores]) {
      const r = timed(['node', fileURLToPath(import.meta.url), '--child', dir, join(work, `state-multi-${threads}-${i}`), `glob:${threads}`]);
      rows[threads].push({ ...r, res: JSON.parse(r.stdout) });
    }
  }
  const ok = (res) => res.requests === truth.requests && res.timings === truth.timed && res.sumMs === truth.sumMs;
  const one = rows[1];
  const par = rows[cores];
  process.stdout.write(`\n4 files × ${per.toLocaleString()} lines, --once (median of 3, alternating):\n`);
  process.stdout.write(`| threads | wall s | once() s | CPU s | peak RSS MB | counts |\n|---|---|---|---|---|---|\n`);
  for (const [label, rs] of [[`1 (main thread)`, one], [`${cores} worker threads`, par]]) {
    process.stdout.write(
      `| ${label} | ${median(rs.map((r) => r.wall)).toFixed(2)} | ${(median(rs.map((r) => r.res.ms)) / 1000).toFixed(2)} | ${median(rs.map((r) => r.cpu)).toFixed(2)} | ${Math.max(...rs.map((r) => r.rssMb)).toFixed(0)} | ${rs.every((r) => ok(r.res)) ? 'OK' : 'MISMATCH'} |\n`,
    );
  }
  const speedWall = median(one.map((r) => r.wall)) / median(par.map((r) => r.wall));
  const speedOnce = median(one.map((r) => r.res.ms)) / median(par.map((r) => r.res.ms));
  process.stdout.write(`speed-up on ${cores} threads: ${speedWall.toFixed(2)}× wall, ${speedOnce.toFixed(2)}× once() (goal ≥ 1.7× on 2 cores)\n`);
  process.stdout.write(`correctness: requests ${par[0].res.requests} / truth ${truth.requests}, timers ${par[0].res.timings} / ${truth.timed}, Σms ${par[0].res.sumMs} / ${truth.sumMs} → ${[...one, ...par].every((r) => ok(r.res)) ? 'OK' : 'MISMATCH'}\n`);
}

/** 10 files tailed: 9 idle-ish, total 10,000 lines/s appended; CPU and peak RSS of the follower. */
async function steady(work) {
  const dir = join(work, 'tail10');
  mkdirSync(dir);
  const line = (i) => `192.0.2.${i % 250} - - [10/Oct/2023:13:55:36 +0000] "GET /api/v1/items/${i} HTTP/1.1" 200 512 "-" "Mozilla/5.0" 0.012 "0.010"\n`;
  // Start with 100k lines per file so the first catch-up exercises full-speed reading of 10 files.
  for (let f = 0; f < 10; f++) {
    let s = '';
    for (let i = 0; i < 100_000; i++) s += line(i);
    writeFileSync(join(dir, `site${f}.log`), s);
  }
  const state = join(work, 'state-tail10');
  const proc = spawn('/usr/bin/time', ['-f', '@@%e %M %U %S', 'node', fileURLToPath(import.meta.url), '--child', dir, state, 'tail10'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const SECONDS = 8;
  const RATE = 10_000;
  const start = performance.now();
  let written = 0;
  await new Promise((r) => setTimeout(r, 1500)); // catch-up of the 1,000,000 backlog lines
  const steadyStart = performance.now();
  const cpuAt = () => {
    try {
      const pid = execFileSync('pgrep', ['-P', String(proc.pid)], { encoding: 'utf8' }).trim().split('\n')[0];
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks
    } catch {
      return NaN;
    }
  };
  const cpu0 = cpuAt();
  while (performance.now() - steadyStart < SECONDS * 1000) {
    // 100 ms batches spread over the 10 files.
    const target = Math.floor(((performance.now() - steadyStart) / 1000) * RATE);
    const per = Math.floor((target - written) / 10);
    if (per > 0) {
      for (let f = 0; f < 10; f++) {
        let s = '';
        for (let i = 0; i < per; i++) s += line(written + i);
        appendFileSync(join(dir, `site${f}.log`), s);
      }
      written += per * 10;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const cpu1 = cpuAt();
  const steadySecs = (performance.now() - steadyStart) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  proc.stdin.write('stop\n');
  await new Promise((r) => proc.on('exit', r));
  const m = /@@([\d.]+) (\d+)/.exec(err);
  const res = JSON.parse(out.trim().split('\n').pop());
  const expected = 1_000_000 + written;
  process.stdout.write(`\n10 files tailed (1,000,000 backlog lines, then ${(written / steadySecs).toFixed(0)} lines/s for ${steadySecs.toFixed(1)} s):\n`);
  process.stdout.write(`| measure | value | goal |\n|---|---|---|\n`);
  process.stdout.write(`| peak RSS | ${m ? (Number(m[2]) / 1024).toFixed(0) : '?'} MB | < 80 MB |\n`);
  process.stdout.write(`| CPU at steady rate | ${(((cpu1 - cpu0) / steadySecs) * 100).toFixed(1)} % of a core | < 5 % |\n`);
  process.stdout.write(`| lines counted / written | ${res.requests} / ${expected} | equal |\n`);
  process.stdout.write(`(started ${((steadyStart - start) / 1000).toFixed(1)} s after launch; CPU from /proc/<pid>/stat, 10 ms ticks)\n`);
}

/**
 * 10,000 one-line files that nobody writes to (vhost logs of idle sites), default poll_interval
 * (250 ms), flush_interval 1 s: CPU of the follower once it has read them, and how often it
 * rewrote its state file meanwhile.
 */
async function idle(work) {
  const FILES = 10_000;
  const dir = join(work, 'idle');
  mkdirSync(dir);
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `site${i}.log`), `192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 512 "-" "x" 0.012 "0.010"\n`);
  const past = new Date(Date.now() - 60_000);
  utimesSync(dir, past, past);
  const stateDir = join(work, 'state-idle');
  mkdirSync(stateDir);
  const state = join(stateDir, 'offsets.json');
  const proc = spawn('node', [fileURLToPath(import.meta.url), '--child', dir, stateDir, 'idle'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const cpuOf = () => {
    const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const ino = () => {
    try {
      return statSync(state).ino;
    } catch {
      return -1;
    }
  };
  // Until every file is read and its position saved (positions are written one flush behind).
  const t0 = performance.now();
  while (performance.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 200));
    try {
      if (JSON.parse(readFileSync(state, 'utf8')).files.length === FILES) break;
    } catch {
      // not written yet
    }
  }
  await new Promise((r) => setTimeout(r, 1500));
  const SECONDS = 10;
  const cpu0 = cpuOf();
  let writes = 0;
  let last = ino();
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, 100));
    const now = ino();
    if (now !== last) writes++;
    last = now;
  }
  const secs = (performance.now() - start) / 1000;
  const cpu1 = cpuOf();
  proc.stdin.write('stop\n');
  await new Promise((r) => proc.on('exit', r));
  const res = JSON.parse(out.trim().split('\n').pop());
  process.stdout.write(`\n${FILES.toLocaleString()} idle files followed, poll_interval 250 ms, flush_interval 1 s:\n| measure | value |\n|---|---|\n`);
  process.stdout.write(`| CPU while idle (${secs.toFixed(0)} s) | ${(((cpu1 - cpu0) / secs) * 100).toFixed(1)} % of a core |\n`);
  process.stdout.write(`| state file writes while idle | ${writes} |\n`);
  process.stdout.write(`| lines counted / files | ${res.requests} / ${FILES} |\n`);
}

// One part alone, or (no flag) everything.
const parts = {
  '--idle-only': (work) => idle(work),
  '--multi-only': (work) => multi(work, Math.floor(N / 4)),
  '--steady-only': async (work) => {
    await multi(work, Math.floor(N / 4));
    await steady(work);
  },
};
if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], process.argv[5], process.argv[6]);
else {
  if (!existsSync(join(dist, 'integrations/access_log/index.js'))) {
    console.error('dist/ is missing: run `npm run build` first');
    process.exit(1);
  }
  await inWorkDir(parts[process.argv[2]] ?? main);
}
process.exit(0);
