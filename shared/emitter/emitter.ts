import { joinPath, sanitizeNode, sanitizePath, sanitizeSetMember } from './names.js';
import type { ChildOptions, Emitter, EmitterStats, EventOptions, MetricOptions, Sink, TelltaleEvent } from './types.js';

/** Bounds on what an event may carry: they end up in a database row and on every dashboard. */
export const EVENT_LIMITS = { what: 200, tags: 20, tag: 64, data: 4096 } as const;

/** A tag as graphite-web stores it: no whitespace (it splits on it), bounded. '' when unusable. */
export function sanitizeTag(raw: string): string {
  return String(raw).replace(/[\s\x00-\x1f\x7f]+/g, '_').slice(0, EVENT_LIMITS.tag).replace(/^_+|_+$/g, '');
}

export interface EmitterOptions {
  /** Root prefix for every name ('' for none). Already interpolated ({host} etc.). */
  prefix?: string;
  sinks: Sink[];
  /** How often sinks flush (statsd packet timer, graphite aggregation). Default 10 s. */
  flushIntervalMs?: number;
  /** Called for transport errors: the first of an outage, then at most once a minute per sink (log-throttle.ts). */
  onError?: (sink: string, err: Error) => void;
  /** Injected for sampling tests. */
  random?: () => number;
  now?: () => number;
  /** Emit the emitter's own counters (drops, errors, queue) each flush. Default true. */
  selfMetrics?: boolean;
  /** Oldest/newest accepted datapoint timestamp relative to now, in seconds. */
  maxPastSeconds?: number;
  maxFutureSeconds?: number;
}

const NAME_CACHE_MAX = 20_000;

interface Core {
  sinks: Sink[];
  rejected: Record<string, number>;
  random: () => number;
  now: () => number;
  closed: boolean;
  maxPast: number;
  maxFuture: number;
  /** The root's flush, so children (what integrations hold) can flush everything. */
  flushRoot: () => Promise<void>;
  /** onFlush hooks, from the root and every child. */
  hooks: Set<(final: boolean) => void>;
}

function reject(core: Core, reason: string, n = 1): void {
  core.rejected[reason] = (core.rejected[reason] ?? 0) + n;
}

/**
 * The one emitter every integration shares. It validates and sanitises, then fans each call out
 * to every sink; sinks own batching, aggregation and transport.
 */
