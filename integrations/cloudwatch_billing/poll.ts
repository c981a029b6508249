/**
 * The IO of one poll: ListMetrics (all pages) then GetMetricData (≤ 500 queries per call, all
 * pages), results mapped back by query Id. Every SDK failure leaves here as a BillingError whose
 * category decides the exit code.
 */
import type { CloudWatchClient, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import type { Logger } from '../../shared/core/log/logger.js';
import { BillingError, classifyAwsError, describeAwsError } from './errors.js';
import { sdk } from './sdk.js';
import {
  cleanPoints,
  identify,
  METRIC_NAME,
  metricPath,
  NAMESPACE,
  planBatches,
  type BillingMetric,
  type Point,
  type SeriesIdentity,
  type Window,
} from './plan.js';

/** Bounds on pagination: a misbehaving endpoint that always returns a NextToken must not loop forever. */
const MAX_PAGES = 1_000;

export interface FetchedSeries {
  identity: SeriesIdentity;
  points: Point[];
}

export interface PollResult {
  series: FetchedSeries[];
  /** Metrics ListMetrics returned (before skipping). */
  discovered: number;
  calls: { listMetrics: number; getMetricData: number };
  /** Extra attempts the SDK made (throttling, 5xx, timeouts) on calls that finally succeeded. */
  retries: number;
  /** Queries sent to GetMetricData: what AWS bills ($0.01 per 1,000). */
  metricsRequested: number;
  /** Metrics not queried, by reason. */
  skipped: Record<string, number>;
  /** Datapoints dropped: NaN/Infinity values, Timestamps/Values length mismatches. */
  nonFinite: number;
  mismatched: number;
  /** Results AWS marked InternalError or Forbidden inside a 200 answer. */
  resultErrors: { key: string; status: string; message: string }[];
  /** PartialData results with no NextToken to fetch the rest with. */
  incomplete: number;
  /** Series with no datapoint in the window (normal between AWS updates). */
  empty: number;
}

interface SendMeta {
  $metadata?: { attempts?: number };
}

export async function fetchBilling(
  client: CloudWatchClient,
  window: Window,
  aliases: Readonly<Record<string, string>>,
  signal: AbortSignal,
  log: Logger,
): Promise<PollResult> {
  const result: PollResult = {
    series: [],
    discovered: 0,
    calls: { listMetrics: 0, getMetricData: 0 },
    retries: 0,
    metricsRequested: 0,
    skipped: {},
    nonFinite: 0,
    mismatched: 0,
    resultErrors: [],
    incomplete: 0,
    empty: 0,
  };
  const countRetries = (out: SendMeta): void => {
    result.retries += Math.max(0, (out.$metadata?.attempts ?? 1) - 1);
  };
  const send = async <T extends SendMeta>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      const out = await run();
      countRetries(out);
      return out;
    } catch (err) {
      throw apiError(what, err, signal);
    }
  };

  // No RecentlyActive filter: it means "the last 3 hours", and billing updates are further apart.
  const metrics: BillingMetric[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    result.calls.listMetrics++;
    const out = await send('ListMetrics', () =>
      client.send(new sdk.ListMetricsCommand({ Namespace: NAMESPACE, MetricName: METRIC_NAME, ...(token ? { NextToken: token } : {}) }), {
        abortSignal: signal,
      }),
    );
    metrics.push(...(out.Metrics ?? []));
    token = out.NextToken || undefined;
    if (!token) break;
  }
  if (token) log.warn('ListMetrics still had pages after the page limit; the rest is ignored', { pages: MAX_PAGES });
  result.discovered = metrics.length;
  if (metrics.length === 0) {
    throw new BillingError(
      'no_data',
      'CloudWatch has no AWS/Billing EstimatedCharges metrics for this account in us-east-1. ' +
        'Enable "Receive Billing Alerts" (Billing console → Billing preferences; root or a billing-permitted user, ' +
        'in the payer account of an organization); the first data appears after some hours',
    );
  }

  // Identify first, so that two metrics mapping to one path are caught before paying for them.
  const wanted: BillingMetric[] = [];
  const identities: SeriesIdentity[] = [];
  const seenPaths = new Map<string, string>();
  for (const m of metrics) {
    const r = identify(m, aliases);
    if ('skip' in r) {
      result.skipped[r.skip] = (result.skipped[r.skip] ?? 0) + 1;
      continue;
    }
    const path = metricPath(r.identity, 'estimated_charges');
    const other = seenPaths.get(path);
    if (other !== undefined) {
      if (other !== r.identity.key) {
        log.warn('two billing series map to one metric path; keeping the first', { path, kept: other, skipped: r.identity.key });
        result.skipped['name_collision'] = (result.skipped['name_collision'] ?? 0) + 1;
      }
      continue;
    }
    seenPaths.set(path, r.identity.key);
    wanted.push(m);
    identities.push(r.identity);
  }

  const collected = identities.map(() => ({ timestamps: [] as (Date | number)[], values: [] as number[] }));
  for (const batch of planBatches(wanted)) {
    result.metricsRequested += batch.queries.length;
    let next: string | undefined;
    let page = 0;
    do {
      result.calls.getMetricData++;
      const out = await send('GetMetricData', () =>
        client.send(
          new sdk.GetMetricDataCommand({
            MetricDataQueries: batch.queries,
            StartTime: new Date(window.startSec * 1000),
            EndTime: new Date(window.endSec * 1000),
            ScanBy: 'TimestampAscending',
            ...(next ? { NextToken: next } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      next = out.NextToken || undefined;
      for (const r of out.MetricDataResults ?? []) {
        const index = r.Id === undefined ? undefined : batch.byId.get(r.Id);
        if (index === undefined) {
          log.warn('GetMetricData returned a result for an Id we did not ask for; ignored', { id: r.Id });
          continue;
        }
        absorb(r, collected[index]!, identities[index]!, next !== undefined, result);
      }
    } while (next && ++page < MAX_PAGES);
    if (next) log.warn('GetMetricData still had pages after the page limit; the rest is ignored', { pages: MAX_PAGES });
  }

  identities.forEach((identity, i) => {
    const { points, nonFinite, mismatched } = cleanPoints(collected[i]!.timestamps, collected[i]!.values);
    result.nonFinite += nonFinite;
    result.mismatched += mismatched;
    if (points.length === 0) result.empty++;
    result.series.push({ identity, points });
  });
  return result;
}

function absorb(
  r: MetricDataResult,
  into: { timestamps: (Date | number)[]; values: number[] },
  identity: SeriesIdentity,
  hasNextPage: boolean,
  result: PollResult,
): void {
  const status = r.StatusCode ?? 'Complete';
  if (status === 'InternalError' || status === 'Forbidden') {
    const message = (r.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()).join('; ');
    result.resultErrors.push({ key: identity.key, status, message });
    return;
  }
  // Values and Timestamps are parallel arrays; a length mismatch is dropped (and counted) by cleanPoints.
  into.timestamps.push(...(r.Timestamps ?? []));
  into.values.push(...(r.Values ?? []));
  if (status === 'PartialData' && !hasNextPage) result.incomplete++;
}

function apiError(what: string, err: unknown, signal: AbortSignal): BillingError {
  if (err instanceof BillingError) return err;
  if (signal.aborted) {
    const reason = signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'the poll deadline (timeout) passed' : 'the poller was stopped';
    return new BillingError('temporary', `${what} did not finish: ${reason} (${describeAwsError(err)})`, { cause: err });
  }
  const category = classifyAwsError(err);
  const detail = describeAwsError(err);
  const hints: Record<string, string> = {
    auth: 'check the credentials and that the IAM policy allows cloudwatch:ListMetrics and cloudwatch:GetMetricData',
    temporary: 'the next run re-reads the whole window, so nothing is lost',
    config: 'check the endpoint setting',
    software: 'please report this with the line above',
  };
  let message = `${what} failed: ${detail}`;
  if (err instanceof SyntaxError || /Deserialization error/.test(String((err as Error | undefined)?.message))) {
    const body = bodyExcerpt(err);
    message = `${what} got an answer that is not CloudWatch JSON (a proxy or captive portal page?)${body ? `: ${body}` : ''} (${detail})`;
  }
  return new BillingError(category, `${message}; ${hints[category] ?? ''}`.replace(/; $/, ''), { cause: err });
}

/**
 * What the unparseable answer said it was. The SDK has consumed the body by then (its own message
 * quotes the first bytes), but the response headers are kept on the hidden `$response`.
 */
function bodyExcerpt(err: unknown): string | undefined {
  const headers = (err as { $response?: { headers?: Record<string, unknown> } } | undefined)?.$response?.headers;
  const type = headers?.['content-type'];
  return typeof type === 'string' ? `content-type ${type}` : undefined;
}
