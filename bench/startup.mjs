#!/usr/bin/env node
/**
 * Start-up and one-shot commands, wall time next to `node -e 0` measured in the same run:
 *   - `telltale --version`, `telltale --help`, `telltale check` (no integration code runs),
 *   - `telltale host --once` (one sample of /proc, sent to a local UDP socket),
 *   - `telltale cloudwatch_billing --once` against the HTTP fake CloudWatch (real SDK, real
 *     signing; 5 accounts × 30 services), as cron runs it.
 * Runs are interleaved (node, A, B, ... node, A, B, ...) so a busy neighbour slows every row
 * alike, and each row is the median. With `--baseline DIR` (a built checkout, e.g. of main in a
 * scratch directory: `git archive main | tar -x -C DIR && cd DIR && ln -s $PWD/node_modules . &&
 * npm run build`) the same commands of that build are measured too, in the same run.
 *
 * Usage: npm run build && node bench/startup.mjs [--runs N] [--baseline DIR]
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { billingDataset, startFakeCloudWatch } from '../integrations/cloudwatch_billing/test/fake-cloudwatch.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(arg('--runs', '11'));
const baseline = arg('--baseline', undefined);

/** The command's entry in a build: the bin script of package.json. */
function entry(dir) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return join(dir, pkg.bin.telltale);
}

const cli = entry(root);
if (!existsSync(cli)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'telltale-bench-startup-'));
const udp = createSocket('udp4');
let packets = 0;
udp.on('message', () => packets++);
await new Promise((r) => udp.bind(0, '127.0.0.1', r));
const udpPort = udp.address().port;

// A Graphite line receiver that only counts bytes (the datapoints of cloudwatch_billing).
let graphiteBytes = 0;
const tcp = createServer((s) => s.on('data', (d) => (graphiteBytes += d.length)));
await new Promise((r) => tcp.listen(0, '127.0.0.1', r));
const tcpPort = tcp.address().port;

const nowSec = Math.floor(Date.now() / 1000);
const services = Array.from({ length: 30 }, (_, i) => `Service${String(i).padStart(2, '0')}`);
const accounts = Array.from({ length: 5 }, (_, i) => String(111111111111 * (i + 1)).padStart(12, '0'));
const fake = await startFakeCloudWatch({
  series: billingDataset({ services, accounts, endSec: nowSec, hours: 96, everyHours: 6, rate: (s) => Number(s.slice(7)) + 1 }),
});

const config = join(work, 'integrations.yaml');
writeFileSync(
  config,
  `emitter:
  prefix: bench
  sinks:
    - type: statsd
      address: udp://127.0.0.1:${udpPort}
    - type: graphite
      address: tcp://127.0.0.1:${tcpPort}
state_dir: ${join(work, 'state')}
integrations:
  host:
    type: host
  billing:
    type: cloudwatch_billing
    endpoint: ${fake.url}
    lookback: 48h
`,
);
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'AKIDFAKE',
  AWS_SECRET_ACCESS_KEY: 'fake-secret',
  AWS_SHARED_CREDENTIALS_FILE: join(work, 'none'),
  AWS_CONFIG_FILE: join(work, 'none'),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // The caches the runs share, as a user's repeated cron runs would (compile cache: Node >= 22).
  TELLTALE_CACHE_DIR: join(work, 'cache'),
};
delete env.AWS_PROFILE;
delete env.NODE_COMPILE_CACHE;

const commands = [
  { name: '--version', args: ['--version'], ok: [0] },
  { name: '--help', args: ['--help'], ok: [0] },
  { name: 'check', args: ['check', '--config', config], ok: [0, 1] },
  { name: 'host --once', args: ['host', '--once', '--config', config], ok: [0] },
  { name: 'cloudwatch_billing --once', args: ['cloudwatch_billing', '--once', '--config', config], ok: [0] },
];

/** Async, so the fake CloudWatch in this process can answer while the command runs. */
function run(argv) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const c = spawn(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (status) => {
      clearTimeout(kill);
      resolve({ wall: (performance.now() - t0) / 1000, status, stderr });
    });
  });
}

const builds = [{ label: 'this', cli }];
if (baseline) builds.push({ label: 'baseline', cli: entry(baseline) });

const samples = new Map();
const add = (k, v) => (samples.get(k) ?? samples.set(k, []).get(k)).push(v);
try {
  // One warm-up of everything: the page cache, and the compile cache where there is one.
  await run(['-e', '0']);
  for (const b of builds) for (const c of commands) await run([b.cli, ...c.args]);
  for (let i = 0; i < RUNS; i++) {
    add('node -e 0', (await run(['-e', '0'])).wall);
    for (const b of builds) {
      for (const c of commands) {
        const r = await run([b.cli, ...c.args]);
        if (!c.ok.includes(r.status)) throw new Error(`${b.label} ${c.name} exited ${r.status}: ${r.stderr.slice(-600)}`);
        add(`${b.label}\t${c.name}`, r.wall);
      }
    }
  }
} finally {
  await fake.close();
  udp.close();
  tcp.close();
  rmSync(work, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const floor = median(samples.get('node -e 0'));
const goals = { '--version': '≤ 1.5×', 'host --once': '≤ 2×' };
console.log(`start-up: median wall of ${RUNS} interleaved runs each, Node ${process.version}; statsd packets received: ${packets}, graphite bytes: ${graphiteBytes}`);
console.log(`\n| command | build | median wall s | × node -e 0 | goal |${baseline ? ' × baseline |' : ''}\n|---|---|---|---|---|${baseline ? '---|' : ''}`);
console.log(`| node -e 0 | — | ${floor.toFixed(3)} | 1.00 | |${baseline ? ' |' : ''}`);
for (const c of commands) {
  for (const b of builds) {
    const m = median(samples.get(`${b.label}\t${c.name}`));
    const base = baseline ? median(samples.get(`baseline\t${c.name}`)) : undefined;
    const goal = b.label === 'this' ? (goals[c.name] ?? (c.name.startsWith('cloudwatch') && baseline ? '≤ 0.5× baseline' : '')) : '';
    console.log(`| ${c.name} | ${b.label} | ${m.toFixed(3)} | ${(m / floor).toFixed(2)} | ${goal} |${baseline ? ` ${(m / base).toFixed(2)} |` : ''}`);
  }
}
console.log('(the machine may be shared: the ratios, measured in one interleaved run, are the figures to read)');
process.exit(0);