export function createEmitter(opts: EmitterOptions): Emitter {
  const core: Core = {
    sinks: opts.sinks,
    rejected: {},
    random: opts.random ?? Math.random,
    now: opts.now ?? Date.now,
    closed: false,
    maxPast: opts.maxPastSeconds ?? 366 * 86_400,
    maxFuture: opts.maxFutureSeconds ?? 600,
    flushRoot: async () => {},
    hooks: new Set(),
  };
  const flushIntervalMs = opts.flushIntervalMs ?? 10_000;
  const root = makeScoped(core, sanitizePath(opts.prefix ?? ''));
  const lastReported = new Map<string, number>();

  const reportSelf = (): void => {
    if (opts.selfMetrics === false) return;
    const self = root.child({ prefix: 'telltale.emitter' });
    const report = (name: string, total: number): void => {
      const prev = lastReported.get(name) ?? 0;
      if (total > prev) self.counter(name, total - prev);
      lastReported.set(name, total);
    };
    for (const [reason, n] of Object.entries(core.rejected)) report(`rejected.${reason}`, n);
    for (const sink of core.sinks) {
      const s = sink.stats();
      for (const [reason, n] of Object.entries(s.dropped)) report(`${sink.name}.dropped.${reason}`, n);
      report(`${sink.name}.errors`, s.errors);
      report(`${sink.name}.reconnects`, s.reconnects);
      self.gauge(`${sink.name}.queued`, s.queued);
      if (s.switches !== undefined) report(`${sink.name}.switches`, s.switches);
      for (const [dest, d] of Object.entries(s.destinations ?? {})) {
        // 127.0.0.1:2003 -> 127_0_0_1_2003: one path node per destination.
        const node = `${sink.name}.destination.${dest.replace(/[^A-Za-z0-9_-]/g, '_')}`;
        report(`${node}.errors`, d.errors);
        self.gauge(`${node}.queued`, d.queued);
        self.gauge(`${node}.up`, d.up ? 1 : 0);
      }
    }
  };

  const runHooks = (final: boolean): void => {
    for (const hook of [...core.hooks]) {
      try {
        hook(final);
      } catch (e) {
        // One caller's bug must not keep everyone else's metrics from going out.
        reject(core, 'flush_hook_error');
        opts.onError?.('flush_hook', asError(e));
      }
    }
  };

  // Hooks run first and synchronously, so what they hand over goes out with this flush, also
  // from the 'exit' handler, where nothing after the first await ever runs.
  const flushAll = async (final = false): Promise<void> => {
    runHooks(final);
    reportSelf();
    const now = core.now();
    await Promise.all(core.sinks.map((s) => s.flush(now).catch((e: unknown) => opts.onError?.(s.name, asError(e)))));
  };

  core.flushRoot = () => flushAll();
  let timer: NodeJS.Timeout | undefined = setInterval(() => void flushAll(), flushIntervalMs);
  timer.unref();

  let closing: Promise<EmitterStats> | undefined;
  const stats = (): EmitterStats => ({
    rejected: { ...core.rejected },
    sinks: Object.fromEntries(core.sinks.map((s) => [s.name, s.stats()])),
  });

  return Object.assign(root, {
    flush: () => flushAll(),
    stats,
    close: ({ timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<EmitterStats> => {
      closing ??= (async () => {
        if (timer) clearInterval(timer);
        timer = undefined;
        await flushAll(true);
        core.closed = true;
        await Promise.all(core.sinks.map((s) => s.close(timeoutMs).catch(() => undefined)));
        return stats();
      })();
      return closing;
    },
  });
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function makeScoped(core: Core, prefix: string): Emitter {
  // Sanitising is the most expensive part of a call; names repeat, so cache the full path.
  const cache = new Map<string, string>();
  const full = (name: string): string => {
    let p = cache.get(name);
    if (p === undefined) {
      p = joinPath(prefix, sanitizePath(name));
      if (cache.size >= NAME_CACHE_MAX) cache.clear();
      cache.set(name, p);
    }
    return p;
  };
  const ok = (name: string, value: number): string | undefined => {
    if (core.closed) {
      reject(core, 'closed');
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      reject(core, 'not_finite');
      return undefined;
    }
    const p = typeof name === 'string' ? full(name) : '';
    if (p === '' || p === prefix) {
      reject(core, 'invalid_name');
      return undefined;
    }
    return p;
  };
  const sampled = (rate: number | undefined): number | undefined => {
    if (rate === undefined || rate >= 1) return 1;
    if (!(rate > 0)) {
      reject(core, 'bad_sample_rate');
      return undefined;
    }
    return core.random() < rate ? rate : undefined;
  };

  const scoped: Emitter = {
    prefix,
    counter(name: string, value = 1, o?: MetricOptions) {
      const p = ok(name, value);
      if (p === undefined) return;
      const rate = sampled(o?.sampleRate);
      if (rate === undefined) return;
      for (const s of core.sinks) s.counter(p, value, rate);
    },
    gauge(name: string, value: number) {
      const p = ok(name, value);
      if (p === undefined) return;
      for (const s of core.sinks) s.gauge(p, value);
    },
    gaugeDelta(name: string, delta: number) {
      const p = ok(name, delta);
      if (p === undefined) return;
      for (const s of core.sinks) s.gaugeDelta(p, delta);
    },
    timing(name: string, ms: number, o?: MetricOptions) {
      const p = ok(name, ms);
      if (p === undefined) return;
      if (ms < 0) {
        reject(core, 'negative_timer');
        return;
      }
      const rate = sampled(o?.sampleRate);
      if (rate === undefined) return;
      for (const s of core.sinks) s.timing(p, ms, rate);
    },
    timingBatch(name: string, ms: Float64Array, count = ms.length, o?: MetricOptions) {
      const n = Math.min(count, ms.length);
      if (!(n > 0)) return;
      if (core.closed) {
        reject(core, 'closed', n);
        return;
      }
      const p = typeof name === 'string' ? full(name) : '';
      const named = p !== '' && p !== prefix;
      const rate = o?.sampleRate;
      // The common case, checked in one pass: pass the caller's array straight to the sinks.
      let clean = named && (rate === undefined || rate >= 1);
      for (let i = 0; clean && i < n; i++) clean = ms[i]! >= 0 && ms[i]! < Infinity;
      let values = ms;
      let kept = n;
      let r = 1;
      if (!clean) {
        // Same checks, in the same order and with the same counts, as n timing() calls.
        values = new Float64Array(n);
        kept = 0;
        for (let i = 0; i < n; i++) {
          const v = ms[i]!;
          if (!Number.isFinite(v)) reject(core, 'not_finite');
          else if (!named) reject(core, 'invalid_name');
          else if (v < 0) reject(core, 'negative_timer');
          else {
            const s = sampled(rate);
            if (s === undefined) continue;
            r = s;
            values[kept++] = v;
          }
        }
        if (kept === 0) return;
      }
      for (const s of core.sinks) {
        if (s.timingBatch) s.timingBatch(p, values, kept, r);
        else for (let i = 0; i < kept; i++) s.timing(p, values[i]!, r);
      }
    },
    set(name: string, member: string | number) {
      const p = ok(name, 0);
      if (p === undefined) return;
      const m = sanitizeSetMember(String(member));
      if (m === '') {
        reject(core, 'invalid_member');
        return;
      }
      for (const s of core.sinks) s.set(p, m);
    },
    datapoint(name: string, value: number, unixSeconds?: number) {
      const p = ok(name, value);
      if (p === undefined) return;
      const nowSec = Math.floor(core.now() / 1000);
      const ts = unixSeconds === undefined ? nowSec : Math.floor(unixSeconds);
      // Carbon stores anything (and whisper throws past 2^32); keep timestamps sane here.
      if (!Number.isFinite(ts) || ts <= 0 || ts >= 2 ** 32 || ts < nowSec - core.maxPast || ts > nowSec + core.maxFuture) {
        reject(core, 'bad_timestamp');
        return;
      }
      for (const s of core.sinks) s.datapoint(p, value, ts);
    },
    event(what: string, o?: EventOptions) {
      if (core.closed) {
        reject(core, 'closed');
        return;
      }
      const text = typeof what === 'string' ? what.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, EVENT_LIMITS.what) : '';
      const node = sanitizeNode(text);
      if (node === '') {
        reject(core, 'invalid_event');
        return;
      }
      const nowSec = Math.floor(core.now() / 1000);
      const when = o?.when === undefined ? nowSec : Math.floor(o.when);
      if (!Number.isFinite(when) || when <= 0 || when >= 2 ** 32 || when < nowSec - core.maxPast || when > nowSec + core.maxFuture) {
        reject(core, 'bad_timestamp');
        return;
      }
      const tags: string[] = [];
      for (const raw of o?.tags ?? []) {
        const t = typeof raw === 'string' ? sanitizeTag(raw) : '';
        if (t !== '' && !tags.includes(t) && tags.length < EVENT_LIMITS.tags) tags.push(t);
      }
      const data = typeof o?.data === 'string' ? o.data.slice(0, EVENT_LIMITS.data) : '';
      const ev: TelltaleEvent = { what: text, tags, data, when, path: joinPath(prefix, `events.${node}`) };
      for (const s of core.sinks) {
        if (s.event) s.event(ev);
        else s.counter(ev.path, 1, 1);
      }
    },
    child(o: ChildOptions) {
      return makeScoped(core, joinPath(prefix, sanitizePath(o.prefix ?? '')));
    },
    onFlush(hook: (final: boolean) => void) {
      core.hooks.add(hook);
      return () => void core.hooks.delete(hook);
    },
    // Children share the root's lifecycle: flushing a child flushes everything, and closing a
    // child only flushes (the root owns the sockets).
    flush: () => core.flushRoot(),
    close: async () => {
      await core.flushRoot();
      return scoped.stats();
    },
    stats: () => ({ rejected: { ...core.rejected }, sinks: Object.fromEntries(core.sinks.map((s) => [s.name, s.stats()])) }),
  };
  return scoped;
}
