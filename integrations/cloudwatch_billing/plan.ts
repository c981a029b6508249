/**
 * Pure planning and shaping: which window to read, how to batch the GetMetricData queries, how a
 * metric's dimensions become a Graphite path, and which datapoints survive. No IO here, so every
 * rule is tested without a network.
 */
import type { Dimension, Metric } from '@aws-sdk/client-cloudwatch';
import { sanitizeNode } from '../../shared/emitter/names.js';

export const NAMESPACE = 'AWS/Billing';
export const METRIC_NAME = 'EstimatedCharges';
/** One hour: AWS updates the estimate every few hours; finer buckets only add empty ones. */
export const PERIOD_SECONDS = 3600;
/** GetMetricData accepts at most 500 queries per call. */
export const MAX_QUERIES_PER_CALL = 500;
/** The currency whose series get the plain names; any other keeps its own path. */
export const PRIMARY_CURRENCY = 'USD';

/** A discovered metric, as ListMetrics returns it. */
export type BillingMetric = Metric;

export interface Window {
  startSec: number;
  endSec: number;
}

/**
 * The window `[end - lookback, end)` with `end` the next hour boundary: it includes the current,
 * still-growing hour (its Maximum is the newest estimate; later runs overwrite it) and keeps
 * every bucket start on the hour, so the same (path, timestamp) is re-sent on every run.
 */
export function billingWindow(nowMs: number, lookbackMs: number): Window {
  const endSec = Math.ceil(nowMs / 1000 / PERIOD_SECONDS) * PERIOD_SECONDS;
  const lookbackSec = Math.ceil(lookbackMs / 1000 / PERIOD_SECONDS) * PERIOD_SECONDS;
  return { startSec: endSec - lookbackSec, endSec };
}

/** Where a series goes: `<scope>.<service>.<estimated_charges|spend_per_hour>[_<currency>]`. */
export interface SeriesIdentity {
  /** `all` for the payer/standalone view, else the linked account id (or its alias). */
  scope: string;
  /** Sanitised, lower-cased ServiceName, or `total` for the all-services roll-up. */
  service: string;
  currency: string;
  /** Stable key of the raw dimensions, for logs and de-duplication. */
  key: string;
}

const KNOWN_DIMENSIONS = new Set(['Currency', 'ServiceName', 'LinkedAccount']);

/**
 * Maps a metric's dimensions to its identity, or a reason to skip it. Dimension names outside
 * ServiceName/LinkedAccount/Currency would collide with the series without them, so they are
 * skipped (and counted) rather than guessed at.
 */
export function identify(
  metric: BillingMetric,
  aliases: Readonly<Record<string, string>>,
): { identity: SeriesIdentity } | { skip: 'unknown_dimensions' | 'not_billing' } {
  if (metric.Namespace !== NAMESPACE || metric.MetricName !== METRIC_NAME) return { skip: 'not_billing' };
  const dims = new Map<string, string>();
  for (const d of metric.Dimensions ?? []) {
    if (d.Name === undefined || d.Value === undefined) continue;
    if (!KNOWN_DIMENSIONS.has(d.Name)) return { skip: 'unknown_dimensions' };
    dims.set(d.Name, d.Value);
  }
  const account = dims.get('LinkedAccount');
  const service = dims.get('ServiceName');
  // AWS documents Currency as required; a metric without one is read as the primary currency.
  const currency = (dims.get('Currency') ?? PRIMARY_CURRENCY).toUpperCase();
  const scope = account === undefined ? 'all' : sanitizeNode(aliases[account] ?? account) || 'unknown';
  const serviceNode = service === undefined ? 'total' : sanitizeNode(service).toLowerCase() || 'unknown';
  const key = [...dims.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return { identity: { scope, service: serviceNode, currency, key } };
}

export type SeriesKind = 'estimated_charges' | 'spend_per_hour';

export function metricPath(id: SeriesIdentity, kind: SeriesKind): string {
  const suffix = id.currency === PRIMARY_CURRENCY ? '' : `_${sanitizeNode(id.currency).toLowerCase()}`;
  return `${id.scope}.${id.service}.${kind}${suffix}`;
}

/** One GetMetricData call's worth of queries, with the Id → metric index map to read results back. */
export interface QueryBatch {
  queries: {
    Id: string;
    MetricStat: { Metric: { Namespace: string; MetricName: string; Dimensions: Dimension[] }; Period: number; Stat: 'Maximum' };
    ReturnData: true;
  }[];
  /** Query Id → index into the metrics list given to `planBatches`. */
  byId: Map<string, number>;
}

/**
 * One `Maximum` query per metric (Maximum of a month-to-date total is its newest value in the
 * bucket), at most 500 per call. Ids are `m<index>`: results are mapped back by Id, never by
 * label or position.
 */
export function planBatches(metrics: readonly BillingMetric[]): QueryBatch[] {
  const batches: QueryBatch[] = [];
  for (let from = 0; from < metrics.length; from += MAX_QUERIES_PER_CALL) {
    const batch: QueryBatch = { queries: [], byId: new Map() };
    for (let i = from; i < Math.min(from + MAX_QUERIES_PER_CALL, metrics.length); i++) {
      const m = metrics[i]!;
      const id = `m${i}`;
      batch.queries.push({
        Id: id,
        MetricStat: {
          Metric: { Namespace: NAMESPACE, MetricName: METRIC_NAME, Dimensions: m.Dimensions ?? [] },
          Period: PERIOD_SECONDS,
          Stat: 'Maximum',
        },
        ReturnData: true,
      });
      batch.byId.set(id, i);
    }
    batches.push(batch);
  }
  return batches;
}

export interface Point {
  /** Bucket start, unix seconds. */
  ts: number;
  value: number;
}

/**
 * Zips CloudWatch's parallel Timestamps/Values arrays into ascending points, dropping non-finite
 * values (the JSON protocol turns "NaN" into NaN) and duplicate timestamps (a page boundary
 * re-delivering a bucket keeps the later copy). Returns how many were dropped and why.
 */
export function cleanPoints(
  timestamps: readonly (Date | number)[],
  values: readonly number[],
): { points: Point[]; nonFinite: number; mismatched: number } {
  const byTs = new Map<number, number>();
  let nonFinite = 0;
  const n = Math.min(timestamps.length, values.length);
  for (let i = 0; i < n; i++) {
    const t = timestamps[i]!;
    const ts = Math.floor((t instanceof Date ? t.getTime() : t * 1000) / 1000);
    const v = values[i]!;
    if (!Number.isFinite(v) || !Number.isFinite(ts)) {
      nonFinite++;
      continue;
    }
    byTs.set(ts, v);
  }
  const points = [...byTs.entries()].map(([ts, value]) => ({ ts, value })).sort((a, b) => a.ts - b.ts);
  return { points, nonFinite, mismatched: Math.abs(timestamps.length - values.length) };
}
