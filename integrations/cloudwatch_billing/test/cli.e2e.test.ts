/**
 * End to end, the way cron runs it: `telltale cloudwatch_billing --once --config FILE` (the
 * built dist/), the real SDK against the fake CloudWatch, a real carbon-cache read back with
 * whisper-fetch. Checks the exit codes cron sees and that a successful run prints nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { runCli } from '../../../test/helpers/cli.js';
import { freePort, startCarbon, startStatsd, until, waitForWhisper, type Carbon } from '../../../test/helpers/servers.js';
import { billingDataset, startFakeCloudWatch, type FakeCloudWatch } from './fake-cloudwatch.mjs';
import { FIXTURES } from './env.js';

const carbonBin = requireBinary('carbon-cache', 'apt-get install graphite-carbon python3-whisper');
const whisperBin = requireBinary('whisper-fetch', 'apt-get install python3-whisper');

const H = 3600;
/** The child gets exactly these AWS settings; anything from the developer's shell is removed. */
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  AWS_ACCESS_KEY_ID: 'AKIDFAKE',
  AWS_SECRET_ACCESS_KEY: 'fake-secret',
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_REGION: 'eu-west-1',
  AWS_SHARED_CREDENTIALS_FILE: FIXTURES + 'no-such-credentials',
  AWS_CONFIG_FILE: FIXTURES + 'no-such-config',
  AWS_EC2_METADATA_DISABLED: undefined,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
  TELLTALE_CONFIG: undefined,
  ...extra,
});

