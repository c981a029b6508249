// Emitter throughput: 1,000,000 counter increments through telltale's statsd and graphite sinks,
// next to hot-shots (unbatched and batched) in the same run, loss measured at a receiver in its
// own process, peak RSS per case. Usage: node bench/emitter.mjs [N]
import { fork, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const N = Number(process.argv[2] ?? 1_000_000);
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const receiver = fork(here('./lib/udp-receiver.mjs'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ask = (msg, type) => new Promise((resolve) => {
  const on = (m) => {
    if (m.type === type) {
      receiver.off('message', on);
      resolve(m);
    }
  };
  receiver.on('message', on);
  if (msg) receiver.send(msg);
});
const { udpPort, tcpPort, tcpPorts } = await ask(null, 'ready');

async function settle() {
  // Wait until the receiver's counts stop moving (the kernel buffer drains) — bounded.
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const r = await ask('report', 'report');
    if (r.lines === last) return r;
    last = r.lines;
    await new Promise((res) => setTimeout(res, 100));
  }
  return ask('report', 'report');
}

const cases = [
  ['hot-shots (unbatched)', 'hot-shots', 0],
  ['hot-shots (maxBufferSize 1432)', 'hot-shots-batched', 0],
  ['telltale statsd (per-line, 1432 B packets)', 'telltale-statsd', 0],
  ['telltale statsd (counters summed, default)', 'telltale-statsd-agg', 0],
  ['telltale graphite (statsd-style aggregation)', 'telltale-graphite', 0],
  ['hot-shots (1432) paced 800k/s', 'hot-shots-batched', 800_000],
  ['telltale statsd (per-line) paced 800k/s', 'telltale-statsd', 800_000],
];

/** One case in its own process; returns its timing and what the receiver counted. */
async function runCase(name, rate) {
  await ask('reset', 'reset');
  const out = execFileSync(process.execPath, [here('./lib/emitter-sender.mjs'), name, String(udpPort), String(tcpPort), String(N), String(rate), tcpPorts.join(',')], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop());
  return { perSec: N / (r.ms / 1000), rss: r.rssMb, got: await settle() };
}

const rows = [];
for (const [label, name, rate] of cases) {
  const { perSec, rss, got } = await runCase(name, rate);
  rows.push({ label, perSec, loss: 1 - got.counterSum / N, rss, datagrams: got.datagrams, lines: got.lines });
}

const base = rows.find((r) => r.label.startsWith('hot-shots (maxBufferSize'))?.perSec ?? 1;
const pad = (s, n) => String(s).padEnd(n);
console.log(`\nemitter: ${N.toLocaleString('en')} counter increments per case (sender and receiver in separate processes)\n`);
console.log(`${pad('case', 46)}${pad('metrics/s', 14)}${pad('vs hot-shots batched', 22)}${pad('loss', 9)}${pad('packets', 10)}${pad('lines rcvd', 12)}peak RSS`);
for (const r of rows) {
  console.log(
    `${pad(r.label, 46)}${pad(Math.round(r.perSec).toLocaleString('en'), 14)}${pad((r.perSec / base).toFixed(2) + 'x', 22)}${pad((r.loss * 100).toFixed(2) + '%', 9)}${pad(r.datagrams, 10)}${pad(r.lines, 12)}${r.rss} MB`,
  );
}
console.log('\nloss = 1 - (sum of counter values received) / increments sent; paced rows send at 800k/s.');

// The graphite sink with several destinations: one line per datapoint() call, so the routing
// cost per line shows. Ratio against the single destination, measured in this run.
const lineCases = [
  ['graphite, 1 destination', 'telltale-graphite-lines:failover:1:1', 1],
  ['graphite, failover over 3', 'telltale-graphite-lines:failover:3:1', 1],
  ['graphite, fnv1a_ch over 3', 'telltale-graphite-lines:fnv1a_ch:3:1', 1],
  ['graphite, carbon_ch over 3', 'telltale-graphite-lines:carbon_ch:3:1', 1],
  ['graphite, jump_fnv1a_ch over 3', 'telltale-graphite-lines:jump_fnv1a_ch:3:1', 1],
  ['graphite, fnv1a_ch over 3, replication 2', 'telltale-graphite-lines:fnv1a_ch:3:2', 2],
];
const lineRows = [];
for (const [label, name, copies] of lineCases) {
  const { perSec, rss, got } = await runCase(name, 0);
  lineRows.push({ label, perSec, loss: 1 - got.lines / (N * copies), rss, lines: got.lines });
}
receiver.send('exit');
const single = lineRows[0].perSec;
console.log(`\ngraphite sink, ${N.toLocaleString('en')} datapoint() calls per case (1000 names, one line each)\n`);
console.log(`${pad('case', 46)}${pad('lines/s', 14)}${pad('vs 1 destination', 22)}${pad('loss', 9)}${pad('lines rcvd', 12)}peak RSS`);
for (const r of lineRows) {
  console.log(`${pad(r.label, 46)}${pad(Math.round(r.perSec).toLocaleString('en'), 14)}${pad((r.perSec / single).toFixed(2) + 'x', 22)}${pad((r.loss * 100).toFixed(2) + '%', 9)}${pad(r.lines, 12)}${r.rss} MB`);
}
console.log('\nlines/s = calls / (time until close() drained every destination); loss = 1 - lines received / (calls x replication).');
