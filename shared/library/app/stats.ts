import { performance } from 'node:perf_hooks';
import type { Emitter } from '../../emitter/types.js';

/**
 * The app's emitter plus the two timing helpers programs use most. Everything else is the
 * ordinary {@link Emitter} API (counter, gauge, timing, child…).
 */
export interface AppStats extends Emitter {
  /**
   * Run `fn` and record how long it took as timer `name` (milliseconds), returning what `fn`
   * returns. When `fn` returns a promise the timer stops when it settles. When `fn` throws or
   * the promise rejects, the time is still recorded and counter `<name>.errors` is incremented;
   * the error is passed on untouched.
   */
  timer<T>(name: string, fn: () => T): T;
  /**
   * Record how long `promise` takes to settle as timer `name`, counting `<name>.errors` when it
   * rejects, and return a promise of the same outcome. (Timing starts at this call, so call it
   * where the work starts.)
   */
  time<T>(name: string, promise: PromiseLike<T>): Promise<T>;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Adds {@link AppStats.timer} and {@link AppStats.time} to an emitter. */
export function withTimers(emitter: Emitter, enabled: boolean): AppStats {
  const done = (name: string, start: number, failed: boolean): void => {
    // Microsecond resolution is plenty and keeps packets short.
    emitter.timing(name, Math.round((performance.now() - start) * 1000) / 1000);
    if (failed) emitter.counter(`${name}.errors`);
  };
  /** A promise that settles like `promise`, timing it from `start`. */
  const settle = <T>(name: string, start: number, promise: PromiseLike<T>): Promise<T> =>
    Promise.resolve(promise).then(
      (v) => {
        done(name, start, false);
        return v;
      },
      (e: unknown) => {
        done(name, start, true);
        throw e;
      },
    );
  const time = <T>(name: string, promise: PromiseLike<T>): Promise<T> => {
    if (!enabled) return Promise.resolve(promise);
    return settle(name, performance.now(), promise);
  };
  const timer = <T>(name: string, fn: () => T): T => {
    // Without --stats the wrapper must cost nothing beyond the call itself.
    if (!enabled) return fn();
    const start = performance.now();
    let result: T;
    try {
      result = fn();
    } catch (e) {
      done(name, start, true);
      throw e;
    }
    if (isThenable(result)) {
      // Keep the caller's promise type: return a promise that settles like the original.
      return settle(name, start, result) as T;
    }
    done(name, start, false);
    return result;
  };
  // Explicit delegation rather than a spread copy: it does not depend on how the emitter binds
  // its methods.
  const stats: AppStats = {
    get prefix() {
      return emitter.prefix;
    },
    counter: (n, v, o) => emitter.counter(n, v, o),
    gauge: (n, v) => emitter.gauge(n, v),
    gaugeDelta: (n, d) => emitter.gaugeDelta(n, d),
    timing: (n, ms, o) => emitter.timing(n, ms, o),
    timingBatch: (n, ms, c, o) => emitter.timingBatch(n, ms, c, o),
    set: (n, m) => emitter.set(n, m),
    datapoint: (n, v, ts) => emitter.datapoint(n, v, ts),
    event: (w, o) => emitter.event(w, o),
    child: (o) => emitter.child(o),
    flush: () => emitter.flush(),
    close: (o) => emitter.close(o),
    stats: () => emitter.stats(),
    timer,
    time,
  };
  // Only where the emitter has hooks: the no-op emitter has none, and callers such as the HTTP
  // recorder then call it directly, which is what keeps instrumentation free without --stats.
  if (emitter.onFlush) stats.onFlush = emitter.onFlush.bind(emitter);
  return stats;
}
