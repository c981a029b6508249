/**
 * Turns `emitter.sinks` config into live Sink objects.
 */
import type { SinkConfig } from '../config/emitter-config.js';
import { formatAddress } from '../../emitter/address.js';
import type { AggregatorOptions } from '../../emitter/aggregator.js';
import type { Sink } from '../../emitter/types.js';
import type { Logger } from '../log/logger.js';

type AggregationKeys = Omit<Extract<SinkConfig, { type: 'console' }>, 'type'>;

/** The URL without its query string: enough to tell sinks apart, nothing secret in logs. */
function urlLabel(u: string): string {
  const url = new URL(u);
  return `${url.origin}${url.pathname}`;
}

function aggregation(c: AggregationKeys): Partial<AggregatorOptions> {
  return {
    legacyNamespace: c.legacy_namespace,
    globalPrefix: c.global_prefix,
    globalSuffix: c.global_suffix,
    prefixCounter: c.prefix_counter,
    prefixTimer: c.prefix_timer,
    prefixGauge: c.prefix_gauge,
    prefixSet: c.prefix_set,
    percentThresholds: c.percent_thresholds,
    flushCounts: c.flush_counts,
    deleteIdle: c.delete_idle_stats,
  };
}

export function sinkLabel(c: SinkConfig): string {
  if (c.type === 'console') return 'console';
  if (c.type === 'graphite_events') return `graphite_events ${urlLabel(c.url)}`;
  if (c.type === 'statsd') return `statsd ${formatAddress(c.address)}`;
  const list = c.address.map((d) => formatAddress(d.address) + (d.instance === undefined ? '' : `=${d.instance}`)).join(', ');
  return c.address.length > 1 ? `graphite ${c.routing} [${list}]${c.replication > 1 ? ` replication ${c.replication}` : ''}` : `graphite ${list}`;
}

/**
 * The sinks of the config. Each kind's module is loaded only when the config has one: a
 * statsd-only one-shot does not load the Graphite sink, its routing and its line format.
 */
export async function buildSinks(configs: readonly SinkConfig[], flushIntervalMs: number, log: Logger, stderr: (t: string) => void): Promise<Sink[]> {
  const has = (t: SinkConfig['type']): boolean => configs.some((c) => c.type === t);
  const [statsd, graphite, events] = await Promise.all([
    has('statsd') ? import('../../emitter/statsd-sink.js') : undefined,
    has('graphite') || has('console') ? import('../../emitter/graphite-sink.js') : undefined,
    has('graphite_events') ? import('../../emitter/graphite-events-sink.js') : undefined,
  ]);
  const names = new Map<string, number>();
  // Sink names appear in self-metric paths: statsd, graphite, console, statsd_2…
  const unique = (base: string): string => {
    const n = (names.get(base) ?? 0) + 1;
    names.set(base, n);
    return n === 1 ? base : `${base}_${n}`;
  };
  return configs.map((c) => {
    const name = unique(c.type);
    const onError = (err: Error): void => log.warn(`sink ${name}: ${err.message}`, { sink: sinkLabel(c) });
    switch (c.type) {
      case 'statsd':
        return statsd!.createStatsdSink({
          name,
          address: c.address,
          maxPacketBytes: c.max_packet_bytes,
          aggregateCounters: c.aggregate_counters,
          aggregateGauges: c.aggregate_gauges,
          timerSampleRate: c.timer_sample_rate,
          maxInFlight: c.max_in_flight,
          onError,
        });
      case 'graphite':
        return graphite!.createGraphiteSink({
          name,
          target: { destinations: c.address, routing: c.routing, replication: c.replication, failbackMs: c.failback_after },
          aggregation: aggregation(c),
          flushIntervalMs,
          maxQueueLines: c.max_queue_lines,
          maxQueueBytes: c.max_queue_bytes,
          replayWindowMs: c.replay_window,
          replayMaxLines: c.replay_max_lines,
          maxKeys: c.max_keys,
          onError,
        });
      case 'graphite_events':
        return events!.createGraphiteEventsSink({
          name,
          url: c.url,
          ...(c.headers ? { headers: c.headers } : {}),
          ...(c.basic_auth ? { basicAuth: c.basic_auth } : {}),
          maxQueue: c.max_queue,
          maxRetries: c.max_retries,
          timeoutMs: c.timeout,
          onError,
        });
      case 'console':
        return graphite!.createGraphiteSink({ name, target: { write: stderr }, aggregation: aggregation(c), flushIntervalMs, maxKeys: c.max_keys });
    }
  });
}
