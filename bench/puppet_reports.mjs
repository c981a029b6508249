#!/usr/bin/env node
/**
 * puppet_reports: parse + emit time for a real 500-resource and a 5,000-resource Puppet report,
 * fast path vs full-document parse, next to Ruby's own load of the same file (Puppet's safe_load
 * + Report.from_data_hash, timed inside Ruby so interpreter start-up is excluded), in this run.
 *
 * The reports come from real `puppet apply` runs (cached in $TMPDIR/telltale-bench-puppet so a
 * second run takes seconds). Needs `npm run build`, puppet and ruby; prints why and exits 0 when
 * they are missing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { rmSync } from 'node:fs';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const truthRb = join(root, 'integrations/puppet_reports/test/truth.rb');

function has(bin) {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!existsSync(join(dist, 'integrations/puppet_reports/parse.js'))) {
  process.stdout.write('puppet_reports bench: dist/ not built (run npm run build); skipped\n');
  process.exit(0);
}
if (!has('puppet') || !has('ruby')) {
  process.stdout.write('puppet_reports bench: puppet and ruby are needed (apt-get install puppet); skipped\n');
  process.exit(0);
}

const { parseReport } = await import(join(dist, 'integrations/puppet_reports/parse.js'));
const { runPoints } = await import(join(dist, 'integrations/puppet_reports/points.js'));
const { createEmitter } = await import(join(dist, 'shared/emitter/emitter.js'));

const cache = join(tmpdir(), 'telltale-bench-puppet');

/**
 * A real report of an n-resource catalog: the first run, so everything changes (~1.3 KB per
 * resource), and one exec fails, so the failed-resource path (titles for the log) is measured too.
 */
