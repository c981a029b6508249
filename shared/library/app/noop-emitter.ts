import type { Emitter, EmitterStats } from '../../emitter/types.js';

/**
 * An emitter that accepts every call and does nothing: what a program gets without `--stats`.
 * No sink, no socket, no timer, no name sanitising: instrumented code costs one empty call.
 * It has no `onFlush` on purpose: callers that batch (the HTTP recorder) see that and call it
 * directly, rather than holding values for a flush that never comes.
 */
export function createNoopEmitter(prefix = ''): Emitter {
  const stats = (): EmitterStats => ({ rejected: {}, sinks: {} });
  const noop = (): void => {};
  const emitter: Emitter = {
    prefix,
    counter: noop,
    gauge: noop,
    gaugeDelta: noop,
    timing: noop,
    timingBatch: noop,
    set: noop,
    datapoint: noop,
    event: noop,
    // Children of nothing are nothing; returning the same object keeps child() allocation-free.
    child: () => emitter,
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(stats()),
    stats,
  };
  return emitter;
}
