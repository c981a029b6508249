/**
 * puppet_reports: watches Puppet report files (and/or an agent's last_run_summary.yaml) and emits
 * every run's metrics with the run's own timestamp, plus run status, age and fleet gauges.
 */
import { defineIntegration, type MetricDoc } from '../../shared/core/integration.js';
import { puppetReportsSchema } from './config.js';
import { createPuppetReports } from './service.js';

const metrics: readonly MetricDoc[] = [
  { name: '<host>.resources.<name>', type: 'datapoint', unit: 'count', description: 'Resource counts: total, changed, failed, failed_to_restart, out_of_sync, restarted, scheduled, skipped, corrective_change' },
  { name: '<host>.time.<name>', type: 'datapoint', unit: 's', description: 'Seconds per resource type (file, exec, …) and per phase (config_retrieval, catalog_application, total, …)' },
  { name: '<host>.changes.<name>', type: 'datapoint', unit: 'count', description: 'Successful changes (total)' },
  { name: '<host>.events.<name>', type: 'datapoint', unit: 'count', description: 'Events: total, success, failure, and noop/audit when non-zero' },
  { name: '<host>.run.status.failed', type: 'datapoint', unit: '1', description: '1 when the run failed (one-hot with changed/unchanged)' },
  { name: '<host>.run.status.changed', type: 'datapoint', unit: '1', description: '1 when the run changed something and nothing failed' },
  { name: '<host>.run.status.unchanged', type: 'datapoint', unit: '1', description: '1 when the run changed nothing (noop runs included)' },
  { name: '<host>.run.noop', type: 'datapoint', unit: '1', description: 'The run was a --noop run (reports only)' },
  { name: '<host>.run.noop_pending', type: 'datapoint', unit: '1', description: 'A noop run found changes it would have made' },
  { name: '<host>.run.corrective_change', type: 'datapoint', unit: '1', description: 'The run corrected drift (agent runs only; apply always 0)' },
  { name: '<host>.run.transaction_completed', type: 'datapoint', unit: '1', description: '0 when the catalog was not (fully) applied (reports only)' },
  { name: '<host>.run.catalog.compiled', type: 'datapoint', unit: '1', description: 'A fresh, non-empty catalog was retrieved and applied' },
  { name: '<host>.run.catalog.cached', type: 'datapoint', unit: '1', description: 'A cached catalog was used (on_failure or explicitly_requested; reports only)' },
  { name: '<host>.run.logs.<level>', type: 'datapoint', unit: 'count', description: 'Log entries of the run by level (debug … crit; err catches catalog failures; reports only)' },
  { name: '<host>.run.duration', type: 'datapoint', unit: 's', description: 'time.total of the run' },
  { name: '<host>.run.age_seconds', type: 'gauge', unit: 's', description: 'Seconds since the end of the host\'s last run (every tick)' },
  { name: '_fleet.hosts', type: 'gauge', unit: 'count', description: 'Hosts known (seen within forget_after)' },
  { name: '_fleet.stale', type: 'gauge', unit: 'count', description: 'Hosts with no run for stale_after_runs × runinterval' },
  { name: '_fleet.failed', type: 'gauge', unit: 'count', description: 'Hosts whose last run failed' },
  { name: '_fleet.noop_pending', type: 'gauge', unit: 'count', description: 'Hosts whose last run had noop changes pending' },
  { name: '<category>.<name>', type: 'datapoint', unit: 'count|s', description: 'compat: krux naming of the category metrics (replaces <host>.<category>.<name>)' },
  { name: '<host reversed>.<suffix>.<Label>.<category>', type: 'datapoint', unit: 'count|s', description: 'compat: evenup naming of the category metrics, label spaces as _ (replaces <host>.<category>.<name>)' },
  { name: '_watcher.reports', type: 'counter', unit: 'count', description: 'Reports/summaries emitted' },
  { name: '_watcher.duplicates', type: 'counter', unit: 'count', description: 'Reports seen again (same transaction_uuid) and not re-emitted' },
  { name: '_watcher.history_skipped', type: 'counter', unit: 'count', description: 'Older reports not replayed at start (backfill: false)' },
  { name: '_watcher.rescan_found', type: 'counter', unit: 'count', description: 'Reports the watcher missed and the periodic rescan found (then emitted)' },
  { name: '_watcher.caught_up', type: 'counter', unit: 'count', description: 'Reports written while telltale was stopped, emitted at start (state file)' },
  { name: '_watcher.errors.state', type: 'counter', unit: 'count', description: 'State file unreadable or not writable (start falls back to newest per host)' },
  { name: '_watcher.unknown_format', type: 'counter', unit: 'count', description: 'Reports with a report_format this version does not know (emitted best effort)' },
  { name: '_watcher.clock_skew', type: 'counter', unit: 'count', description: 'Reports timed more than 5 min in the future, emitted at now' },
  { name: '_watcher.errors.incomplete', type: 'counter', unit: 'count', description: 'Truncated/partial files, not emitted' },
  { name: '_watcher.errors.parse', type: 'counter', unit: 'count', description: 'Unparseable files, not emitted' },
  { name: '_watcher.errors.vanished', type: 'counter', unit: 'count', description: 'Files deleted or replaced before they could be read' },
  { name: '_watcher.errors.access', type: 'counter', unit: 'count', description: 'Files that could not be read: permission denied' },
  { name: '_watcher.errors.read', type: 'counter', unit: 'count', description: 'Other read/list errors' },
  { name: '_watcher.errors.too_big', type: 'counter', unit: 'count', description: 'Files over max_report_bytes, skipped' },
  { name: '_watcher.errors.watch', type: 'counter', unit: 'count', description: 'Filesystem watcher errors' },
  { name: '_watcher.errors.internal', type: 'counter', unit: 'count', description: 'Unexpected errors (bugs); logged' },
];

export const puppetReports = defineIntegration({
  type: 'puppet_reports',
  summary: 'Watch Puppet report files and last_run_summary.yaml; emit every run with its own timestamp',
  mode: 'service',
  defaultPrefix: 'puppet',
  schema: puppetReportsSchema,
  metrics,
  create: (config, ctx) => createPuppetReports(config, ctx),
});
