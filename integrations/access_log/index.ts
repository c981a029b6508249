import { defineIntegration } from '../../shared/core/integration.js';
import { accessLogSchema, validateAccessLog } from './config.js';
import { accessLogMetrics } from './metrics.js';

export const accessLog = defineIntegration({
  type: 'access_log',
  summary: 'Tails Apache/nginx/varnishncsa access logs through rotation and restarts: requests, statuses, methods, bytes, response times, cache hits',
  mode: 'service',
  defaultPrefix: '',
  schema: accessLogSchema,
  metrics: accessLogMetrics,
  validate: validateAccessLog,
  load: () => import('./service.js').then((m) => m.createAccessLog),
});
