/**
 * `telltale dashboard [--config FILE] [--format grafana|graphite]`: prints, on stdout, a dashboard
 * for what the config enables (shared/dashboard/model.ts says which graphs). Exit codes: 0, 64
 * usage, 78 configuration.
 */
import { expandPrefix } from '../shared/core/config/load.js';
import { toGrafana } from './dashboard/grafana.js';
import { toGraphite } from './dashboard/graphite.js';
import { buildDashboard } from './dashboard/model.js';
import { parseArgsOrUsage, UsageError } from './args.js';
import { loadConfig } from './config.js';

export const DASHBOARD_USAGE = `Usage: telltale dashboard [--config FILE] [--format grafana|graphite] [--prefix PREFIX]

Prints a dashboard for what the config enables: per access_log source the service graph (good
2xx/3xx vs bad 4xx/5xx per second, p95/p99 response time on the right axis, the safe_qps line,
events as vertical lines), supervisor restarts/crashes/FATAL, Puppet run time/changes/failures/
stale hosts, AWS charges and spend per hour, host gauges with their thresholds.

  --format grafana    Grafana dashboard JSON for a Graphite datasource (default)
  --format graphite   graphite-web's own dashboard state (POST it as state= to /dashboard/save/NAME)
`;

export async function cmdDashboard(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const parsed = parseArgsOrUsage({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: { config: { type: 'string', short: 'c' }, format: { type: 'string' }, prefix: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(DASHBOARD_USAGE);
    return 0;
  }
  const format = v.format ?? 'grafana';
  if (format !== 'grafana' && format !== 'graphite') throw new UsageError(`--format must be grafana or graphite, got "${format.slice(0, 40)}"`);
  const config = await loadConfig(v.config, env);
  if (v.prefix !== undefined) config.emitter.prefix = expandPrefix(v.prefix);
  const model = buildDashboard(config);
  const out = format === 'grafana' ? toGrafana(model) : toGraphite(model);
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return 0;
}
