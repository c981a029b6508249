import { defineIntegration } from '../../shared/core/integration.js';
import { cloudwatchBillingSchema } from './config.js';
import { cloudwatchBillingMetrics } from './metrics.js';

export const cloudwatchBilling = defineIntegration({
  type: 'cloudwatch_billing',
  summary: 'AWS estimated charges per service and linked account, from CloudWatch (us-east-1), with a derived spend rate',
  mode: 'poller',
  defaultPrefix: 'aws.billing',
  defaultIntervalMs: 3_600_000,
  schema: cloudwatchBillingSchema,
  metrics: cloudwatchBillingMetrics,
  load: () => import('./poller.js').then((m) => m.createCloudwatchBilling),
});
