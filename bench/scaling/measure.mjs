// The measurements behind docs/scaling.md, re-made on this machine (needs `npm run build`,
// Debian carbon-c-relay, graphite-carbon, python3-whisper). Not part of `npm run bench`: it starts
// real servers and takes a few minutes. Usage: node bench/scaling/measure.mjs
//
// 1. Lines per flush per integration with the shipped defaults: the built CLI with the console
//    sink on the repository's test data; every name repeats each flush (idle stats are kept).
// 2. carbon-c-relay: 1,000,000 lines into one relay (fnv1a_ch, replication 2, three destinations),
//    next to the same lines sent straight to the receiver, in the same run.
// 3. carbon-cache: 200,000 points over 2,000 new series into one carbon-cache (Debian's
//    settings except the create/update rate limits), time until all are in whisper.
import { execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');
const tmp = mkdtempSync(join(os.tmpdir(), 'telltale-scaling-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
async function waitListen(port, child, what) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited`);
    const ok = await new Promise((res) => {
      const c = net.createConnection({ host: '127.0.0.1', port }, () => (c.destroy(), res(true)));
      c.on('error', () => res(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen`);
}

// ---------------------------------------------------------------------------------------------
// 1. lines per flush
function linesOf(args, input) {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`telltale ${args.join(' ')}: exit ${r.status}\n${r.stderr.slice(-1000)}`);
  const names = new Set();
  let bytes = 0;
  let lines = 0;
  for (const l of r.stderr.split('\n')) {
    const m = /^(\S+) \S+ \d+$/.exec(l);
    if (!m) continue;
    names.add(m[1]);
    bytes += l.length + 1;
    lines++;
  }
  const self = [...names].filter((n) => n.includes('.telltale.')).length;
  return { names: names.size, self, own: names.size - self, avgLineBytes: Math.round(bytes / Math.max(1, lines)) };
}
const base = 'emitter:\n  prefix: fleet.web01\n  sinks:\n    - type: console\nlive:\n  enabled: false\n';
const cfg = (name, body) => {
  const f = join(tmp, `${name}.yaml`);
  writeFileSync(f, `${base}state_dir: ${join(tmp, 'state')}\nintegrations:\n${body}`);
  return f;
};
const fixtures = join(ROOT, 'integrations/puppet_reports/test/fixtures');
mkdirSync(join(tmp, 'reports/web01.example.com'), { recursive: true });
copyFileSync(join(fixtures, 'p7-apply-changes.report.yaml'), join(tmp, 'reports/web01.example.com/202401010000.yaml'));
const perFlush = [
  ['host (defaults: interval 1s, disks [/])', linesOf(['host', '--once', '--config', cfg('host', '  host:\n    type: host\n')])],
  [
    'access_log (defaults; real Apache log, 10,000 lines)',
    linesOf(['access_log', '--once', '--config', cfg('al', `  web:\n    type: access_log\n    path: ${join(ROOT, 'integrations/access_log/test/fixtures/elastic-examples-apache_logs.log')}\n    format: combined\n    start_at: beginning\n`)]),
  ],
  ['puppet_reports (one report, per run)', linesOf(['puppet_reports', '--once', '--config', cfg('pr', `  puppet:\n    type: puppet_reports\n    reportdir: ${join(tmp, 'reports')}\n`)])],
  ['supervisor (recorded supervisord session)', linesOf(['supervisor', '--config', cfg('sv', '  supervisor:\n    type: supervisor\n')], readFileSync(join(ROOT, 'integrations/supervisor/test/fixtures/capture.bin')))],
];

// ---------------------------------------------------------------------------------------------
// 2. carbon-c-relay throughput
const receiver = fork(join(ROOT, 'bench/lib/udp-receiver.mjs'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
children.push(receiver);
const ask = (msg, type) =>
  new Promise((resolve) => {
    const on = (m) => m.type === type && (receiver.off('message', on), resolve(m));
    receiver.on('message', on);
    if (msg) receiver.send(msg);
  });
const { tcpPort, tcpPorts } = await ask(null, 'ready');
const RELAY_LINES = 1_000_000;
const payload = (() => {
  const ts = Math.floor(Date.now() / 1000);
  const parts = [];
  for (let i = 0; i < RELAY_LINES; i++) parts.push(`fleet.host${i % 1000}.metric${i % 97} ${i} ${ts}\n`);
  return Buffer.from(parts.join(''));
})();
async function pushAll(port) {
  await new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port }, () => s.end(payload));
    s.on('close', resolve);
    s.on('error', reject);
  });
}
async function timedDelivery(port, expectLines) {
  await ask('reset', 'reset');
  const t0 = process.hrtime.bigint();
  await pushAll(port);
  for (let i = 0; i < 1200; i++) {
    const r = await ask('report', 'report');
    if (r.lines >= expectLines) break;
    await sleep(50);
  }
  const r = await ask('report', 'report');
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, lines: r.lines };
}
const relayPort = await freePort();
const relayConf = join(tmp, 'relay.conf');
writeFileSync(
  relayConf,
  `listen\n    type linemode\n        127.0.0.1:${relayPort} proto tcp\n    ;\ncluster caches\n    fnv1a_ch replication 2\n${tcpPorts.map((p) => `        127.0.0.1:${p}\n`).join('')}    ;\nmatch * send to caches;\n`,
);
const relay = spawn('/usr/bin/carbon-c-relay', ['-f', relayConf, '-s', '-w', '2', '-q', '2000000'], { stdio: 'ignore' });
children.push(relay);
await waitListen(relayPort, relay, 'carbon-c-relay');
const direct = await timedDelivery(tcpPort, RELAY_LINES);
const relayed = await timedDelivery(relayPort, RELAY_LINES * 2);
relay.kill('SIGTERM');
receiver.send('exit');

