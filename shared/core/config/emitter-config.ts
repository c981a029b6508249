/**
 * The `emitter:` section: prefix, flush interval and sinks.
 */
import { parseAddress, type Address } from '../../emitter/address.js';
import { HASH_ROUTINGS } from '../../emitter/carbon-hash.js';
import type { StreamAddress } from '../../emitter/stream-transport.js';
import { bool, duration, INVALID, int, list, num, obj, oneOf, record, str, tagged, validate, type Infer, type InferShape, type ObjectSchema, type Path, type Schema, type Shape } from './schema.js';

function address(defaultTransport: 'udp' | 'tcp', allowed: readonly Address['transport'][]): Schema<Address> {
  // Validated as text, then parsed; the refine message names what is accepted.
  return str({ nonEmpty: true })
    .refine((t) => {
      const a = parseAddress(t, defaultTransport, allowed);
      return typeof a === 'string' ? a : undefined;
    })
    .map((t) => parseAddress(t, defaultTransport, allowed) as Address);
}

/** A graphite destination: tcp://host:port or unix:///path, with carbon-c-relay's optional `=instance`. */
export interface GraphiteDestination {
  address: StreamAddress;
  instance: string | undefined;
}

const graphiteDestination: Schema<GraphiteDestination> = str({ nonEmpty: true })
  .refine((t) => {
    const m = /^(.*:\d+)=(.*)$/.exec(t.trim());
    if (m && !/^[A-Za-z0-9_.-]{1,64}$/.test(m[2]!)) return `an =instance is 1-64 of A-Z a-z 0-9 _ . -, got "${m[2]!.slice(0, 70)}"`;
    const a = parseAddress(m ? m[1]! : t, 'tcp', ['tcp', 'unix']);
    return typeof a === 'string' ? a : undefined;
  })
  .map((t) => {
    const m = /^(.*:\d+)=(.*)$/.exec(t.trim());
    const a = parseAddress(m ? m[1]! : t, 'tcp', ['tcp', 'unix']) as Address;
    const address: StreamAddress = a.transport === 'unix' ? { transport: 'unix', path: a.path } : { transport: 'tcp', host: a.host, port: a.port };
    return { address, instance: m?.[2] };
  });

/**
 * A mapping schema with checks across its keys (after each key validated on its own); each
 * problem names the key it is about, so it is reported at that key's line.
 */
