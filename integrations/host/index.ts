import { defineIntegration } from '../../shared/core/integration.js';
import { hostMetrics } from './metrics.js';
import { hostSchema, validateHost } from './config.js';

export const host = defineIntegration({
  type: 'host',
  summary: 'System metrics from /proc every second (memory, cpu, load, disk, network, commands) with threshold alerts.',
  mode: 'poller',
  defaultPrefix: 'host',
  defaultIntervalMs: 1000,
  schema: hostSchema,
  metrics: hostMetrics,
  validate: validateHost,
  load: () => import('./poller.js').then((m) => m.createHost),
});
