/**
 * puppet_reports: watches Puppet report files (and/or an agent's last_run_summary.yaml) and emits
 * every run's metrics with the run's own timestamp, plus run status, age and fleet gauges.
 */
import { defineIntegration } from '../../shared/core/integration.js';
import { puppetReportsSchema, validatePuppetReports } from './config.js';
import { puppetReportsMetrics } from './metrics.js';

export const puppetReports = defineIntegration({
  type: 'puppet_reports',
  summary: 'Watch Puppet report files and last_run_summary.yaml; emit every run with its own timestamp',
  mode: 'service',
  defaultPrefix: 'puppet',
  schema: puppetReportsSchema,
  metrics: puppetReportsMetrics,
  validate: validatePuppetReports,
  load: () => import('./service.js').then((m) => m.createPuppetReports),
});
