import { describe, expect, it } from 'vitest';
import { createLifecycle } from '../lifecycle.js';

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('createLifecycle', () => {
  it('stop() is safe before start, idempotent, and every caller waits for the same teardown', async () => {
    const order: string[] = [];
    let release!: () => void;
    const life = createLifecycle(undefined, async () => {
      order.push('teardown start');
      await new Promise<void>((r) => (release = r));
      order.push('teardown end');
    });
    expect(life.stopped).toBe(false);
    const first = life.stop();
    const second = life.stop();
    expect(second).toBe(first);
    expect(life.stopped).toBe(true);
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await tick();
    expect(secondDone).toBe(false); // the second caller does not return before the teardown ends
    release();
    await first;
    expect(order).toEqual(['teardown start', 'teardown end']);
  });

  it('aborts its signal, clears timers, awaits tracked work (failures included), then tears down', async () => {
    const order: string[] = [];
    const life = createLifecycle(undefined, () => void order.push('teardown'));
    let fired = 0;
    life.interval(() => fired++, 5);
    life.timeout(() => fired++, 5);
    const work = life.track(
      new Promise<void>((_, reject) => life.signal.addEventListener('abort', () => setTimeout(() => {
        order.push('work settled');
        reject(new Error('aborted'));
      }, 10))),
    );
    work.catch(() => undefined);
    await life.stop();
    expect(order).toEqual(['work settled', 'teardown']);
    expect(life.signal.aborted).toBe(true);
    await tick(20);
    expect(fired).toBe(0);
    life.timeout(() => fired++, 1); // not scheduled once stopped
    life.interval(() => fired++, 1);
    await tick(10);
    expect(fired).toBe(0);
  });

  it("the context's abort stops it, and an already aborted context starts stopped", async () => {
    const ctx = new AbortController();
    let torn = 0;
    const life = createLifecycle(ctx.signal, () => void torn++);
    ctx.abort();
    expect(life.stopped).toBe(true);
    await life.stop();
    expect(torn).toBe(1);
    const late = createLifecycle(ctx.signal, () => void torn++);
    expect(late.stopped).toBe(true);
    expect(late.signal.aborted).toBe(true);
    await late.stop();
    expect(torn).toBe(2);
  });
});
