/**
 * The `emitter:` section: prefix, flush interval and sinks.
 */
import { parseAddress, type Address } from '../../emitter/address.js';
import { bool, duration, int, list, num, obj, oneOf, str, tagged, type Infer, type Schema } from './schema.js';

function address(defaultTransport: 'udp' | 'tcp', allowed: readonly Address['transport'][]): Schema<Address> {
  // Validated as text, then parsed; the refine message names what is accepted.
  return str({ nonEmpty: true })
    .refine((t) => {
      const a = parseAddress(t, defaultTransport, allowed);
      return typeof a === 'string' ? a : undefined;
    })
    .map((t) => parseAddress(t, defaultTransport, allowed) as Address);
}

/** Aggregation keys shared by the graphite and console sinks (Etsy statsd's names, snake_cased). */
const aggregationShape = {
  /** statsd graphite.legacyNamespace: `stats.K`/`stats_counts.K` instead of `stats.counters.K.rate|count`. */
  legacy_namespace: bool().default(false),
  global_prefix: str().default('stats'),
  global_suffix: str().default(''),
  prefix_counter: str().default('counters'),
  prefix_timer: str().default('timers'),
  prefix_gauge: str().default('gauges'),
  prefix_set: str().default('sets'),
  /** statsd percentThreshold: p90/p95/p99 by default so response-time dashboards work out of the box. */
  percent_thresholds: list(num({ min: -100, max: 100 }).refine((n) => (n === 0 ? 'must not be 0' : undefined)), { single: true }).default([90, 95, 99]),
  flush_counts: bool().default(true),
  delete_idle_stats: bool().default(false),
  max_keys: int({ min: 1 }).default(100_000),
};

export const statsdSinkSchema = obj({
  /** udp://host:port (default transport), tcp://host:port or unix:///path (statsd's tcp server on a socket). */
  address: address('udp', ['udp', 'tcp', 'unix']),
  /** UDP payload per packet; default by address: 7168 to loopback, 1432 elsewhere (defaultMaxPacketBytes). */
  max_packet_bytes: int({ min: 64, max: 65_507 }).optional(),
  aggregate_counters: bool().default(true),
  aggregate_gauges: bool().default(true),
  timer_sample_rate: num({ min: 0.0001, max: 1 }).default(1),
  max_in_flight: int({ min: 1 }).default(1024),
});

export const graphiteSinkSchema = obj({
  address: address('tcp', ['tcp', 'unix']),
  max_queue_lines: int({ min: 1 }).default(100_000),
  max_queue_bytes: int({ min: 1024 }).default(16 * 1024 * 1024),
  replay_window: duration().default(10_000),
  /** Lines kept for replay; lines of the window beyond it are counted as dropped.replay_overflow. */
  replay_max_lines: int({ min: 1 }).default(100_000),
  ...aggregationShape,
});

export const consoleSinkSchema = obj({ ...aggregationShape });

export const sinkSchema = tagged('type', {
  statsd: statsdSinkSchema,
  graphite: graphiteSinkSchema,
  console: consoleSinkSchema,
  // `live` is configured in its own top-level section, not as a sink.
});

export type SinkConfig = Infer<typeof sinkSchema>;

export const emitterSchema = obj({
  /** Root of every name; {host} (short hostname) and {fqdn} (dots as _) are substituted. */
  prefix: str().default('telltale.{host}'),
  /** How often counters/timers are aggregated and packets flushed. */
  flush_interval: duration({ minMs: 100 }).default(10_000),
  sinks: list(sinkSchema, { minItems: 1 }).optional(),
  /** Datapoints older than this are refused (and counted): a guard against broken clocks. Raise it to backfill old history. */
  max_datapoint_age: duration({ minMs: 60_000 }).default(366 * 86_400_000),
});

export type EmitterConfig = Infer<typeof emitterSchema>;

export const DEFAULT_STATSD_ADDRESS = 'udp://127.0.0.1:8125';

export const logLevelSchema = oneOf(['debug', 'info', 'warn', 'error', 'silent'] as const);
