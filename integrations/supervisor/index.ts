import { defineIntegration } from '../../shared/core/integration.js';
import { supervisorSchema } from './config.js';
import { supervisorMetrics } from './metrics.js';

export const supervisor = defineIntegration({
  type: 'supervisor',
  summary: 'A Supervisor eventlistener: every process transition becomes counters, gauges and timers',
  mode: 'listener',
  defaultPrefix: 'supervisor',
  schema: supervisorSchema,
  metrics: supervisorMetrics,
  // Only Sulphite's names are datapoints (stamped with the event time); the default scheme is not.
  timestamped: (c) => c.compat !== 'none',
  load: () => import('./listener.js').then((m) => m.createSupervisor),
});
