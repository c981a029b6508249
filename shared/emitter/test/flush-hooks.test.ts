/**
 * emitter.onFlush: what callers that hold values (the HTTP recorder) rely on. A hook runs at the
 * start of every flush, synchronously (the 'exit' handler cannot await), before the sinks flush,
 * from the root and from children; close() runs it once more with final = true.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter } from '../emitter.js';
import { createMemorySink, type MemorySink } from '../memory-sink.js';
import type { Emitter } from '../types.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A memory sink that notes, at each of its flushes, how many samples it held by then. */
function recordingSink(): { sink: MemorySink; seenAtFlush: number[] } {
  const sink = createMemorySink();
  const seenAtFlush: number[] = [];
  const flush = sink.flush.bind(sink);
  sink.flush = (now) => {
    seenAtFlush.push(sink.samples.length);
    return flush(now);
  };
  return { sink, seenAtFlush };
}

function emitterOver(sink: MemorySink, opts: { flushIntervalMs?: number; onError?: (s: string, e: Error) => void } = {}): Emitter {
  const e = createEmitter({ prefix: 'p', sinks: [sink], selfMetrics: false, flushIntervalMs: opts.flushIntervalMs ?? 3_600_000, ...(opts.onError ? { onError: opts.onError } : {}) });
  cleanups.push(() => e.close());
  return e;
}

describe('emitter.onFlush', () => {
  it('runs before the sinks flush, so what a hook hands over goes out with that flush', async () => {
    const { sink, seenAtFlush } = recordingSink();
    const e = emitterOver(sink);
    const child = e.child({ prefix: 'c' });
    child.onFlush!(() => child.counter('held', 3));
    await e.flush();
    expect(seenAtFlush).toEqual([1]);
    expect(Object.fromEntries(sink.counters())).toEqual({ 'p.c.held': 3 });
  });

  it('runs synchronously inside flush(), before its first await (what the exit handler needs)', () => {
    const { sink } = recordingSink();
    const e = emitterOver(sink);
    let calls = 0;
    e.onFlush!(() => calls++);
    void e.flush();
    expect(calls).toBe(1);
  });

  it('runs on the periodic flush, on a child flush, and with final = true exactly once on close', async () => {
    const { sink } = recordingSink();
    const e = emitterOver(sink, { flushIntervalMs: 20 });
    const finals: boolean[] = [];
    e.child({ prefix: 'x' }).onFlush!((final) => finals.push(final));
    const deadline = Date.now() + 5000;
    while (finals.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(finals.length).toBeGreaterThanOrEqual(2);
    await e.child({ prefix: 'y' }).flush();
    const before = finals.length;
    await e.close();
    await e.close();
    expect(finals.slice(before)).toEqual([true]);
    expect(finals.slice(0, before).every((f) => !f)).toBe(true);
  });

  it('the returned function removes the hook', async () => {
    const { sink } = recordingSink();
    const e = emitterOver(sink);
    let calls = 0;
    const off = e.onFlush!(() => calls++);
    await e.flush();
    off();
    await e.flush();
    expect(calls).toBe(1);
  });

  it('a hook that throws is counted and reported; the other hooks and the flush go on', async () => {
    const { sink, seenAtFlush } = recordingSink();
    const errors: string[] = [];
    const e = emitterOver(sink, { onError: (s, err) => errors.push(`${s}: ${err.message}`) });
    e.onFlush!(() => {
      throw new Error('boom');
    });
    e.onFlush!(() => e.counter('after', 1));
    await e.flush();
    expect(seenAtFlush).toEqual([1]);
    expect(sink.counters().get('p.after')).toBe(1);
    expect(e.stats().rejected).toEqual({ flush_hook_error: 1 });
    expect(errors).toEqual(['flush_hook: boom']);
  });
});
