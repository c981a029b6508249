/** The pure rules: window, identity/paths, batching, cleaning, spend rate, error classes, profiles. */
import { describe, expect, it } from 'vitest';
import { profilesInIni } from '../client.js';
import { BillingError, classifyAwsError, EXIT_CODES } from '../errors.js';
import { buildDatapoints } from '../output.js';
import { billingWindow, cleanPoints, identify, metricPath, planBatches, type BillingMetric } from '../plan.js';
import { monthStartUtc, spendPerHour } from '../rate.js';

const H = 3600;
const metric = (dims: Record<string, string>): BillingMetric => ({
  Namespace: 'AWS/Billing',
  MetricName: 'EstimatedCharges',
  Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })),
});

describe('billingWindow', () => {
  it('ends at the next hour boundary and starts lookback hours earlier', () => {
    const now = Date.UTC(2026, 0, 14, 10, 5, 33);
    expect(billingWindow(now, 48 * H * 1000)).toEqual({ startSec: Date.UTC(2026, 0, 12, 11) / 1000, endSec: Date.UTC(2026, 0, 14, 11) / 1000 });
  });
  it('keeps an exact hour as the end and rounds an odd lookback up to whole hours', () => {
    const now = Date.UTC(2026, 0, 14, 10);
    expect(billingWindow(now, 2.5 * H * 1000)).toEqual({ startSec: now / 1000 - 3 * H, endSec: now / 1000 });
  });
});

describe('identify / metricPath', () => {
  it('maps the four dimension combinations to all|account × total|service', () => {
    const cases: [Record<string, string>, string][] = [
      [{ Currency: 'USD' }, 'all.total.estimated_charges'],
      [{ Currency: 'USD', ServiceName: 'AmazonEC2' }, 'all.amazonec2.estimated_charges'],
      [{ Currency: 'USD', LinkedAccount: '111111111111' }, '111111111111.total.estimated_charges'],
      [{ Currency: 'USD', LinkedAccount: '111111111111', ServiceName: 'AWS Data.Transfer' }, '111111111111.aws_data_transfer.estimated_charges'],
    ];
    for (const [dims, path] of cases) {
      const r = identify(metric(dims), {});
      expect('identity' in r && metricPath(r.identity, 'estimated_charges')).toBe(path);
    }
  });
  it('applies account aliases, and suffixes non-USD currencies', () => {
    const r = identify(metric({ Currency: 'eur', LinkedAccount: '111111111111', ServiceName: 'AmazonS3' }), { '111111111111': 'prod.eu' });
    expect('identity' in r && metricPath(r.identity, 'spend_per_hour')).toBe('prod_eu.amazons3.spend_per_hour_eur');
  });
  it('skips unknown dimensions and other metrics instead of guessing', () => {
    expect(identify(metric({ Currency: 'USD', Region: 'eu-west-1' }), {})).toEqual({ skip: 'unknown_dimensions' });
    expect(identify({ Namespace: 'AWS/EC2', MetricName: 'CPUUtilization' }, {})).toEqual({ skip: 'not_billing' });
  });
});

describe('planBatches', () => {
  it('puts at most 500 Maximum/3600 queries in a call with Ids that map back to the input index', () => {
    const metrics = Array.from({ length: 1001 }, (_, i) => metric({ Currency: 'USD', ServiceName: `S${i}` }));
    const batches = planBatches(metrics);
    expect(batches.map((b) => b.queries.length)).toEqual([500, 500, 1]);
    const b2 = batches[2]!;
    expect(b2.queries[0]).toEqual({
      Id: 'm1000',
      MetricStat: { Metric: { Namespace: 'AWS/Billing', MetricName: 'EstimatedCharges', Dimensions: metrics[1000]!.Dimensions }, Period: 3600, Stat: 'Maximum' },
      ReturnData: true,
    });
    expect(b2.byId.get('m1000')).toBe(1000);
    expect(batches[1]!.byId.get('m742')).toBe(742);
    expect(planBatches([])).toEqual([]);
  });
});

describe('cleanPoints', () => {
  it('sorts, drops non-finite values, de-duplicates timestamps and counts length mismatches', () => {
    const r = cleanPoints([new Date(7200_000), new Date(3600_000), new Date(10_800_000), new Date(3600_000), new Date(14_400_000)], [2, 1, Number.NaN, 1.5]);
    expect(r).toEqual({ points: [{ ts: 3600, value: 1.5 }, { ts: 7200, value: 2 }], nonFinite: 1, mismatched: 1 });
  });
});

