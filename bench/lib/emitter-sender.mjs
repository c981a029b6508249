// One benchmark case in its own process (so peak RSS is the case's own). Prints one JSON line.
import { createRequire } from 'node:module';
import { createEmitter } from '../../dist/shared/emitter/emitter.js';
import { createStatsdSink } from '../../dist/shared/emitter/statsd-sink.js';
import { createGraphiteSink } from '../../dist/shared/emitter/graphite-sink.js';

const require = createRequire(import.meta.url);
const [caseName, udpPortS, tcpPortS, nS, rateS, tcpPortsS = ''] = process.argv.slice(2);
const tcpPorts = tcpPortsS.split(',').filter(Boolean).map(Number);
const udpPort = Number(udpPortS);
const tcpPort = Number(tcpPortS);
const N = Number(nS);
const rate = Number(rateS) || 0; // metrics/s; 0 = tight loop

async function drive(call, close) {
  const t0 = process.hrtime.bigint();
  if (rate === 0) {
    for (let i = 0; i < N; i++) call();
  } else {
    // Paced: each turn of the loop sends what the clock says is due, then yields.
    let sent = 0;
    while (sent < N) {
      const due = Math.min(N, Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * rate));
      while (sent < due) {
        call();
        sent++;
      }
      await new Promise((r) => setImmediate(r));
    }
  }
  await close();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return ms;
}

let ms;
if (caseName.startsWith('telltale-statsd')) {
  const aggregate = caseName.endsWith('-agg');
  const e = createEmitter({
    // 1432-byte packets like the hot-shots peer, not the larger loopback default.
    sinks: [createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: udpPort }, aggregateCounters: aggregate, maxInFlight: 100_000, maxPacketBytes: 1432 })],
    selfMetrics: false,
    flushIntervalMs: 1000,
  });
  ms = await drive(() => e.counter('bench.counter'), () => e.close({ timeoutMs: 30_000 }));
} else if (caseName === 'telltale-graphite') {
  const e = createEmitter({
    sinks: [createGraphiteSink({ target: { address: { transport: 'tcp', host: '127.0.0.1', port: tcpPort } }, flushIntervalMs: 1000 })],
    selfMetrics: false,
    flushIntervalMs: 1000,
  });
  ms = await drive(() => e.counter('bench.counter'), () => e.close({ timeoutMs: 30_000 }));
} else if (caseName.startsWith('telltale-graphite-lines:')) {
  // One Graphite line per call (datapoints, 1000 names, own timestamps): the per-line cost of
  // routing. Yields every 20,000 calls so the queue (100,000 lines) drains instead of overflowing.
  const [, routing, destsS, replS] = caseName.split(':');
  const dests = Number(destsS);
  const target =
    dests === 1
      ? { address: { transport: 'tcp', host: '127.0.0.1', port: tcpPort } }
      : { destinations: tcpPorts.slice(0, dests).map((port) => ({ address: { transport: 'tcp', host: '127.0.0.1', port } })), routing, replication: Number(replS) };
  const e = createEmitter({ sinks: [createGraphiteSink({ target, flushIntervalMs: 1000 })], selfMetrics: false, flushIntervalMs: 1000 });
  const names = Array.from({ length: 1000 }, (_, i) => `bench.host${i % 50}.metric${i}`);
  const t0 = process.hrtime.bigint();
  const base = Math.floor(Date.now() / 1000) - 3600;
  for (let i = 0; i < N; i++) {
    e.datapoint(names[i % 1000], i, base + Math.floor(i / 1000));
    if (i % 20_000 === 19_999) await new Promise((r) => setImmediate(r));
  }
  await e.close({ timeoutMs: 60_000 });
  ms = Number(process.hrtime.bigint() - t0) / 1e6;
} else if (caseName.startsWith('hot-shots')) {
  const StatsD = require('hot-shots');
  const batched = caseName.includes('batched');
  const c = new StatsD({ host: '127.0.0.1', port: udpPort, ...(batched ? { maxBufferSize: 1432 } : {}) });
  ms = await drive(() => c.increment('bench.counter'), () => new Promise((r) => c.close(() => r())));
} else throw new Error(`unknown case ${caseName}`);

const rss = process.resourceUsage().maxRSS; // KiB
process.stdout.write(JSON.stringify({ caseName, ms, rssMb: Math.round(rss / 1024) }) + '\n');
