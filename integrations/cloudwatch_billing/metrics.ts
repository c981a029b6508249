/** Every metric cloudwatch_billing emits: the README table and the live page titles come from this list. */
import type { MetricDoc } from '../../shared/core/integration.js';

export const cloudwatchBillingMetrics: readonly MetricDoc[] = [
  {
    name: '<account>.<service>.estimated_charges',
    type: 'datapoint',
    unit: 'USD',
    description:
      'Month-to-date estimated charges (CloudWatch AWS/Billing EstimatedCharges, Maximum per hour), with the CloudWatch timestamp. <account> is `all` (payer/standalone view) or a linked account id or alias; <service> is the lower-cased ServiceName or `total`.',
  },
  {
    name: '<account>.<service>.estimated_charges_<currency>',
    type: 'datapoint',
    unit: '<currency>',
    description: 'The same for a currency other than USD: never mixed into the USD path.',
  },
  {
    name: '<account>.<service>.spend_per_hour',
    type: 'datapoint',
    unit: 'USD/h',
    description:
      'Average spend per hour between two consecutive estimates, handling the monthly reset; never negative (a decrease yields no point). Non-USD: spend_per_hour_<currency>.',
  },
  { name: 'poller.success', type: 'gauge', unit: '1', description: '1 after a complete poll, 0 after a failed or partial one. Alert on it.' },
  { name: 'poller.failures.<category>', type: 'counter', unit: 'count', description: 'Failed polls by category: auth, temporary, config, no_data, sink, software.' },
  { name: 'poller.api_calls.list_metrics', type: 'counter', unit: 'count', description: 'ListMetrics calls (pages).' },
  { name: 'poller.api_calls.get_metric_data', type: 'counter', unit: 'count', description: 'GetMetricData calls (batches × pages).' },
  { name: 'poller.retries', type: 'counter', unit: 'count', description: 'Extra attempts the SDK made on calls that then succeeded (throttling, 5xx, timeouts).' },
  { name: 'poller.metrics_requested', type: 'counter', unit: 'count', description: 'GetMetricData queries: what AWS bills, $0.01 per 1,000.' },
  { name: 'poller.series', type: 'gauge', unit: 'count', description: 'Billing series queried this poll.' },
  { name: 'poller.series_empty', type: 'gauge', unit: 'count', description: 'Series without a datapoint in the window (normal between AWS updates).' },
  { name: 'poller.datapoints', type: 'counter', unit: 'count', description: 'Datapoints emitted (charges and rates).' },
  {
    name: 'poller.dropped.<reason>',
    type: 'counter',
    unit: 'count',
    description:
      'Input not turned into metrics: non_finite (NaN/Infinity values), length_mismatch, result_error (InternalError/Forbidden results), unknown_dimensions, not_billing, name_collision.',
  },
  { name: 'poller.rate_skipped', type: 'counter', unit: 'count', description: 'Rate points not emitted because the estimate went down within a month (a credit or revision).' },
  { name: 'poller.duration_ms', type: 'timer', unit: 'ms', description: 'Duration of one poll.' },
  {
    name: 'poller.clock_offset_s',
    type: 'gauge',
    unit: 's',
    description: "AWS's clock minus this host's, as the SDK measured it from CloudWatch's Date header (0 when in sync); a warning is logged from 4 minutes.",
  },
];
