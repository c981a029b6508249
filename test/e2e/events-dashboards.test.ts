/**
 * Events and dashboards end to end, on real components: telltale (the built CLI) sends to a real
 * carbon-cache and a real graphite-web (Debian graphite-web, run by test/helpers/graphite-web.ts).
 *
 * - Events from `telltale event`, a supervisor replay (the recorded supervisord stream) and a
 *   Puppet report with changes come back from graphite-web's /events/get_data with their tags,
 *   data and times.
 * - access_log --once on the real Apache log, host --once, puppet_reports --once and
 *   cloudwatch_billing --once (the real AWS SDK against the HTTP-level fake CloudWatch) feed
 *   carbon; then every target of both generated dashboards, evaluated by graphite-web's
 *   /render?format=json, must return data, the service graph's good/bad series must add up to
 *   the log's own counts, and the AWS graphs must show the estimates the fake served. The
 *   service graph is also rendered as a PNG and kept as an artifact.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dashboard, Panel } from '@grafana/schema';
import { requireBinary } from '../helpers/binaries.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { requireGraphiteWeb, startGraphiteWeb, type GraphiteWeb } from '../helpers/graphite-web.js';
import { startCarbon, until as pollUntil, waitForWhisper, type Carbon } from '../helpers/servers.js';
import type { GraphiteDashboardState } from '../../cli/dashboard/graphite.js';
import { REAL_LOG } from '../../integrations/access_log/test/harness.js';
import { billingDataset, dimsKey, startFakeCloudWatch, type FakeCloudWatch } from '../../integrations/cloudwatch_billing/test/fake-cloudwatch.mjs';
import { staticKeysChildEnv } from '../../integrations/cloudwatch_billing/test/env.js';

const ok = requireGraphiteWeb() && !!requireBinary('carbon-cache', 'apt-get install graphite-carbon');
const HOST = hostname().split('.')[0]!.replace(/[^A-Za-z0-9_-]+/g, '_');
const CAPTURE = fileURLToPath(new URL('../../integrations/supervisor/test/fixtures/capture.bin', import.meta.url));
const PUPPET_CHANGES = fileURLToPath(new URL('../../integrations/puppet_reports/test/fixtures/p7-apply-changes.report.yaml', import.meta.url));
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const H = 3600;
const EC2 = [{ Name: 'Currency', Value: 'USD' }, { Name: 'ServiceName', Value: 'AmazonEC2' }, { Name: 'LinkedAccount', Value: '111111111111' }];

describe.skipIf(!ok)('events and dashboards through real carbon-cache + graphite-web', () => {
  let carbon: Carbon;
  let web: GraphiteWeb;
  let fake: FakeCloudWatch;
  let dir: string;
  let config: string;
  const t0 = Math.floor(Date.now() / 1000);
  // The real Apache log (10,000 lines, no response-time field) with a %D appended to every line,
  // so the p95/p99 series have data: microseconds derived from the line number.
  let good = 0;
  let bad = 0;
  let chunks: string[] = [];
  // The newest hourly billing bucket already published (AWS posts a few minutes after the hour;
  // billingDataset at t+420 s): 7 to 67 minutes ago, so it lands in carbon's 1 s:2 h archive,
  // which the render window below reads.
  const lastBucket = Math.floor((t0 - 420) / H) * H;

  beforeAll(async () => {
    carbon = await startCarbon();
    web = await startGraphiteWeb({ whisperDirs: [carbon.whisperDir], carbonlinkHosts: [`127.0.0.1:${carbon.queryPort}:a`] });
    // Two hourly estimates per series (the spend rate needs a previous one), none in the future.
    fake = await startFakeCloudWatch({
      series: billingDataset({ services: ['AmazonEC2', 'AmazonS3'], accounts: ['111111111111'], endSec: lastBucket + 1, hours: 2, everyHours: 1, rate: (s) => (s === 'AmazonEC2' ? 3 : 1) }),
    });
    dir = mkdtempSync(join(tmpdir(), 'telltale-events-e2e-'));
    const src = readFileSync(REAL_LOG, 'utf8');
    const lines = src.split('\n').filter(Boolean);
    // Written in 4 parts (see the dashboard test), so the service graph has a shape over time.
    chunks = [0, 1, 2, 3].map((k) => {
      const part = lines.slice(Math.floor((k * lines.length) / 4), Math.floor(((k + 1) * lines.length) / 4));
      return part.map((l, i) => `${l} ${1000 + ((i * (k + 3)) % 500) * 997}`).join('\n') + '\n';
    });
    writeFileSync(join(dir, 'shop.log'), '');
    // Independent count: the status is the field after the quoted request.
    for (const l of lines) {
      const m = /" (\d{3}) /.exec(l);
      if (!m || !l.endsWith('"')) continue;
      if (/^[23]/.test(m[1]!)) good++;
      else if (/^[45]/.test(m[1]!)) bad++;
    }
    // A Puppet report with changes, dated now (whisper keeps 1 s points for 2 h).
    const reports = join(dir, 'reports', 'node01.example.com');
    mkdirSync(reports, { recursive: true });
    const runTime = new Date((t0 - 120) * 1000).toISOString();
    writeFileSync(join(reports, '202612070000.yaml'), readFileSync(PUPPET_CHANGES, 'utf8').replace(/^time: '[^']+'$/m, `time: '${runTime}'`));
    config = join(dir, 'integrations.yaml');
    writeFileSync(
      config,
      `emitter:
  prefix: e2e.{host}
  flush_interval: 1s
  sinks:
    - type: graphite
      address: 127.0.0.1:${carbon.linePort}
    - type: graphite_events
      url: ${web.url}/events/
state_dir: ${dir}/state
integrations:
  web:
    type: access_log
    path: ${dir}/shop.log
    name: shop
    format: combined_D
    start_at: beginning
    safe_qps: 500
  host:
    interval: 1s
    disks: ["/"]
    thresholds:
      memory.percent: 0.5
  puppet:
    type: puppet_reports
    reportdir: ${dir}/reports
    backfill: true
  supervisor:
    resync: false
  billing:
    type: cloudwatch_billing
    endpoint: ${fake.url}
    lookback: 3h
`,
    );
  }, 120_000);

  afterAll(async () => {
    await web?.stop();
    await fake?.close();
    await carbon?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cli = async (args: string[], input?: Buffer): Promise<void> => {
    const run = runCli([...args, '--config', config], input === undefined ? {} : { input });
    const code = await run.exited;
    expect(code, `telltale ${args.join(' ')}:\n${run.stderr()}`).toBe(0);
  };

  it('telltale event: graphite-web stores it with tags, data and time; carbon gets the datapoint', async () => {
    const when = t0 - 30;
    await cli(['event', 'deploy shop 1.4.2', '--tags', 'deploy,shop', '--data', 'git 3f2a1c9', '--when', String(when)]);
    const got = await web.events({ tags: 'deploy', from: '-1h' });
    expect(got.map(({ what, tags, data, when: w }) => ({ what, tags, data, when: w }))).toEqual([{ what: 'deploy shop 1.4.2', tags: ['deploy', 'shop', HOST], data: 'git 3f2a1c9', when }]);
    await waitForWhisper(carbon, `e2e.${HOST}.events.deploy_shop_1_4_2`, (p) => p.some(([ts, v]) => ts === when && v === 1));
  });

  it('telltale event: exit 1 when graphite-web refuses it, 64 on bad flags', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `emitter:\n  sinks:\n    - type: graphite_events\n      url: ${web.url}/no-such-path/\n      max_retries: 0\n`);
    const run = runCli(['event', 'x', '--config', bad]);
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(/graphite_events dropped the event.*rejected=1/);
    expect(await runCli(['event', 'x', '--when', 'yesterday']).exited).toBe(64);
    expect(await runCli(['event']).exited).toBe(64);
  });

  it('supervisor replay: FATAL and unexpected exits become events', async () => {
    await cli(['supervisor'], readFileSync(CAPTURE));
    const got = await web.events({ tags: 'supervisor', from: '-1h' });
    const fatal = got.find((e) => e.tags.includes('fatal'));
    expect(fatal).toMatchObject({ what: 'crasher:crasher FATAL', tags: ['supervisor', 'fatal', HOST, 'crasher'] }); // group = process: one tag
    expect(fatal!.data).toMatch(/gave up starting after \d+ failed attempts/);
    expect(fatal!.when).toBeGreaterThanOrEqual(t0);
    expect(got.filter((e) => e.tags.includes('crash')).map((e) => e.what)).toContain('bad:bad exited unexpectedly');
  });

  it('a Puppet report with changes: an event with host, status, environment and counts', async () => {
    await cli(['puppet_reports', '--once']);
    const got = await web.events({ tags: 'puppet', from: '-1h' });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ what: 'puppet changed node01.example.com', tags: ['puppet', 'node01.example.com', 'node01', 'changed', 'production'], when: t0 - 120 });
    expect(got[0]!.data).toMatch(/^resources: changed=\d+ failed=0 /);
    expect(got[0]!.data).not.toMatch(/changed=0 /);
  });

  it('every target of the generated dashboards returns the data telltale sent', async () => {
    // The log grows in 4 parts, each read by its own access_log --once run (resuming at the
    // saved position): 4 flushes, seconds apart, like a service with a changing load.
    const firstRun = Math.floor(Date.now() / 1000);
    for (const [k, part] of chunks.entries()) {
      // A deploy half-way: the vertical line the service graph is about.
      if (k === 2) await cli(['event', 'deploy shop 1.4.3', '--tags', 'deploy,shop', '--data', 'git 9c1e77d']);
      appendFileSync(join(dir, 'shop.log'), part);
      // Each run's flush needs a second of its own: whisper keeps one point per second, and a run
      // stamps its flush with the nearest second, so two runs less than a second apart (a run
      // takes well under one since the command loads only what runs) overwrite each other's point.
      await cli(['access_log', '--once']);
      const next = (Math.round(Date.now() / 1000) + 1) * 1000;
      while (Date.now() < next) await new Promise((r) => setTimeout(r, next - Date.now() + 5));
    }
    // cpu.percent needs two samples: run the host poller until carbon has it, then stop it.
    const host = runCli(['host', '--config', config]);
    try {
      await waitForWhisper(carbon, `stats.gauges.e2e.${HOST}.host.cpu.percent`, (p) => p.length > 0, 30_000);
    } finally {
      host.child.kill('SIGTERM');
      expect(await host.exited, host.stderr()).toBe(0);
    }
    // memory.percent above 0.5 %: the host integration's alert is an event of this host.
    const alerts = await web.events({ tags: 'alert', from: '-1h' });
    expect(alerts.map((e) => ({ what: e.what, tags: e.tags }))).toContainEqual({ what: 'memory.percent alert', tags: ['host', HOST, 'alert', 'memory.percent'] });
    expect(alerts[0]!.data).toMatch(/^ALERT e2e\..*\.host\.memory\.percent = [\d.]+ > 0\.5 on /);
    // The AWS estimates, through the real SDK, at their CloudWatch timestamps.
    const billing = runCli(['cloudwatch_billing', '--once', '--config', config], { env: staticKeysChildEnv() });
    expect({ code: await billing.exited, stderr: billing.stderr() }).toEqual({ code: 0, stderr: '' });
    for (const path of ['111111111111.amazonec2.estimated_charges', 'all.amazons3.spend_per_hour']) {
      await waitForWhisper(carbon, `e2e.${HOST}.aws.billing.${path}`, (p) => p.some(([t]) => t === lastBucket), 60_000, lastBucket - 60);
    }
    const g = runCli(['dashboard', '--format', 'graphite', '--config', config]);
    expect(await g.exited, g.stderr()).toBe(0);
    const state = JSON.parse(g.stdout()) as GraphiteDashboardState;
    const f = runCli(['dashboard', '--format', 'grafana', '--config', config]);
    expect(await f.exited, f.stderr()).toBe(0);
    const grafana = JSON.parse(f.stdout()) as Dashboard;
    const grafanaTargets = (grafana.panels ?? []).flatMap((p) => ((p as Panel).targets ?? []).map((t) => ({ panel: p.title, target: String(t['target']) })));
    const graphiteTargets = state.graphs.flatMap(([id, params]) => params.target.map((target) => ({ panel: id, target })));
    // The service graph, the supervisor, puppet, AWS and host graphs are all there.
    expect(state.graphs.map(([id]) => id)).toEqual(
      expect.arrayContaining(['service_web_shop', 'supervisor_supervisor', 'puppet_puppet_time', 'puppet_puppet_changes', 'puppet_puppet_fleet', 'billing_billing_charges', 'billing_billing_rate', 'host_host_memory_percent']),
    );
    expect(grafanaTargets.map((t) => t.target).sort()).toEqual(graphiteTargets.map((t) => t.target).sort());
    // From before the newest billing bucket: still inside the 1 s archive (< 2 h), where the
    // service graph's per-second rates are summed below.
    const from = String(Math.min(t0 - 600, lastBucket - 60));
    const until = String(Math.floor(Date.now() / 1000) + 5);
    const empty: string[] = [];
    for (const { panel, target } of graphiteTargets) {
      const series = await web.render([target], { from, until });
      const points = series.flatMap((s) => s.datapoints.filter((p) => p[0] !== null));
      if (points.length === 0) empty.push(`${panel}: ${target}`);
    }
    expect(empty).toEqual([]);
    // The service graph adds up to the log: rate × 1 s flush = requests.
    const [service] = state.graphs.filter(([id]) => id === 'service_web_shop');
    const sum = async (target: string): Promise<number> =>
      (await web.render([target], { from, until })).flatMap((s) => s.datapoints).reduce((a, [v]) => a + (v ?? 0), 0);
    const targets = service![1].target;
    // Carbon writes asynchronously and graphite-web's query of its cache can time out on a
    // loaded machine: poll (bounded) until all 4 flushes are readable, then assert.
    let seen = 0;
    await pollUntil(async () => (seen = Math.round(await sum(targets.find((t) => t.includes('.good.'))!))) === good, 60_000, `good requests ${good} in graphite-web (last sum ${seen})`, 500).catch(() => undefined);
    expect(Math.round(await sum(targets.find((t) => t.includes('.good.'))!))).toBe(good);
    expect(Math.round(await sum(targets.find((t) => t.includes('.bad.'))!))).toBe(bad);
    expect(good).toBe(9779);
    // The AWS graphs: per <account>.<service>, the estimate the fake served for the newest bucket,
    // and the spend per hour between the last two (EC2 3 USD/h, S3 1 USD/h; 0 on the 1st at 00:xx).
    const at = async (id: string, name: string): Promise<(number | null)[]> => {
      const [, params] = state.graphs.find(([gid]) => gid === id)!;
      const series = (await web.render(params.target, { from, until })).find((s) => s.target === name);
      return (series?.datapoints ?? []).filter(([, ts]) => ts === lastBucket).map(([v]) => v);
    };
    const served = fake.state.series.find((s) => dimsKey(s.dimensions) === dimsKey(EC2))!.points.find(([t]) => t >= lastBucket)![1];
    expect(await at('billing_billing_charges', '111111111111.amazonec2')).toEqual([served]);
    const monthStart = Date.UTC(new Date(lastBucket * 1000).getUTCFullYear(), new Date(lastBucket * 1000).getUTCMonth(), 1) / 1000;
    expect(await at('billing_billing_rate', 'all.amazons3')).toEqual([lastBucket === monthStart ? 0 : 1]);
    // events('<host>') sees the deploy, the supervisor and host events of this host.
    const ev = await web.render([`events('${HOST}')`], { from, until });
    expect(ev[0]!.datapoints.reduce((a, [v]) => a + (v ?? 0), 0)).toBeGreaterThanOrEqual(3);

    // The service graph as graphite-web draws it: a test artifact and the README screenshot.
    const q = new URLSearchParams({ from: String(firstRun - 20), until, width: '900', height: '420', title: service![1].title, vtitle: 'requests/s', vtitleRight: 'ms', lineMode: 'connected', bgcolor: 'white', fgcolor: 'black' });
    for (const t of targets) q.append('target', t);
    const png = Buffer.from(await (await web.get(`/render?${q}`)).arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'service-graph.png'), png);
  }, 150_000);

  it('graphite-web loads the generated dashboard through its own save/load API', async () => {
    const g = runCli(['dashboard', '--format', 'graphite', '--config', config]);
    expect(await g.exited).toBe(0);
    const state = JSON.parse(g.stdout()) as GraphiteDashboardState;
    const res = await fetch(`${web.url}/dashboard/save/${state.name}`, { method: 'POST', body: new URLSearchParams({ state: JSON.stringify(state) }) });
    expect(await res.json()).toEqual({ success: true });
    const loaded = await web.getJson<{ state: GraphiteDashboardState }>(`/dashboard/load/${state.name}`);
    expect(loaded.state).toEqual(state);
  });
});
