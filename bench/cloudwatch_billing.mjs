// Cost and speed of one cloudwatch_billing poll for an organization payer with 5 linked
// accounts × 30 services, against the HTTP-level fake CloudWatch (real SDK, real signing),
// next to the one-call-per-metric approach of the old `mon-get-stats` tool (GetMetricStatistics
// per metric). Counts are what AWS bills; times are loopback and only compare the two here.
//
// Run: npm run build && node bench/cloudwatch_billing.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CloudWatchClient, GetMetricStatisticsCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { cloudwatchBilling } from '../dist/integrations/cloudwatch_billing/index.js';
import { createEmitter } from '../dist/shared/emitter/emitter.js';
import { createMemorySink } from '../dist/shared/emitter/memory-sink.js';
import { createLogger } from '../dist/shared/core/log/logger.js';
import { createSelfMetrics } from '../dist/shared/core/runtime/self-metrics.js';
import { billingDataset, startFakeCloudWatch } from '../integrations/cloudwatch_billing/test/fake-cloudwatch.mjs';

// The running code loads on demand, as in the command.
await cloudwatchBilling.load();

const SERVICES = 30;
const ACCOUNTS = 5;
const RUNS = 5;
const LOOKBACK_H = 48;

const stateDir = mkdtempSync(join(tmpdir(), 'telltale-bench-cwb-'));
Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: 'AKIDFAKE',
  AWS_SECRET_ACCESS_KEY: 'fake-secret',
  AWS_SHARED_CREDENTIALS_FILE: join(stateDir, 'none'),
  AWS_CONFIG_FILE: join(stateDir, 'none'),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});
delete process.env.AWS_PROFILE;

const nowSec = Math.floor(Date.now() / 1000);
const services = Array.from({ length: SERVICES }, (_, i) => `Service${String(i).padStart(2, '0')}`);
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => String(111111111111 * (i + 1)).padStart(12, '0'));
const fake = await startFakeCloudWatch({
  series: billingDataset({ services, accounts, endSec: nowSec, hours: 96, everyHours: 6, rate: (s) => Number(s.slice(7)) + 1 }),
});

function context() {
  const sink = createMemorySink();
  const root = createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
  const ctx = {
    name: 'bench',
    emitter: root.child({ prefix: 'aws.billing' }),
    log: createLogger({ level: 'warn' }),
    clock: { now: Date.now },
    signal: new AbortController().signal,
    self: createSelfMetrics(root, 'cloudwatch_billing', 'bench'),
    stateDir,
    intervalMs: 3_600_000,
    env: process.env,
    stdio: { stdin: new PassThrough(), stdout: new PassThrough() },
  };
  return { ctx, sink, root };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** telltale: ListMetrics (all pages) + GetMetricData, ≤ 500 queries per call. */
async function telltalePoll() {
  const { ctx, sink, root } = context();
  const settings = cloudwatchBilling.schema.parse({ endpoint: fake.url }, [], { issues: [] });
  const integration = cloudwatchBilling.create(settings, ctx);
  fake.reset();
  const t0 = performance.now();
  await integration.once();
  const ms = performance.now() - t0;
  await integration.stop();
  await root.close();
  const points = sink.datapoints();
  const charges = points.filter((p) => p.name.endsWith('.estimated_charges')).length;
  return { ms, calls: fake.calls.ListMetrics + fake.calls.GetMetricData, metrics: fake.stats.metricsRequested, datapoints: `${charges} (+${points.length - charges} rates)` };
}

/** mon-get-stats style: ListMetrics, then one GetMetricStatistics call per metric (sequential, like a loop of CLI calls). */
async function perMetricPoll(concurrency) {
  const client = new CloudWatchClient({ region: 'us-east-1', endpoint: fake.url });
  fake.reset();
  const t0 = performance.now();
  const metrics = [];
  let token;
  do {
    const out = await client.send(new ListMetricsCommand({ Namespace: 'AWS/Billing', MetricName: 'EstimatedCharges', NextToken: token }));
    metrics.push(...(out.Metrics ?? []));
    token = out.NextToken;
  } while (token);
  const end = new Date(Math.ceil(nowSec / 3600) * 3600 * 1000);
  const start = new Date(end.getTime() - LOOKBACK_H * 3_600_000);
  let datapoints = 0;
  let next = 0;
  const worker = async () => {
    while (next < metrics.length) {
      const m = metrics[next++];
      const out = await client.send(
        new GetMetricStatisticsCommand({ Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: m.Dimensions, StartTime: start, EndTime: end, Period: 3600, Statistics: ['Maximum'] }),
      );
      datapoints += out.Datapoints?.length ?? 0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - t0;
  client.destroy();
  return { ms, calls: fake.calls.ListMetrics + fake.calls.GetMetricStatistics, metrics: fake.stats.metricsRequested, datapoints };
}

async function measure(fn) {
  await fn(); // warm-up: module loading, credential resolution, connection setup
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await fn());
  return { ...runs[0], ms: median(runs.map((r) => r.ms)) };
}

const rows = [
  ['telltale: ListMetrics + GetMetricData (≤500/call)', await measure(telltalePoll)],
  ['mon-get-stats style: GetMetricStatistics per metric, sequential', await measure(() => perMetricPoll(1))],
  ['GetMetricStatistics per metric, 10 in parallel', await measure(() => perMetricPoll(10))],
];
await fake.close();
rmSync(stateDir, { recursive: true, force: true });

const series = (SERVICES + 1) * (ACCOUNTS + 1);
const polls = 24 * 30;
const base = rows[0][1];
const out = [];
out.push(`cloudwatch_billing: one poll, ${SERVICES} services × ${ACCOUNTS} linked accounts (+ payer view, + totals) = ${series} billing series, ${LOOKBACK_H} h window`);
out.push(`fake CloudWatch on loopback, real @aws-sdk/client-cloudwatch; median of ${RUNS} polls after a warm-up`);
out.push('');
const head = ['approach', 'API calls/poll', 'metrics billed/poll', 'charge datapoints', 'poll ms', 'vs telltale', 'hourly: requests/month', 'GetMetricData $/month'];
const table = rows.map(([name, r]) => [
  name,
  String(r.calls),
  name.startsWith('telltale') ? String(r.metrics) : `0 (${r.calls} requests)`,
  String(r.datapoints),
  r.ms.toFixed(1),
  `${(r.ms / base.ms).toFixed(1)}× time, ${(r.calls / base.calls).toFixed(0)}× calls`,
  String(r.calls * polls),
  name.startsWith('telltale') ? `$${((r.metrics * polls) / 1000 * 0.01).toFixed(2)}` : '$0 in free tier*',
]);
const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
out.push(line(head));
out.push(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) out.push(line(r));
out.push('');
out.push('Pricing (us-east-1): GetMetricData $0.01 per 1,000 metrics requested, not in the free tier;');
out.push('GetMetricStatistics/ListMetrics $0.01 per 1,000 requests, *inside the 1M-requests/month free tier (shared');
out.push(`with every other CloudWatch API user of the account); past it the per-metric approach costs $${((series * polls) / 1000 * 0.01).toFixed(2)}/month too.`);
out.push('Both read the same hourly Maximum buckets; only telltale derives spend_per_hour from them.');
out.push(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
process.stdout.write(out.join('\n') + '\n');