function crossChecked<S extends Shape>(schema: ObjectSchema<S>, check: (v: InferShape<S>) => { path: Path; message: string }[]): ObjectSchema<S> {
  return {
    ...schema,
    parse(value, path, ctx) {
      const r = schema.parse(value, path, ctx);
      if (r === INVALID) return r;
      const problems = check(r);
      for (const p of problems) ctx.issues.push({ path: [...path, ...p.path], message: p.message });
      return problems.length > 0 ? INVALID : r;
    },
  };
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

export const GRAPHITE_ROUTINGS = ['failover', ...HASH_ROUTINGS] as const;

export const graphiteSinkSchema = crossChecked(
  obj({
    /** One address or a list: tcp://host:port (default transport) or unix:///path; `=instance` as in carbon-c-relay. */
    address: list(graphiteDestination, { single: true, minItems: 1 }),
    /** failover: all to the first healthy address in order; a hash: each name to the destination carbon-c-relay would pick. */
    routing: oneOf(GRAPHITE_ROUTINGS).default('failover'),
    /** With a hash routing: each line to this many distinct destinations. */
    replication: int({ min: 1, max: 16 }).default(1),
    /** failover: a preferred address must stay connected this long before traffic returns to it. */
    failback_after: duration().default(30_000),
    max_queue_lines: int({ min: 1 }).default(100_000),
    max_queue_bytes: int({ min: 1024 }).default(16 * 1024 * 1024),
    replay_window: duration().default(10_000),
    /** Lines kept for replay; lines of the window beyond it are counted as dropped.replay_overflow. */
    replay_max_lines: int({ min: 1 }).default(100_000),
    ...aggregationShape,
  }),
  (c) => {
    const problems: { path: Path; message: string }[] = [];
    const n = c.address.length;
    // A lone address is written as a scalar: its problems belong to the key itself.
    const at = (i: number): Path => (n === 1 ? ['address'] : ['address', i]);
    const hashed = c.routing !== 'failover';
    if (!hashed && c.replication > 1) {
      problems.push({ path: ['replication'], message: `replication needs a hash routing (${HASH_ROUTINGS.join(', ')}); failover sends each line to one destination` });
    } else if (c.replication > n) {
      problems.push({ path: ['replication'], message: `replication ${c.replication} needs at least ${c.replication} addresses, got ${n}` });
    }
    const seen = new Map<string, number>();
    c.address.forEach((d, i) => {
      const where = d.address.transport === 'unix' ? d.address.path : `${d.address.host}:${d.address.port}`;
      const first = seen.get(where);
      if (first !== undefined) problems.push({ path: at(i), message: `${where} is listed twice (also item ${first + 1})` });
      seen.set(where, i);
      if (!hashed && d.instance !== undefined) problems.push({ path: at(i), message: `=${d.instance}: an instance only means something to a hash routing (routing is ${c.routing})` });
      if (hashed && d.address.transport === 'unix') problems.push({ path: at(i), message: `${c.routing} keys destinations by host and port like carbon-c-relay; use tcp://HOST:PORT` });
    });
    if (hashed) {
      // Two destinations with the same ring key would share every ring position, and the relay's
      // tie-break between them is its sort's whim: refuse rather than guess.
      const keys = new Map<string, number>();
      c.address.forEach((d, i) => {
        if (d.address.transport === 'unix') return;
        const key =
          c.routing === 'carbon_ch'
            ? `host ${d.address.host} and ${d.instance === undefined ? 'no =instance' : `=${d.instance}`}`
            : d.instance !== undefined
              ? `=${d.instance}`
              : undefined;
        if (key === undefined) return;
        const first = keys.get(key);
        if (first !== undefined) {
          const hint = c.routing === 'carbon_ch' ? ' (carbon_ch ignores the port; give each an =instance, as in the relay config)' : '';
          problems.push({ path: at(i), message: `same ring key as item ${first + 1}: ${key}${hint}` });
        }
        keys.set(key, i);
      });
    }
    return problems;
  },
);

export const consoleSinkSchema = obj({ ...aggregationShape });

/** graphite-web's events endpoint. Secrets come in through ${ENV} interpolation, never literally. */
export const graphiteEventsSinkSchema = obj({
  /** http(s)://host[:port]/events/ of graphite-web 1.1. */
  url: str({ nonEmpty: true }).refine((u) => {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      return `expected an http(s) URL such as http://graphite.example/events/, got ${JSON.stringify(u.slice(0, 80))}`;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `expected an http:// or https:// URL, got ${parsed.protocol}`;
    if (parsed.username || parsed.password) return 'put credentials in basic_auth (from ${ENV}), not in the URL, where logs would show them';
    return undefined;
  }),
  /** HTTP basic auth for a protected graphite-web (e.g. password: ${GRAPHITE_PASSWORD}). */
  basic_auth: obj({ username: str({ nonEmpty: true }), password: str() }).optional(),
  /** Extra request headers, e.g. Authorization: "Bearer ${GRAPHITE_TOKEN}". */
  headers: record(str({ pattern: /^[^\r\n]*$/, patternHint: 'a header value on one line' })).optional(),
  max_queue: int({ min: 1, max: 1_000_000 }).default(1000),
  max_retries: int({ min: 0, max: 100 }).default(5),
  timeout: duration({ minMs: 100, maxMs: 120_000 }).default(5000),
});

export const sinkSchema = tagged('type', {
  statsd: statsdSinkSchema,
  graphite: graphiteSinkSchema,
  console: consoleSinkSchema,
  graphite_events: graphiteEventsSinkSchema,
  // `live` is configured in its own top-level section, not as a sink.
});

export type SinkConfig = Infer<typeof sinkSchema>;

/**
 * A sink as the file's `- type: <type>` (with `address:` when given) makes it: every default comes
 * from the schema, so --statsd/--graphite/--print and the file without sinks cannot drift from it.
 * Returns the problem (e.g. a bad address) as text.
 */
export function sinkWithDefaults(type: SinkConfig['type'], address?: string): SinkConfig | string {
  const r = validate(sinkSchema, { type, ...(address !== undefined ? { address } : {}) });
  return 'issues' in r ? r.issues.map((i) => i.message).join('; ') : r.value;
}

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
