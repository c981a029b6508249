/**
 * Warnings about the configuration as a whole that no single key is wrong for.
 */
import type { InstanceConfig, LoadedConfig } from '../shared/core/config/load.js';
import type { SinkConfig } from '../shared/core/config/emitter-config.js';
import type { Logger } from '../shared/core/log/logger.js';

/**
 * statsd has no timestamp field: an integration whose metrics carry their own time (Puppet runs,
 * CloudWatch datapoints) keeps only its newest value there. Say so once, at start.
 */
export function warnIfTimestampsLost(config: LoadedConfig, sinks: readonly SinkConfig[], log: Logger): void {
  if (sinks.some((s) => s.type === 'graphite')) return;
  const affected = config.integrations.filter((i) => i.enabled && emitsDatapoints(i)).map((i) => i.name);
  if (affected.length > 0) {
    log.warn(`${affected.join(', ')} emit timestamped datapoints, but no graphite sink is configured: statsd keeps only the newest value of each as a gauge (add a graphite sink for history and backfill)`);
  }
}

function emitsDatapoints(i: InstanceConfig): boolean {
  const { timestamped, metrics } = i.definition;
  return timestamped ? timestamped(i.settings as never) : metrics.some((m) => m.type === 'datapoint');
}