describe('spendPerHour', () => {
  const dec1 = Date.UTC(2026, 11, 1) / 1000;
  it('is the increase per hour within a month', () => {
    expect(spendPerHour([{ ts: dec1 + 2 * H, value: 10 }, { ts: dec1 + 8 * H, value: 22 }], H)).toEqual({ rates: [{ ts: dec1 + 8 * H, value: 2 }], decreases: 0 });
  });
  it('restarts from the month start across the reset and never divides by zero', () => {
    const r = spendPerHour(
      [
        { ts: dec1 - 6 * H, value: 900 },
        { ts: dec1, value: 0.5 },
        { ts: dec1 + 4 * H, value: 8.5 },
      ],
      H,
    );
    expect(r.rates).toEqual([
      { ts: dec1, value: 0.5 },
      { ts: dec1 + 4 * H, value: 2 },
    ]);
    // A month's first point a few hours in: value / hours since 00:00 UTC on the 1st.
    expect(spendPerHour([{ ts: dec1 - H, value: 900 }, { ts: dec1 + 5 * H, value: 10 }], H).rates).toEqual([{ ts: dec1 + 5 * H, value: 2 }]);
  });
  it('rounds away float noise', () => {
    expect(spendPerHour([{ ts: dec1 + H, value: 541.8 }, { ts: dec1 + 7 * H, value: 548.1 }], H).rates).toEqual([{ ts: dec1 + 7 * H, value: 1.05 }]);
  });
  it('emits nothing (and counts) for a decrease within a month', () => {
    const r = spendPerHour([{ ts: dec1 + H, value: 10 }, { ts: dec1 + 2 * H, value: 9 }, { ts: dec1 + 3 * H, value: 12 }], H);
    expect(r).toEqual({ rates: [{ ts: dec1 + 3 * H, value: 3 }], decreases: 1 });
  });
  it('finds UTC month starts, including January', () => {
    expect(monthStartUtc(Date.UTC(2027, 0, 1, 0, 30) / 1000)).toBe(Date.UTC(2027, 0, 1) / 1000);
    expect(monthStartUtc(Date.UTC(2026, 11, 31, 23, 59) / 1000)).toBe(dec1);
  });
});

describe('buildDatapoints', () => {
  it('emits charges ascending then rates, and no rates when spend_rate is off', () => {
    const r = identify(metric({ Currency: 'USD' }), {});
    if (!('identity' in r)) throw new Error('unreachable');
    const series = [{ identity: r.identity, points: [{ ts: 7200, value: 3 }, { ts: 14_400, value: 5 }] }];
    expect(buildDatapoints(series, { spendRate: true }).datapoints).toEqual([
      { name: 'all.total.estimated_charges', value: 3, ts: 7200 },
      { name: 'all.total.estimated_charges', value: 5, ts: 14_400 },
      { name: 'all.total.spend_per_hour', value: 1, ts: 14_400 },
    ]);
    expect(buildDatapoints(series, { spendRate: false }).datapoints).toHaveLength(2);
  });
});

describe('errors', () => {
  it('classifies SDK errors by name, network code and HTTP status', () => {
    const e = (name: string, status?: number, extra: object = {}) =>
      Object.assign(new Error('x'), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}), ...extra });
    expect(classifyAwsError(e('ExpiredToken', 403))).toBe('auth');
    expect(classifyAwsError(e('CredentialsProviderError'))).toBe('auth');
    expect(classifyAwsError(e('SomethingNew', 403))).toBe('auth');
    expect(classifyAwsError(e('Throttling', 400))).toBe('temporary');
    expect(classifyAwsError(e('Error', undefined, { code: 'ECONNRESET' }))).toBe('temporary');
    expect(classifyAwsError(e('Unknown', 503))).toBe('temporary');
    expect(classifyAwsError(e('InvalidParameterValueException', 400))).toBe('config');
    expect(classifyAwsError(new TypeError('boom'))).toBe('software');
    expect(classifyAwsError('a string')).toBe('software');
  });
  it('carries sysexits-style exit codes', () => {
    expect(EXIT_CODES).toEqual({ auth: 77, temporary: 75, config: 78, no_data: 79, sink: 69, software: 70 });
    const err = new BillingError('no_data', 'nothing');
    expect([err.exitCode, err.category, err.name, err instanceof Error]).toEqual([79, 'no_data', 'BillingError', true]);
  });
});

describe('profilesInIni', () => {
  it('reads [name] and [profile name] sections', () => {
    expect(profilesInIni('[default]\na=1\n[profile billing]\n  [ ops ]\n#[nope]\n[sso-session corp x]\n[default]\n')).toEqual(['default', 'billing', 'ops']);
  });
});