// ---------------------------------------------------------------------------------------------
// 3. carbon-cache throughput
const SERIES = 2000;
const POINTS = 100;
const cdir = join(tmp, 'carbon');
mkdirSync(join(cdir, 'conf'), { recursive: true });
const [linePort, picklePort, queryPort] = [await freePort(), await freePort(), await freePort()];
writeFileSync(
  join(cdir, 'conf/carbon.conf'),
  `[cache]\nLINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = ${linePort}\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\nPICKLE_RECEIVER_PORT = ${picklePort}\nCACHE_QUERY_INTERFACE = 127.0.0.1\nCACHE_QUERY_PORT = ${queryPort}\n` +
    'MAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = inf\nMAX_CREATES_PER_MINUTE = inf\nUSE_FLOW_CONTROL = True\nENABLE_TAGS = False\n',
);
writeFileSync(join(cdir, 'conf/storage-schemas.conf'), '[default]\npattern = .*\nretentions = 1s:10m,10s:1d\n');
writeFileSync(join(cdir, 'conf/storage-aggregation.conf'), '[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n');
const carbon = spawn('/usr/bin/carbon-cache', [`--config=${join(cdir, 'conf/carbon.conf')}`, '--instance=a', '--nodaemon', `--pidfile=${join(cdir, 'pid')}`, 'start'], {
  cwd: cdir,
  env: { ...process.env, GRAPHITE_ROOT: cdir, GRAPHITE_STORAGE_DIR: join(cdir, 'storage'), PYTHONWARNINGS: 'ignore' },
  stdio: 'ignore',
});
children.push(carbon);
await waitListen(picklePort, carbon, 'carbon-cache');
const now = Math.floor(Date.now() / 1000);
const points = [];
for (let p = 0; p < POINTS; p++) for (let s = 0; s < SERIES; s++) points.push(`scale.host${s % 100}.m${s} ${p} ${now - 300 + p}\n`);
const t0 = process.hrtime.bigint();
await new Promise((resolve, reject) => {
  const s = net.createConnection({ host: '127.0.0.1', port: linePort }, () => s.end(points.join('')));
  s.on('close', resolve);
  s.on('error', reject);
});
const accepted = Number(process.hrtime.bigint() - t0) / 1e9;
const countScript = `
import os, sys, whisper
root, since = sys.argv[1], int(sys.argv[2])
n = 0
for d, _, files in os.walk(root):
    for f in files:
        if f.endswith('.wsp'):
            (_, _, _), vals = whisper.fetch(os.path.join(d, f), since)
            n += sum(v is not None for v in vals)
print(n)
`;
let stored = 0;
let storedAt = 0;
for (let i = 0; i < 120; i++) {
  stored = Number(execFileSync('/usr/bin/python3', ['-c', countScript, join(cdir, 'storage/whisper/scale'), String(now - 400)], { encoding: 'utf8' }).trim() || 0);
  storedAt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (stored >= SERIES * POINTS) break;
  await sleep(500);
}
carbon.kill('SIGTERM');

// ---------------------------------------------------------------------------------------------
const pad = (s, n) => String(s).padEnd(n);
const fmt = (n) => Math.round(n).toLocaleString('en');
console.log(`\nscaling measurements — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('lines per flush with shipped defaults (each name is sent every flush)');
console.log(`${pad('integration', 56)}${pad('own', 8)}${pad('+ telltale self', 18)}avg line bytes`);
for (const [label, r] of perFlush) console.log(`${pad(label, 56)}${pad(r.own, 8)}${pad(r.self, 18)}${r.avgLineBytes}`);
console.log(`\ncarbon-c-relay 3.7 (fnv1a_ch, replication 2, 3 destinations, -w 2), ${fmt(RELAY_LINES)} lines in`);
console.log(`  straight to the receiver: ${fmt(RELAY_LINES / direct.seconds)} lines/s (${direct.lines} received)`);
console.log(`  through the relay:        ${fmt(RELAY_LINES / relayed.seconds)} lines/s in, ${fmt(relayed.lines / relayed.seconds)} out (${relayed.lines} received), ${(relayed.seconds / direct.seconds).toFixed(2)}x the direct time`);
console.log(`\ncarbon-cache (graphite-carbon ${execFileSync('dpkg-query', ['-W', '-f=${Version}', 'graphite-carbon'], { encoding: 'utf8' })}), ${fmt(SERIES * POINTS)} points over ${fmt(SERIES)} new series`);
console.log(`  accepted (TCP closed): ${accepted.toFixed(1)} s = ${fmt((SERIES * POINTS) / accepted)} points/s`);
console.log(`  in whisper: ${fmt(stored)} points after ${storedAt.toFixed(1)} s = ${fmt(stored / storedAt)} points/s (file creation included)`);