describe.skipIf(!carbonBin || !whisperBin)('telltale cloudwatch_billing --once (cron)', () => {
  let carbon: Carbon;
  let fake: FakeCloudWatch;
  let dir: string;
  const nowSec = () => Math.floor(Date.now() / 1000);
  /** Start of the hour the dataset was built in (fixed per test, so crossing an hour mid-test is harmless). */
  let hourStart = 0;

  const writeConfig = (graphitePort: number, extra = ''): string => {
    const file = join(dir, `integrations-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(
      file,
      `emitter:
  prefix: ops
  sinks:
    - type: graphite
      address: tcp://127.0.0.1:${graphitePort}
integrations:
  billing:
    type: cloudwatch_billing
    endpoint: ${fake.url}
    lookback: 3h
${extra}`,
    );
    return file;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'telltale-cwb-'));
    [carbon, fake] = await Promise.all([startCarbon(), startFakeCloudWatch()]);
  });
  afterAll(async () => {
    await Promise.all([carbon?.destroy(), fake?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.reset();
    // Hourly points up to the start of the current hour: the 3 h window holds two of them.
    hourStart = nowSec() - (nowSec() % H);
    fake.state.series = billingDataset({ services: ['AmazonEC2', 'AmazonS3'], accounts: ['111111111111'], endSec: hourStart, hours: 6, everyHours: 1, rate: (s) => (s === 'AmazonEC2' ? 3 : 1) });
  });

  it('stores the estimates at their CloudWatch timestamps in carbon, exits 0 and prints nothing', async () => {
    const run = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(carbon.linePort)], { env: childEnv() });
    const code = await run.exited;
    expect({ code, stderr: run.stderr(), stdout: run.stdout() }).toEqual({ code: 0, stderr: '', stdout: '' });

    const prev = hourStart - H;
    const monthStart = Date.UTC(new Date(prev * 1000).getUTCFullYear(), new Date(prev * 1000).getUTCMonth(), 1) / 1000;
    const expected = Math.round(3 * ((prev - monthStart) / H) * 100) / 100;
    const from = nowSec() - 4 * H;
    const charges = await waitForWhisper(carbon, 'ops.aws.billing.111111111111.amazonec2.estimated_charges', (p) => p.some(([t]) => t === prev), 20_000, from);
    expect(charges).toContainEqual([prev, expected]);
    const rate = await waitForWhisper(carbon, 'ops.aws.billing.all.amazons3.spend_per_hour', (p) => p.some(([t]) => t === prev), 20_000, from);
    expect(rate.find(([t]) => t === prev)![1]).toBeCloseTo(1, 1);
  });

  it('exits 79 with the console setting named when the account has no billing metrics', async () => {
    fake.state.series = [];
    const run = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(carbon.linePort)], { env: childEnv() });
    expect(await run.exited).toBe(79);
    expect(run.stderr()).toMatch(/billing: CloudWatch has no AWS\/Billing EstimatedCharges metrics.*Receive Billing Alerts/);
  });

  it('exits 77 when CloudWatch rejects the keys, and 77 when there are none', async () => {
    const bad = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(carbon.linePort)], { env: childEnv({ AWS_ACCESS_KEY_ID: 'AKIDUNKNOWN' }) });
    expect(await bad.exited).toBe(77);
    expect(bad.stderr()).toMatch(/InvalidClientTokenId/);
    const none = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(carbon.linePort)], {
      env: childEnv({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }),
    });
    expect(await none.exited).toBe(77);
    expect(none.stderr()).toMatch(/no AWS credentials found/);
    expect(fake.requests.filter((r) => String(r.headers['authorization']).includes('AKIDUNKNOWN'))).toHaveLength(1);
  });

  it('exits 78 for a profile that does not exist', async () => {
    const run = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(carbon.linePort, '    profile: nosuch\n')], {
      env: childEnv({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: FIXTURES + 'credentials' }),
    });
    expect({ code: await run.exited, stderr: run.stderr() }).toMatchObject({ code: 78 });
    expect(run.stderr()).toMatch(/profile "nosuch".*profiles there: other, billing/);
  });

  it('exits 75 when throttling outlasts the retries', async () => {
    fake.fault('throttle', { op: 'GetMetricData', times: 2 });
    const run = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(carbon.linePort, '    max_attempts: 2\n')], { env: childEnv() });
    expect(await run.exited).toBe(75);
    expect(run.stderr()).toMatch(/Throttling: Rate exceeded/);
  });

  it('exits 69 when the Graphite sink is down', async () => {
    const closedPort = await freePort();
    const run = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(closedPort)], { env: childEnv() });
    expect(await run.exited).toBe(69);
    expect(run.stderr()).toMatch(/could not be delivered/);
  });

  it('on a statsd sink, each series ends as a gauge of its newest estimate', async () => {
    const statsd = await startStatsd();
    try {
      const run = runCli(['cloudwatch_billing', '--once', '--config', writeConfig(carbon.linePort), '--statsd', `127.0.0.1:${statsd.port}`], { env: childEnv() });
      expect(await run.exited).toBe(0);
      // The one expected line: statsd has no timestamps, so the CLI says history needs graphite.
      const lines = run.stderr().split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/warn .*billing emit timestamped datapoints, but no graphite sink is configured/);
      const prev = hourStart - H;
      const monthStart = Date.UTC(new Date(prev * 1000).getUTCFullYear(), new Date(prev * 1000).getUTCMonth(), 1) / 1000;
      const newest = Math.round(3 * ((prev - monthStart) / H) * 100) / 100;
      const key = 'ops.aws.billing.111111111111.amazonec2.estimated_charges';
      let gauges = '';
      await until(async () => (gauges = await statsd.mgmt('gauges')).includes(key), 10_000, `statsd gauge ${key}`);
      const m = new RegExp(`'${key.replace(/\./g, '\\.')}': ([0-9.]+)`).exec(gauges);
      expect(Number(m?.[1])).toBe(newest);
    } finally {
      await statsd.stop();
    }
  });

  it('under `telltale run` polls at start and exits cleanly on SIGTERM', async () => {
    const run = runCli(['run', '--config', writeConfig(carbon.linePort, '    interval: 1h\n    prefix: aws.billing_run\n')], { env: childEnv() });
    try {
        // Its own prefix: the other tests wrote the same buckets under aws.billing into this carbon.
      await waitForWhisper(carbon, 'ops.aws.billing_run.all.total.estimated_charges', (p) => p.some(([t]) => t === hourStart - H), 20_000, nowSec() - 4 * H);
      expect(fake.calls.ListMetrics).toBe(1);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(run.stderr()).not.toMatch(/ error |NodeVersionSupportWarning/);
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });
});
