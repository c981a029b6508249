/**
 * The poller as shipped — real @aws-sdk/client-cloudwatch (pinned 3.1164.0), real SigV4, real
 * retries and error parsing — against an HTTP-level fake of CloudWatch on 127.0.0.1. No `send`
 * is mocked anywhere.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { testContext } from '../../../test/helpers/context.js';
import { BillingError, EXIT_CODES } from '../errors.js';
import { cloudwatchBilling } from '../index.js';
import { billingDataset, dimsKey, startFakeCloudWatch, type FakeCloudWatch, type FakeSeries } from './fake-cloudwatch.mjs';
import { applyDefinitionEnv, FIXTURES, setAwsEnv, staticKeysEnv } from './env.js';

const HOUR = 3600;
/** 2026-11-20 10:30 UTC: the window is [Nov 18 11:00, Nov 20 11:00). */
const NOW = Date.UTC(2026, 10, 20, 10, 30);
const END = Date.UTC(2026, 10, 20, 11) / 1000;
const START = END - 48 * HOUR;
const NOV_START = Date.UTC(2026, 10, 1) / 1000;

const SERVICES = ['AmazonEC2', 'AmazonS3', 'AWSLambda'];
const ACCOUNTS = ['111111111111', '222222222222'];
const SERVICE_RATE: Record<string, number> = { AmazonEC2: 2.5, AmazonS3: 0.5, AWSLambda: 0.25 };
const ACCOUNT_SHARE = (a: string | undefined): number => (a === undefined ? 1 : a === ACCOUNTS[0] ? 0.6 : 0.4);
const rate = (s: string, a: string | undefined): number => SERVICE_RATE[s]! * ACCOUNT_SHARE(a);

function dataset(endSec = END): FakeSeries[] {
  return billingDataset({ services: SERVICES, accounts: ACCOUNTS, endSec, hours: 96, everyHours: 6, rate });
}

function config(settings: Record<string, unknown>) {
  const r = validate(cloudwatchBilling.schema, settings);
  if ('issues' in r) throw new Error(`bad test config: ${JSON.stringify(r.issues)}`);
  return r.value;
}

async function poll(settings: Record<string, unknown>, nowMs = NOW) {
  const t = testContext({ prefix: 'aws.billing', now: () => nowMs, type: 'cloudwatch_billing', name: 'billing' });
  applyDefinitionEnv([config(settings)]);
  const integration = cloudwatchBilling.create(config(settings), t.ctx);
  let error: unknown;
  try {
    await integration.once();
  } catch (e) {
    error = e;
  } finally {
    await integration.stop();
  }
  const points = (name: string) =>
    t.sink
      .datapoints()
      .filter((s) => s.name === `aws.billing.${name}`)
      .map((s) => (s.kind === 'datapoint' ? [s.ts, s.value] : []));
  return { ...t, error, points };
}

function expectBillingError(e: unknown, category: keyof typeof EXIT_CODES): BillingError {
  expect(e).toBeInstanceOf(BillingError);
  const err = e as BillingError;
  expect({ category: err.category, exitCode: err.exitCode }).toEqual({ category, exitCode: EXIT_CODES[category] });
  return err;
}

let fake: FakeCloudWatch;
let restoreEnv: () => void = () => undefined;

beforeAll(async () => {
  fake = await startFakeCloudWatch({ series: dataset() });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.state.series = dataset();
  fake.state.listPageSize = 500;
  fake.state.maxDatapointsPerPage = 100_800;
  fake.state.now = () => Date.now();
  restoreEnv = setAwsEnv(staticKeysEnv());
});
afterEach(() => restoreEnv());

