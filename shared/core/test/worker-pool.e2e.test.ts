/**
 * The worker pool the backfills use: results and progress arrive in order, at most `size` tasks
 * run at once, a failing task rejects with its message, and a worker that dies takes only its own
 * task down. The worker entry is a small .mjs module using the built serveTasks() (dist/, built by
 * the global setup): worker threads run compiled JavaScript.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/helpers/cli.js';
import { WorkerPool } from '../worker-pool.js';

const dir = mkdtempSync(join(tmpdir(), 'telltale-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const entry = join(dir, 'entry.mjs');
writeFileSync(
  entry,
  `import { threadId, workerData } from 'node:worker_threads';
import { serveTasks } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist/shared/core/worker-pool.js')).href)};
const running = new Int32Array(workerData.counter);
serveTasks(async (task, progress) => {
  if (task.op === 'throw') throw new Error('bad input ' + task.n);
  if (task.op === 'exit') process.exit(3);
  const now = Atomics.add(running, 0, 1) + 1;
  Atomics.store(running, 1, Math.max(Atomics.load(running, 1), now));
  for (let i = 0; i < task.steps; i++) await progress(task.n * 1000 + i);
  await new Promise((r) => setTimeout(r, 20));
  Atomics.sub(running, 0, 1);
  return { out: { n: task.n, threadId } };
});
`,
);

const pools: WorkerPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

function pool(size: number): { pool: WorkerPool; running: Int32Array } {
  const counter = new SharedArrayBuffer(8);
  const p = new WorkerPool(pathToFileURL(entry), size, { counter });
  pools.push(p);
  return { pool: p, running: new Int32Array(counter) };
}

interface Out {
  n: number;
  threadId: number;
}

describe('WorkerPool', () => {
  it('runs every task on at most `size` threads, progress in order past the credit window', async () => {
    const { pool: p, running } = pool(2);
    const seen = new Map<number, number[]>();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        p.run<{ op: string; n: number; steps: number }, Out, number>(
          { op: 'work', n, steps: 25 },
          { onProgress: (v) => (seen.get(n) ?? seen.set(n, []).get(n)!).push(v) },
        ),
      ),
    );
    expect(results.map((r) => r.n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(results.map((r) => r.threadId)).size).toBeLessThanOrEqual(2);
    expect(running[1]).toBeLessThanOrEqual(2);
    expect(running[1]).toBeGreaterThanOrEqual(1);
    for (let n = 0; n < 6; n++) expect(seen.get(n)).toEqual(Array.from({ length: 25 }, (_, i) => n * 1000 + i));
  });

  it('a task that throws rejects with its message; the others still finish', async () => {
    const { pool: p } = pool(2);
    const bad = p.run({ op: 'throw', n: 7 });
    const good = p.run<{ op: string; n: number; steps: number }, Out>({ op: 'work', n: 1, steps: 0 });
    await expect(bad).rejects.toThrow('bad input 7');
    await expect(good).resolves.toMatchObject({ n: 1 });
  });

  it('a worker that exits fails its own task; the pool carries on with a new one', async () => {
    const { pool: p } = pool(1);
    const dead = p.run({ op: 'exit', n: 0 });
    const next = p.run<{ op: string; n: number; steps: number }, Out>({ op: 'work', n: 2, steps: 3 });
    await expect(dead).rejects.toThrow(/exited \(code 3\)/);
    await expect(next).resolves.toMatchObject({ n: 2 });
  });

  it('close() rejects what is still queued', async () => {
    const { pool: p } = pool(1);
    const first = p.run({ op: 'work', n: 0, steps: 0 });
    const queued = expect(p.run({ op: 'work', n: 1, steps: 0 })).rejects.toThrow(/closed/);
    first.catch(() => undefined);
    await p.close();
    await queued;
  });
});
