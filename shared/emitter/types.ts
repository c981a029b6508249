/**
 * The emitter's public contract. Every call is synchronous, never throws and never returns a
 * promise on the hot path: problems are counted (see `stats()`) and reported through `onError`.
 */

export interface MetricOptions {
  /** Client-side sampling in (0, 1]: the call is dropped with probability 1 - rate. */
  sampleRate?: number;
}

export interface EventOptions {
  /** Labels to find the event by (graphite-web `events('tag')`, Grafana annotations by tag). */
  tags?: readonly string[];
  /** Free text shown on hover (a version, a diff summary, the failed resources). */
  data?: string;
  /** Unix seconds; default now. */
  when?: number;
}

/** An event as sinks receive it: validated, bounded, with its metric path. */
export interface TelltaleEvent {
  /** What happened, one line ("deploy api 1.4.2", "supervisor fatal web"). */
  what: string;
  /** Sanitised tags: no spaces (graphite-web splits on them), deduplicated. */
  tags: string[];
  data: string;
  /** Unix seconds. */
  when: number;
  /** `<prefix>.events.<what>`: the datapoint/counter name metric sinks use. */
  path: string;
}

export interface ChildOptions {
  /** Appended to the parent's prefix (sanitised like any name). */
  prefix?: string;
}

export interface Emitter {
  /** Counter increment (statsd `c`). */
  counter(name: string, value?: number, opts?: MetricOptions): void;
  /** Absolute gauge. Negative values are sent safely (`0|g` then `-v|g`) on statsd. */
  gauge(name: string, value: number): void;
  /** Signed gauge change (statsd `+v|g` / `-v|g`). */
  gaugeDelta(name: string, delta: number): void;
  /** A duration in milliseconds (statsd `ms`). */
  timing(name: string, ms: number, opts?: MetricOptions): void;
  /**
   * `ms[0..count)` as `count` timing() calls, at the cost of one: for sources that collect many
   * durations of one timer (a log read at full speed). The array is only read during the call.
   */
  timingBatch(name: string, ms: Float64Array, count?: number, opts?: MetricOptions): void;
  /** Set member (statsd `s`): unique members are counted per flush. */
  set(name: string, member: string | number): void;
  /**
   * A value with its own timestamp (unix seconds). Graphite sinks send it as is; statsd sinks,
   * which cannot carry a timestamp, receive it as a gauge.
   */
  datapoint(name: string, value: number, unixSeconds?: number): void;
  /**
   * Something happened that should show as a vertical line on a graph (a deploy, a Puppet
   * change, a crash). Sinks that know events (graphite_events, live) get it whole; graphite
   * sinks also write `<prefix>.events.<what> 1 <when>`, statsd sinks count it.
   */
  event(what: string, opts?: EventOptions): void;
  /** A scoped emitter sharing this one's sinks and buffers. */
  child(opts: ChildOptions): Emitter;
  /**
   * Run `hook` at the start of every flush (the periodic one, `flush()`, `close()` and the
   * best-effort flush at process exit), before the sinks flush. For callers that hold values
   * themselves and hand them over in batches, as the HTTP recorder does: whatever a hook hands
   * over in that call goes out with the flush. `final` is true once, on the root's `close()`:
   * no flush follows, so the caller should hand over directly from then on. A hook that throws
   * is counted (`rejected.flush_hook_error`) and reported through `onError`; the flush goes on.
   * Returns a function that removes the hook. Optional: an emitter that never flushes (the
   * no-op emitter) has no hooks to run, and callers then call it directly.
   */
  onFlush?(hook: (final: boolean) => void): () => void;
  /** Push everything buffered to the sinks now. */
  flush(): Promise<void>;
  /** Flush, drain, close sockets; bounded by timeoutMs (what is left is counted as dropped). */
  close(opts?: { timeoutMs?: number }): Promise<EmitterStats>;
  stats(): EmitterStats;
  /** The fully qualified, sanitised prefix ('' when none). */
  readonly prefix: string;
}

export interface SinkStats {
  /** Metric lines handed to the transport. */
  sent: number;
  /** Bytes handed to the transport. */
  bytes: number;
  /** Lines dropped, by reason (overflow, invalid, oversize, send_error, closed, sampled…). */
  dropped: Record<string, number>;
  /** Transport errors (connect, send, DNS). */
  errors: number;
  /** Lines waiting in a queue (graphite) or in-flight packets (statsd). */
  queued: number;
  reconnects: number;
  lastError?: string;
  /** Graphite sink with several destinations, failover routing: times traffic moved to another one. */
  switches?: number;
  /** Graphite sink with several destinations: figures per destination (`host:port`). */
  destinations?: Record<string, DestinationStats>;
}

export interface DestinationStats {
  sent: number;
  errors: number;
  queued: number;
  dropped: Record<string, number>;
  /** Connected right now. */
  up: boolean;
}

export interface EmitterStats {
  /** Calls rejected before reaching any sink (NaN, bad name…), by reason. */
  rejected: Record<string, number>;
  sinks: Record<string, SinkStats>;
}

/**
 * What every sink implements. Names arrive fully qualified and sanitised; values are validated
 * (finite, timers >= 0, sample rates in (0,1]).
 */
export interface Sink {
  readonly name: string;
  counter(name: string, value: number, sampleRate: number): void;
  gauge(name: string, value: number): void;
  gaugeDelta(name: string, delta: number): void;
  timing(name: string, ms: number, sampleRate: number): void;
  /**
   * Optional: `ms[0..count)` at once, every value already valid (finite, >= 0) and sampled; the
   * array is only read during the call. Without it the emitter calls timing() per value.
   */
  timingBatch?(name: string, ms: Float64Array, count: number, sampleRate: number): void;
  set(name: string, member: string): void;
  datapoint(name: string, value: number, unixSeconds: number): void;
  /** Optional: an event. Without it the emitter hands the sink `counter(event.path, 1)`. */
  event?(event: TelltaleEvent): void;
  /** Called by the emitter every flush interval, and by `flush()`. */
  flush(nowMs: number): Promise<void>;
  close(timeoutMs: number): Promise<void>;
  stats(): SinkStats;
}

export function emptySinkStats(): SinkStats {
  return { sent: 0, bytes: 0, dropped: {}, errors: 0, queued: 0, reconnects: 0 };
}

export function countDrop(stats: SinkStats, reason: string, n = 1): void {
  stats.dropped[reason] = (stats.dropped[reason] ?? 0) + n;
}