describe('cloudwatch_billing against a fake CloudWatch (real SDK)', () => {
  it('reads every service of every linked account and emits the CloudWatch bucket timestamps', async () => {
    const r = await poll({ endpoint: fake.url });
    expect(r.error).toBeUndefined();

    // 3 scopes (all + 2 linked accounts) × (total + 3 services), each with 8 six-hourly points in 48 h.
    const names = new Set(r.sink.datapoints().map((s) => s.name));
    for (const scope of ['all', ...ACCOUNTS]) {
      for (const svc of ['total', 'amazonec2', 'amazons3', 'awslambda']) {
        expect(names).toContain(`aws.billing.${scope}.${svc}.estimated_charges`);
        expect(names).toContain(`aws.billing.${scope}.${svc}.spend_per_hour`);
      }
    }
    expect(names.size).toBe(24);

    // The bucket start of every published point, and the month-to-date value AWS published.
    const expected: [number, number][] = [];
    for (let b = START + ((6 * HOUR - (START % (6 * HOUR))) % (6 * HOUR)); b < END; b += 6 * HOUR) {
      expected.push([b, Math.round(rate('AmazonEC2', ACCOUNTS[0]) * ((b - NOV_START) / HOUR) * 100) / 100]);
    }
    expect(expected).toHaveLength(8);
    expect(r.points(`${ACCOUNTS[0]}.amazonec2.estimated_charges`)).toEqual(expected);

    const rates = r.points('all.amazonec2.spend_per_hour');
    expect(rates).toHaveLength(7);
    for (const [, v] of rates) expect(v).toBeCloseTo(2.5, 2);

    // Two API calls: one ListMetrics page and one GetMetricData batch of 12 queries.
    expect(fake.calls).toMatchObject({ ListMetrics: 1, GetMetricData: 1 });
    const counters = r.sink.counters();
    expect(counters.get('aws.billing.poller.metrics_requested')).toBe(12);
    expect(counters.get('aws.billing.poller.api_calls.get_metric_data')).toBe(1);
    expect(counters.get('aws.billing.poller.datapoints')).toBe(12 * 8 + 12 * 7);
    expect(r.sink.gauges().get('aws.billing.poller.success')).toBe(1);
    // Quiet on success: nothing at info or above (cron mails whatever is printed).
    expect(r.logs.filter((l) => !/ debug /.test(l))).toEqual([]);
  });

  it('speaks the pinned SDK protocol, signs for us-east-1 despite AWS_REGION, and queries an hour-aligned window', async () => {
    const r = await poll({ endpoint: fake.url });
    expect(r.error).toBeUndefined();
    const [list] = fake.requestsFor('ListMetrics');
    const [gmd] = fake.requestsFor('GetMetricData');
    expect(list!.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(list!.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.ListMetrics');
    expect(String(list!.headers['authorization'])).toMatch(/Credential=AKIDFAKE\/\d{8}\/us-east-1\/monitoring\/aws4_request/);
    // No RecentlyActive: billing updates are further apart than its 3 hours.
    expect(JSON.parse(list!.body)).toEqual({ Namespace: 'AWS/Billing', MetricName: 'EstimatedCharges' });

    const body = JSON.parse(gmd!.body) as {
      StartTime: number;
      EndTime: number;
      ScanBy: string;
      MetricDataQueries: { Id: string; MetricStat: { Period: number; Stat: string; Metric: { Dimensions: unknown[] } } }[];
    };
    expect({ start: body.StartTime, end: body.EndTime, scan: body.ScanBy }).toEqual({ start: START, end: END, scan: 'TimestampAscending' });
    expect(body.MetricDataQueries).toHaveLength(12);
    expect(new Set(body.MetricDataQueries.map((q) => q.Id)).size).toBe(12);
    for (const q of body.MetricDataQueries) expect(q.MetricStat).toMatchObject({ Period: 3600, Stat: 'Maximum' });
  });

  it('the fake refuses the awsQuery protocol of SDKs <= 3.948, so an SDK protocol change fails here loudly', async () => {
    const res = await fetch(fake.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=ListMetrics&Version=2010-08-01&Namespace=AWS%2FBilling',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-query-error')).toBe('UnsupportedProtocol;Sender');
    expect(await res.text()).toMatch(/speaks AWS JSON 1\.0/);
  });

  it('follows NextToken on ListMetrics and GetMetricData (PartialData) and maps results back by Id', async () => {
    const whole = await poll({ endpoint: fake.url });
    fake.reset();
    fake.state.listPageSize = 5;
    fake.state.maxDatapointsPerPage = 7; // 12 series × 8 points → 14 pages, series split across pages
    const paged = await poll({ endpoint: fake.url });
    expect(paged.error).toBeUndefined();
    expect(fake.calls.ListMetrics).toBe(3);
    expect(fake.calls.GetMetricData).toBe(Math.ceil((12 * 8) / 7));
    const key = (s: { name: string; kind: string }) => JSON.stringify(s);
    expect(paged.sink.datapoints().map(key).sort()).toEqual(whole.sink.datapoints().map(key).sort());
    // Billed once per query, not once per page.
    expect(fake.stats.metricsRequested).toBe(12);
  });

  it('splits more than 500 metrics into several GetMetricData calls', async () => {
    const services = Array.from({ length: 120 }, (_, i) => `Service${String(i).padStart(3, '0')}`);
    const accounts = ['111111111111', '222222222222', '333333333333', '444444444444'];
    fake.state.series = billingDataset({ services, accounts, endSec: END, hours: 12, everyHours: 6, rate: (s) => Number(s.slice(7)) + 1 });
    expect(fake.state.series).toHaveLength(5 * 121);
    const r = await poll({ endpoint: fake.url });
    expect(r.error).toBeUndefined();
    const sizes = fake.requestsFor('GetMetricData').map((q) => (JSON.parse(q.body) as { MetricDataQueries: unknown[] }).MetricDataQueries.length);
    expect(sizes).toEqual([500, 105]);
    // A series from the second batch keeps its own values (Id mapping across batches).
    const last = r.points('444444444444.service119.estimated_charges');
    expect(last.length).toBeGreaterThan(0);
    for (const [ts, v] of last) expect(v).toBeCloseTo(120 * ((ts! - NOV_START) / HOUR), 1);
    expect(r.sink.counters().get('aws.billing.poller.metrics_requested')).toBe(605);
  });

  it('keeps a non-USD currency on its own path and never mixes it with USD', async () => {
    fake.state.series = [
      ...billingDataset({ services: ['AmazonEC2'], endSec: END, hours: 24, rate: () => 1 }),
      ...billingDataset({ services: ['AmazonEC2'], endSec: END, hours: 24, currency: 'EUR', rate: () => 3 }),
    ];
    const r = await poll({ endpoint: fake.url });
    expect(r.error).toBeUndefined();
    const usd = r.points('all.amazonec2.spend_per_hour');
    const eur = r.points('all.amazonec2.spend_per_hour_eur');
    expect(usd.length).toBeGreaterThan(0);
    expect(eur.length).toBe(usd.length);
    for (const [, v] of usd) expect(v).toBeCloseTo(1, 2);
    for (const [, v] of eur) expect(v).toBeCloseTo(3, 2);
    expect(r.points('all.total.estimated_charges_eur').length).toBeGreaterThan(0);
  });

  it('names linked accounts by their alias from accounts:', async () => {
    const r = await poll({ endpoint: fake.url, accounts: { '111111111111': 'prod' } });
    expect(r.error).toBeUndefined();
    expect(r.points('prod.amazonec2.estimated_charges')).toHaveLength(8);
    expect(r.points('111111111111.amazonec2.estimated_charges')).toHaveLength(0);
    expect(r.points('222222222222.amazonec2.estimated_charges')).toHaveLength(8);
  });
});

describe('month rollover and odd data', () => {
  it('restarts spend_per_hour at the month start and never emits a negative rate', async () => {
    // 2026-12-01 13:30 UTC: the 48 h window spans Nov 29 14:00 .. Dec 1 14:00.
    const now = Date.UTC(2026, 11, 1, 13, 30);
    const end = Date.UTC(2026, 11, 1, 14) / 1000;
    const decStart = Date.UTC(2026, 11, 1) / 1000;
    fake.state.series = billingDataset({ services: ['AmazonEC2'], endSec: end, hours: 96, everyHours: 6, rate: () => 2 });
    const r = await poll({ endpoint: fake.url }, now);
    expect(r.error).toBeUndefined();
    const charges = r.points('all.amazonec2.estimated_charges');
    // The month-to-date estimate drops to ~0 at 00:00 UTC on the 1st; the gauge shows that as is.
    const dec = charges.filter(([ts]) => ts! >= decStart);
    const nov = charges.filter(([ts]) => ts! < decStart);
    expect(dec.map(([, v]) => v)).toEqual([0, 12, 24]);
    expect(nov.at(-1)![1]).toBeGreaterThan(1400);

    const rates = r.points('all.amazonec2.spend_per_hour');
    expect(rates.length).toBe(charges.length - 1);
    for (const [ts, v] of rates) {
      expect(v).toBeGreaterThanOrEqual(0);
      if (ts !== decStart) expect(v).toBeCloseTo(2, 2);
    }
    // The first December bucket (00:00, value 0) gets a rate too: 0 over at least one hour.
    expect(rates.find(([ts]) => ts === decStart)).toEqual([decStart, 0]);
  });

  it('skips (and counts) the rate when the estimate goes down within a month, e.g. a credit', async () => {
    const t0 = START + 2 * HOUR;
    fake.state.series = [
      {
        dimensions: [{ Name: 'Currency', Value: 'USD' }],
        points: [
          [t0 + 60, 100],
          [t0 + 6 * HOUR + 60, 130],
          [t0 + 12 * HOUR + 60, 90],
          [t0 + 18 * HOUR + 60, 102],
        ],
      },
    ];
    const r = await poll({ endpoint: fake.url });
    expect(r.error).toBeUndefined();
    expect(r.points('all.total.spend_per_hour')).toEqual([
      [t0 + 6 * HOUR, 5],
      [t0 + 18 * HOUR, 2],
    ]);
    expect(r.sink.counters().get('aws.billing.poller.rate_skipped')).toBe(1);
  });

  it('drops NaN values and counts them; an empty series is normal, not an error', async () => {
    fake.state.series = [
      {
        dimensions: [{ Name: 'Currency', Value: 'USD' }],
        points: [
          [START + 3600 + 60, 10],
          [START + 7200 + 60, Number.NaN],
          [START + 3 * 3600 + 60, 13],
        ],
      },
      // Last datapoint long before the window: ListMetrics still lists it (2 weeks), no values.
      { dimensions: [{ Name: 'Currency', Value: 'USD' }, { Name: 'ServiceName', Value: 'AmazonRoute53' }], points: [[START - 5 * 86_400, 3]] },
    ];
    const r = await poll({ endpoint: fake.url });
    expect(r.error).toBeUndefined();
    // The fake really put "NaN" on the wire, and the SDK turned it into NaN.
    expect(r.points('all.total.estimated_charges')).toEqual([
      [START + 3600, 10],
      [START + 3 * 3600, 13],
    ]);
    expect(r.sink.counters().get('aws.billing.poller.dropped.non_finite')).toBe(1);
    expect(r.sink.gauges().get('aws.billing.poller.series_empty')).toBe(1);
    expect(r.points('all.amazonroute53.estimated_charges')).toEqual([]);
    expect(r.logs.some((l) => / warn .*not numbers/.test(l))).toBe(true);
  });

  it('sends the good series and fails with 75 when some results are InternalError inside a 200', async () => {
    fake.state.resultStatus[dimsKey([{ Name: 'Currency', Value: 'USD' }, { Name: 'ServiceName', Value: 'AmazonS3' }])] = 'InternalError';
    const r = await poll({ endpoint: fake.url });
    const err = expectBillingError(r.error, 'temporary');
    expect(err.message).toMatch(/1 of 12 series with InternalError.*ServiceName=AmazonS3/);
    expect(r.points('all.amazons3.estimated_charges')).toEqual([]);
    expect(r.points('all.amazonec2.estimated_charges')).toHaveLength(8);
    expect(r.sink.counters().get('aws.billing.poller.dropped.result_error')).toBe(1);
    expect(r.sink.gauges().get('aws.billing.poller.success')).toBe(0);
  });

  it('fails with 77 when a result is Forbidden', async () => {
    fake.state.resultStatus[dimsKey([{ Name: 'Currency', Value: 'USD' }])] = 'Forbidden';
    const r = await poll({ endpoint: fake.url });
    expect(expectBillingError(r.error, 'auth').message).toMatch(/Forbidden.*IAM/);
  });

  it('fails with 79 and names the console setting when there are no billing metrics', async () => {
    fake.state.series = [];
    const r = await poll({ endpoint: fake.url });
    const err = expectBillingError(r.error, 'no_data');
    expect(err.exitCode).toBe(79);
    expect(err.message).toMatch(/Receive Billing Alerts/);
    expect(r.sink.counters().get('aws.billing.poller.failures.no_data')).toBe(1);
  });
});

describe('faults', () => {
  it('rides out throttling with the SDK retries and counts them', async () => {
    fake.fault('throttle', { op: 'GetMetricData', times: 2 });
    const r = await poll({ endpoint: fake.url, max_attempts: 3 });
    expect(r.error).toBeUndefined();
    const attempts = fake.requestsFor('GetMetricData').map((q) => q.headers['amz-sdk-request']);
    expect(attempts).toEqual(['attempt=1; max=3', 'attempt=2; max=3', 'attempt=3; max=3']);
    expect(r.sink.counters().get('aws.billing.poller.retries')).toBe(2);
    expect(r.points('all.total.estimated_charges')).toHaveLength(8);
  });

  it('reports throttling that outlasts the retries as a temporary failure (75)', async () => {
    fake.fault('throttle', { op: 'ListMetrics', times: 2 });
    const r = await poll({ endpoint: fake.url, max_attempts: 2 });
    const err = expectBillingError(r.error, 'temporary');
    expect(err.message).toMatch(/ListMetrics failed: Throttling: Rate exceeded, HTTP 400, after 2 attempts/);
    expect(err.message).toMatch(/next run re-reads/);
    expect(r.sink.counters().get('aws.billing.poller.failures.temporary')).toBe(1);
  });

  it('rejects keys CloudWatch does not know with 77 (no retry)', async () => {
    restoreEnv();
    restoreEnv = setAwsEnv({ ...staticKeysEnv(), AWS_ACCESS_KEY_ID: 'AKIDUNKNOWN' });
    const r = await poll({ endpoint: fake.url });
    expect(expectBillingError(r.error, 'auth').message).toMatch(/InvalidClientTokenId.*HTTP 403.*cloudwatch:ListMetrics/);
    expect(fake.requestsFor('ListMetrics')).toHaveLength(1);
  });

  it('reports expired session credentials with 77', async () => {
    fake.state.credentials['AKIDEXPIRED'] = { secretAccessKey: 's3cret', sessionToken: 'tok', expired: true };
    restoreEnv();
    restoreEnv = setAwsEnv({ ...staticKeysEnv(), AWS_ACCESS_KEY_ID: 'AKIDEXPIRED', AWS_SECRET_ACCESS_KEY: 's3cret', AWS_SESSION_TOKEN: 'tok' });
    const r = await poll({ endpoint: fake.url });
    expect(expectBillingError(r.error, 'auth').message).toMatch(/ExpiredToken: The security token included in the request is expired/);
  });

  it('maps AccessDenied to 77 with the IAM hint', async () => {
    fake.fault('accessDenied', { op: 'GetMetricData' });
    const r = await poll({ endpoint: fake.url });
    expect(expectBillingError(r.error, 'auth').message).toMatch(/AccessDenied.*not authorized to perform: cloudwatch:GetMetricData.*IAM policy/);
  });

  it('treats an HTML page from a proxy (HTTP 200) as temporary and quotes it', async () => {
    fake.fault('html', { op: 'ListMetrics' });
    const r = await poll({ endpoint: fake.url });
    const err = expectBillingError(r.error, 'temporary');
    expect(err.message).toMatch(/not CloudWatch JSON \(a proxy/);
    expect(err.message).toMatch(/content-type text\/html.*Unexpected token '<', "<html>/);
  });

  it('treats a proxy 502 HTML page as temporary after the SDK retried it', async () => {
    fake.fault('html', { op: 'ListMetrics', status: 502, times: 3 });
    const r = await poll({ endpoint: fake.url, max_attempts: 3 });
    expectBillingError(r.error, 'temporary');
    expect(fake.requestsFor('ListMetrics')).toHaveLength(3);
  });

  it('ends a poll against a hung endpoint at the whole-run deadline', async () => {
    fake.fault('hang', { op: 'GetMetricData', times: 5 });
    const r = await poll({ endpoint: fake.url, timeout: '1s', socket_timeout: '30s' });
    const err = expectBillingError(r.error, 'temporary');
    expect(err.message).toMatch(/GetMetricData did not finish: the poll deadline \(timeout\) passed/);
  });

  it('works on a host whose clock is 15 minutes behind (SDK re-signs with AWS time) and warns about it', async () => {
    fake.state.now = () => Date.now() + 15 * 60_000;
    const r = await poll({ endpoint: fake.url });
    expect(r.error).toBeUndefined();
    // The first request was rejected as expired, the retry carried a corrected signing time.
    expect(fake.requestsFor('ListMetrics')).toHaveLength(2);
    expect(r.points('all.total.estimated_charges')).toHaveLength(8);
    expect(r.sink.gauges().get('aws.billing.poller.clock_offset_s')).toBeGreaterThan(14 * 60);
    expect(r.logs.some((l) => / warn .*clock is 15 min behind AWS/.test(l))).toBe(true);
  });

  it('fails fast with 75 when nothing listens on the endpoint', async () => {
    const closed = await startFakeCloudWatch();
    const url = closed.url;
    await closed.close();
    const r = await poll({ endpoint: url, max_attempts: 2 });
    expect(expectBillingError(r.error, 'temporary').message).toMatch(/ECONNREFUSED|connect/);
  });

  it('stop() during a hung poll returns and the poll reports it was stopped', async () => {
    fake.fault('hang', { op: 'ListMetrics' });
    const t = testContext({ prefix: 'aws.billing', now: () => NOW });
    applyDefinitionEnv([config({ endpoint: fake.url, timeout: '60s' })]);
    const integration = cloudwatchBilling.create(config({ endpoint: fake.url, timeout: '60s' }), t.ctx);
    const running = integration.once().catch((e: unknown) => e);
    const deadline = Date.now() + 10_000;
    while (fake.requestsFor('ListMetrics').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await integration.stop();
    const err = expectBillingError(await running, 'temporary');
    expect(err.message).toMatch(/the poller was stopped/);
    await integration.stop(); // idempotent
  });
});

describe('credentials', () => {
  let imds: Server;
  let imdsRequests: string[];
  let imdsUrl: string;

  beforeAll(async () => {
    imdsRequests = [];
    // A loopback stand-in for the EC2 instance metadata service (IMDSv2), with one role.
    imds = createServer((req, res) => {
      imdsRequests.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT' && req.url === '/latest/api/token') return res.end('imds-token');
      if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-token') return res.writeHead(401).end();
      if (req.url === '/latest/meta-data/iam/security-credentials/') return res.end('billing-role');
      if (req.url === '/latest/meta-data/iam/security-credentials/billing-role') {
        return res.end(
          JSON.stringify({
            Code: 'Success',
            Type: 'AWS-HMAC',
            AccessKeyId: 'ASIAIMDS',
            SecretAccessKey: 'imds-secret',
            Token: 'imds-session',
            Expiration: new Date(Date.now() + 6 * 3_600_000).toISOString(),
            LastUpdated: new Date().toISOString(),
          }),
        );
      }
      return res.writeHead(404).end();
    });
    await new Promise<void>((r) => imds.listen(0, '127.0.0.1', r));
    imdsUrl = `http://127.0.0.1:${(imds.address() as AddressInfo).port}`;
    fake.state.credentials['AKIDBILLING'] = { secretAccessKey: 'billing-secret' };
    fake.state.credentials['ASIAIMDS'] = { secretAccessKey: 'imds-secret', sessionToken: 'imds-session' };
  });
  afterAll(async () => {
    await new Promise((r) => imds.close(r));
  });
  beforeEach(() => {
    imdsRequests.length = 0;
  });

  const noCredentials = () => ({
    AWS_REGION: 'eu-west-1',
    AWS_SHARED_CREDENTIALS_FILE: FIXTURES + 'no-such-credentials',
    AWS_CONFIG_FILE: FIXTURES + 'no-such-config',
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsUrl,
  });

  it('uses the keys of a named profile', async () => {
    restoreEnv();
    restoreEnv = setAwsEnv({ AWS_REGION: 'eu-west-1', AWS_SHARED_CREDENTIALS_FILE: FIXTURES + 'credentials', AWS_CONFIG_FILE: FIXTURES + 'config' });
    const r = await poll({ endpoint: fake.url, profile: 'billing' });
    expect(r.error).toBeUndefined();
    // The profile's region (ap-southeast-2) is ignored too: billing lives in us-east-1.
    expect(String(fake.requestsFor('ListMetrics')[0]!.headers['authorization'])).toMatch(/Credential=AKIDBILLING\/\d{8}\/us-east-1\//);
  });

  it('a profile that does not exist is a config error (78) listing the profiles there', async () => {
    restoreEnv();
    restoreEnv = setAwsEnv({ ...noCredentials(), AWS_SHARED_CREDENTIALS_FILE: FIXTURES + 'credentials', AWS_CONFIG_FILE: FIXTURES + 'config' });
    const r = await poll({ endpoint: fake.url, profile: 'biling' });
    const err = expectBillingError(r.error, 'config');
    expect(err.message).toMatch(/AWS profile "biling" \(key profile\) is not in .*credentials or .*config; profiles there: other, billing, default/);
    expect(fake.requests).toHaveLength(0);
    expect(imdsRequests).toEqual([]);
  });

  it('without credentials fails fast with 77 and what to do, without probing instance metadata', async () => {
    restoreEnv();
    restoreEnv = setAwsEnv(noCredentials());
    const r = await poll({ endpoint: fake.url });
    const err = expectBillingError(r.error, 'auth');
    expect(err.message).toMatch(/no AWS credentials found .*AWS_ACCESS_KEY_ID.*profile.*instance_metadata: true/);
    expect(imdsRequests).toEqual([]);
    expect(fake.requests).toHaveLength(0);
  });

  it('uses the instance role from instance metadata when instance_metadata: true', async () => {
    restoreEnv();
    restoreEnv = setAwsEnv(noCredentials());
    const r = await poll({ endpoint: fake.url, instance_metadata: true });
    expect(r.error).toBeUndefined();
    expect(imdsRequests).toContain('PUT /latest/api/token');
    const auth = fake.requestsFor('ListMetrics')[0]!;
    expect(String(auth.headers['authorization'])).toMatch(/Credential=ASIAIMDS\//);
    expect(auth.headers['x-amz-security-token']).toBe('imds-session');
  });

  it('an instance without instance_metadata does not turn it off for another instance that asks for it', async () => {
    restoreEnv();
    restoreEnv = setAwsEnv(noCredentials());
    const plain = config({ endpoint: fake.url });
    const onEc2 = config({ endpoint: fake.url, instance_metadata: true });
    // As `telltale run` with both: one process-wide decision over all instances, before any create().
    applyDefinitionEnv([plain, onEc2]);
    const t1 = testContext({ name: 'plain' });
    const first = cloudwatchBilling.create(plain, t1.ctx);
    const t2 = testContext({ name: 'ec2' });
    const second = cloudwatchBilling.create(onEc2, t2.ctx);
    try {
      await first.once().catch(() => undefined);
      await second.once();
    } finally {
      await first.stop();
      await second.stop();
    }
    expect(imdsRequests).toContain('PUT /latest/api/token');
    expect(t2.logs.join('')).not.toMatch(/AWS_EC2_METADATA_DISABLED/);
  });

  it('bounds credential resolution by credentials_timeout', async () => {
    const hang = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    try {
      restoreEnv();
      restoreEnv = setAwsEnv({
        ...noCredentials(),
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/creds`,
      });
      const r = await poll({ endpoint: fake.url, credentials_timeout: '300ms' });
      expect(expectBillingError(r.error, 'temporary').message).toMatch(/resolving AWS credentials took longer than 300 ms/);
      expect(fake.requests).toHaveLength(0);
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
  });
});
