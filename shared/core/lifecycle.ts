/**
 * The start/stop bookkeeping every integration needs, once: a `stopped` flag, a signal that
 * aborts in-flight work, timers that cannot outlive stop(), in-flight work that stop() awaits,
 * and a stop() that is idempotent, safe before start, and gives every caller the same promise
 * (a second caller must not return before the first one's teardown has finished).
 */
export interface Lifecycle {
  /** True from the first stop() (or the context's abort) on. */
  readonly stopped: boolean;
  /** Aborted when stop() begins (and when the context's signal aborts): pass it to IO. */
  readonly signal: AbortSignal;
  /** Work stop() waits for (settled, errors ignored) before the teardown. Returns `work`. */
  track<T>(work: Promise<T>): Promise<T>;
  /** setTimeout that is not scheduled once stopped and is cleared by stop(). */
  timeout(fn: () => void, ms: number): void;
  /** setInterval that is not scheduled once stopped and is cleared by stop(). */
  interval(fn: () => void, ms: number): void;
  /** Stops: flag, timers, signal, in-flight work, then the teardown; the same promise for every call. */
  stop(): Promise<void>;
}

/**
 * `parent` is the context's signal: its abort stops too. `teardown` runs once, after in-flight
 * work has settled (flush what is left, close files, destroy clients).
 */
export function createLifecycle(parent: AbortSignal | undefined, teardown: () => void | Promise<void> = () => undefined): Lifecycle {
  const abort = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<unknown>>();
  let stopping: Promise<void> | undefined;

  const onParentAbort = (): void => void life.stop();
  parent?.addEventListener('abort', onParentAbort, { once: true });

  const life: Lifecycle = {
    get stopped() {
      return stopping !== undefined;
    },
    signal: parent ? AbortSignal.any([parent, abort.signal]) : abort.signal,
    track(work) {
      const settled = work.then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(settled);
      void settled.then(() => inFlight.delete(settled));
      return work;
    },
    timeout(fn, ms) {
      if (stopping) return;
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    },
    interval(fn, ms) {
      if (stopping) return;
      timers.add(setInterval(fn, ms));
    },
    stop() {
      stopping ??= (async () => {
        parent?.removeEventListener('abort', onParentAbort);
        for (const t of timers) clearTimeout(t);
        timers.clear();
        abort.abort(new Error('stopped'));
        // Never tear down synchronously: stop() may run while the integration is being built.
        await null;
        // Work started while waiting is tracked too: wait until none is left.
        while (inFlight.size > 0) await Promise.all([...inFlight]);
        await teardown();
      })();
      return stopping;
    },
  };
  if (parent?.aborted) void life.stop();
  return life;
}