function report(n) {
  const dir = join(cache, `failed${n}`);
  const reportdir = join(dir, 'reports');
  const cert = `bench${n}.example.com`;
  const hostDir = join(reportdir, cert);
  if (existsSync(hostDir) && readdirSync(hostDir).some((f) => f.endsWith('.yaml'))) {
    return join(hostDir, readdirSync(hostDir).filter((f) => f.endsWith('.yaml')).sort().at(-1));
  }
  mkdirSync(join(dir, 'out'), { recursive: true });
  const pp = join(dir, 'site.pp');
  writeFileSync(pp, `exec { 'bench-fails': command => '/bin/false' }\nfile { '${dir}/out/d': ensure => directory }\nInteger[1, ${n - 2}].each |$i| { file { "${dir}/out/d/f\${i}": content => "file \${i}\\n" } }\n`);
  const t0 = Date.now();
  try {
    execFileSync('puppet', ['apply', '--confdir', join(dir, 'conf'), '--vardir', join(dir, 'var'), '--codedir', join(dir, 'code'),
      '--logdir', join(dir, 'log'), '--rundir', join(dir, 'run'), '--publicdir', join(dir, 'public'), '--reportdir', reportdir,
      '--reports', 'store', '--report', '--certname', cert, '--color', 'false', pp], { stdio: 'ignore', timeout: 120_000 });
  } catch {
    // exit codes 2/4/6 are fine; a missing report below is not.
  }
  process.stderr.write(`generated a ${n}-resource report with puppet apply in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return join(hostDir, readdirSync(hostDir).filter((f) => f.endsWith('.yaml')).sort().at(-1));
}

/** A sink that only counts: we measure our work, not a transport. */
function nullSink() {
  let n = 0;
  const noop = () => void n++;
  return {
    name: 'null', counter: noop, gauge: noop, gaugeDelta: noop, timing: noop, set: noop, datapoint: noop,
    flush: async () => {}, close: async () => {}, stats: () => ({ sent: n, bytes: 0, dropped: {}, errors: 0, queued: 0, reconnects: 0 }),
  };
}

const emitter = createEmitter({ sinks: [nullSink()], selfMetrics: false, flushIntervalMs: 3_600_000, maxPastSeconds: 10 * 366 * 86_400 }).child({ prefix: 'puppet' });

function parseAndEmit(text, where, forceFull) {
  const run = parseReport(text, where, { forceFull });
  const pts = runPoints(run, { compat: 'default', evenupSuffix: 'puppet', evenupReverseHost: true });
  const ts = Math.floor(run.time);
  for (const p of pts) emitter.datapoint(p.name, p.value, ts);
  return pts.length;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn, runs) {
  fn(); // warm-up
  const out = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(out);
}

const rows = [];
for (const [n, runs, rubyRuns] of [[500, 15, 5], [5000, 5, 2]]) {
  const file = report(n);
  // From the bytes, as the service hands a file over (the full parse decodes them first).
  const data = readFileSync(file);
  const points = parseAndEmit(data, file, false);
  const fast = time(() => parseAndEmit(data, file, false), runs);
  const full = time(() => parseAndEmit(data, file, true), runs);
  const ruby = JSON.parse(execFileSync('ruby', [truthRb, '--time', String(rubyRuns), file], { encoding: 'utf8', timeout: 120_000 })).ms_per_load;
  rows.push({ n, bytes: statSync(file).size, points, fast, full, ruby });
}

const fmt = (ms) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const lines = [
  'puppet_reports: parse + emit one real puppet apply report (median; Ruby = Puppet safe_load + from_data_hash, same file, same run)',
  '',
  `${'catalog'.padEnd(16)}${'file'.padStart(10)}${'points'.padStart(8)}${'fast path'.padStart(12)}${'full parse'.padStart(13)}${'Ruby load'.padStart(12)}${'Ruby/fast'.padStart(11)}${'Ruby/full'.padStart(11)}`,
];
for (const r of rows) {
  lines.push(
    `${`${r.n} resources`.padEnd(16)}${`${(r.bytes / 1024 / 1024).toFixed(2)} MB`.padStart(10)}${String(r.points).padStart(8)}${fmt(r.fast).padStart(12)}${fmt(r.full).padStart(13)}${fmt(r.ruby).padStart(12)}${`${(r.ruby / r.fast).toFixed(1)}x`.padStart(11)}${`${(r.ruby / r.full).toFixed(1)}x`.padStart(11)}`,
  );
}
lines.push('', `node peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (both files, both paths)`);
lines.push('Both runs failed (one exec): the fast path also cuts out and parses the failed entries for the log.');
lines.push('From the file\'s bytes. fast path = root scalars + metrics block decoded, log levels counted by line; full = the whole file decoded and loaded by js-yaml.');
process.stdout.write(lines.join('\n') + '\n');

/**
 * backfill: true over 50 stored copies of the 5,000-resource report (distinct hosts and
 * transaction uuids), as `telltale puppet_reports --once` runs it, into a Graphite receiver that
 * counts lines: one thread against one worker thread per core, wall incl. start-up, alternating
 * runs in the same process. The lines sent must be the same number both ways.
 */
async function backfillBench() {
  const source = readFileSync(report(5000), 'utf8');
  const root = join(tmpdir(), `telltale-bench-puppet-backfill-${process.pid}`);
  const reportdir = join(root, 'reports');
  const REPORTS = 50;
  for (let h = 0; h < REPORTS; h++) {
    const host = `node${String(h).padStart(2, '0')}.example.com`;
    mkdirSync(join(reportdir, host), { recursive: true });
    const text = source
      .replace(/^host: .*$/m, `host: ${host}`)
      .replace(/^transaction_uuid: .*$/m, `transaction_uuid: 00000000-0000-4000-8000-${String(h).padStart(12, '0')}`);
    writeFileSync(join(reportdir, host, '202601011200.yaml'), text);
  }
  let lines = 0;
  let tail = '';
  const server = createServer((sock) =>
    sock.on('data', (d) => {
      const s = tail + d.toString('latin1');
      const parts = s.split('\n');
      tail = parts.pop();
      // The run's own datapoints; self-metrics (emitter queue gauges...) vary with timing.
      lines += parts.filter((l) => !l.includes('.telltale.')).length;
    }),
  );
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const cli = join(dist, 'cli/bin.js');
  const cores = availableParallelism();
  const run = (threads, i) =>
    new Promise((resolve, reject) => {
      const config = join(root, `c-${threads}-${i}.yaml`);
      writeFileSync(
        config,
        `emitter:\n  prefix: bench\n  sinks:\n    - type: graphite\n      address: tcp://127.0.0.1:${server.address().port}\nstate_dir: ${join(root, `state-${threads}-${i}`)}\nintegrations:\n  puppet:\n    type: puppet_reports\n    reportdir: ${reportdir}\n    backfill: true\n    threads: ${threads}\n`,
      );
      const before = lines;
      const t0 = performance.now();
      const c = spawn(process.execPath, [cli, 'puppet_reports', '--once', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('close', (code) => {
        const wall = (performance.now() - t0) / 1000;
        if (code !== 0) reject(new Error(`puppet_reports --once exited ${code}: ${err.slice(-600)}`));
        // The receiver may still be reading the last bytes: give it a moment to count them.
        else setTimeout(() => resolve({ wall, lines: lines - before }), 1000);
      });
    });
  const rows = { 1: [], [cores]: [] };
  try {
    for (let i = 0; i < 3; i++) for (const t of [1, cores]) rows[t].push(await run(t, i));
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
  const one = median(rows[1].map((r) => r.wall));
  const par = median(rows[cores].map((r) => r.wall));
  const sameLines = [...rows[1], ...rows[cores]].every((r) => r.lines === rows[1][0].lines);
  const out = [
    '',
    `backfill of ${REPORTS} stored 5,000-resource reports (${((source.length * REPORTS) / 1e6).toFixed(0)} MB), puppet_reports --once, wall incl. start-up (median of 3, alternating):`,
    `| threads | wall s | reports/s |`,
    `|---|---|---|`,
    `| 1 (main thread) | ${one.toFixed(2)} | ${(REPORTS / one).toFixed(1)} |`,
    `| ${cores} worker threads | ${par.toFixed(2)} | ${(REPORTS / par).toFixed(1)} |`,
    `speed-up: ${(one / par).toFixed(2)}× (goal ≥ 1.7× on 2 cores); Graphite lines per run ${rows[1][0].lines} → ${sameLines ? 'same in every run' : 'MISMATCH'}`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

await backfillBench();
