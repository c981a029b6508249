// One benchmark case in its own process (so peak RSS is the case's own). Prints one JSON line.
import { createRequire } from 'node:module';
import { createEmitter } from '../../dist/shared/emitter/emitter.js';
import { createStatsdSink } from '../../dist/shared/emitter/statsd-sink.js';
import { createGraphiteSink } from '../../dist/shared/emitter/graphite-sink.js';

const require = createRequire(import.meta.url);
const [caseName, udpPortS, tcpPortS, nS, rateS] = process.argv.slice(2);
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
} else if (caseName.startsWith('hot-shots')) {
  const StatsD = require('hot-shots');
  const batched = caseName.includes('batched');
  const c = new StatsD({ host: '127.0.0.1', port: udpPort, ...(batched ? { maxBufferSize: 1432 } : {}) });
  ms = await drive(() => c.increment('bench.counter'), () => new Promise((r) => c.close(() => r())));
} else throw new Error(`unknown case ${caseName}`);

const rss = process.resourceUsage().maxRSS; // KiB
process.stdout.write(JSON.stringify({ caseName, ms, rssMb: Math.round(rss / 1024) }) + '\n');
