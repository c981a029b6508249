import { defineIntegration } from '../../shared/integration.js';
import { hostMetrics } from './catalogue.js';
import { hostSchema } from './config.js';
import { createHostPoller } from './host.js';

export const host = defineIntegration({
  type: 'host',
  summary: 'System metrics from /proc every second (memory, cpu, load, disk, network, commands) with threshold alerts.',
  mode: 'poller',
  defaultPrefix: 'host',
  defaultIntervalMs: 1000,
  schema: hostSchema,
  metrics: hostMetrics,
  create: (config, ctx) => createHostPoller(config, ctx),
});
