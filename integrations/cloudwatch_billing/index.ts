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
  /**
   * The SDK reads these only from the process environment. On Node 20 it prints a multi-line
   * NodeVersionSupportWarning once per process (from cron, a mail on every run; the SDK is pinned
   * exactly, so it tells us nothing). Off EC2 the instance-metadata probe costs ~2 s before "Could
   * not load credentials", so it is skipped unless an instance asks for it (a container role,
   * ECS/EKS, does not use it and still works).
   */
  processEnv: (configs) => ({
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(configs.some((c) => c.instance_metadata) ? {} : { AWS_EC2_METADATA_DISABLED: 'true' }),
  }),
});
