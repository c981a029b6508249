/**
 * A small pool of worker threads for one-shot backfills (access_log `--once` over several files,
 * puppet_reports `backfill: true`): tasks go to at most `size` workers in submission order, each
 * worker runs one task at a time, and a task may stream progress back (a chunk's response times)
 * under a credit window, so a worker that parses faster than the main thread emits cannot pile up
 * unbounded messages.
 *
 * Worker threads share the process's file descriptors, so a task may name a descriptor the main
 * thread opened (and fstat'ed) instead of reopening a path that may have been rotated since.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, type Transferable } from 'node:worker_threads';

/** Progress messages a worker may have sent and not had acknowledged before it waits. */
const CREDIT = 4;

/**
 * Worker threads run compiled JavaScript: under vitest this module is TypeScript source and a
 * worker could not load its entry, so callers read in this thread there (tests that exercise the
 * workers import the build in dist/, as the CLI does).
 */
export const workerThreadsUsable = import.meta.url.endsWith('.js');

/** Threads to use for `n` independent tasks: `wanted` (0 = one per core), never more than `n`. */
export function threadCount(wanted: number, n: number): number {
  const cap = wanted > 0 ? wanted : availableParallelism();
  return Math.max(1, Math.min(cap, n));
}

type ToWorker = { t: 'task'; id: number; input: unknown } | { t: 'ack'; id: number };
type FromWorker =
  | { t: 'progress'; id: number; p: unknown }
  | { t: 'done'; id: number; out: unknown }
  | { t: 'fail'; id: number; message: string; stack?: string };

interface Pending {
  id: number;
  input: unknown;
  transfer: readonly Transferable[];
  onProgress: ((p: never) => void) | undefined;
  resolve(out: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  task: Pending | undefined;
}

export interface RunOptions<P> {
  transfer?: readonly Transferable[];
  /** Called in order for each progress message; the worker is acknowledged after it returns. */
  onProgress?(p: P): void;
}

export class WorkerPool {
  readonly #entry: URL;
  readonly #size: number;
  readonly #data: unknown;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #next = 1;
  #closed = false;

  /** `entry` is a module that calls `serveTasks()`; `workerData` is what it reads at load. */
  constructor(entry: URL, size: number, workerData: unknown) {
    this.#entry = entry;
    this.#size = Math.max(1, size);
    this.#data = workerData;
  }

  run<I, O, P = never>(input: I, opts: RunOptions<P> = {}): Promise<O> {
    if (this.#closed) return Promise.reject(new Error('worker pool is closed'));
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({
        id: this.#next++,
        input,
        transfer: opts.transfer ?? [],
        onProgress: opts.onProgress as ((p: never) => void) | undefined,
        resolve: resolve as (o: unknown) => void,
        reject,
      });
      this.#dispatch();
    });
  }

  /** Terminates every worker; tasks still queued or running are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#queue.splice(0)) p.reject(new Error('worker pool closed'));
    await Promise.all(this.#slots.splice(0).map((s) => s.worker.terminate()));
  }

  #dispatch(): void {
    for (;;) {
      const task = this.#queue[0];
      if (!task) return;
      let slot = this.#slots.find((s) => s.task === undefined);
      if (!slot && this.#slots.length < this.#size) slot = this.#spawn();
      if (!slot) return;
      this.#queue.shift();
      slot.task = task;
      const msg: ToWorker = { t: 'task', id: task.id, input: task.input };
      slot.worker.postMessage(msg, task.transfer as Transferable[]);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(this.#entry, { workerData: this.#data });
    const slot: Slot = { worker, task: undefined };
    this.#slots.push(slot);
    worker.on('message', (m: FromWorker) => {
      const task = slot.task;
      if (!task || task.id !== m.id) return;
      if (m.t === 'progress') {
        try {
          task.onProgress?.(m.p as never);
        } finally {
          const ack: ToWorker = { t: 'ack', id: m.id };
          worker.postMessage(ack);
        }
        return;
      }
      slot.task = undefined;
      if (m.t === 'done') task.resolve(m.out);
      else {
        const e = new Error(m.message);
        if (m.stack) e.stack = m.stack;
        task.reject(e);
      }
      this.#dispatch();
    });
    const lost = (why: Error): void => {
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots.splice(i, 1);
      const task = slot.task;
      slot.task = undefined;
      task?.reject(why);
      if (!this.#closed) this.#dispatch();
    };
    worker.on('error', (e: Error) => lost(e));
    worker.on('exit', (code) => lost(new Error(`worker thread exited (code ${code})`)));
    return slot;
  }
}

/** What a task handler gets to report progress; resolves when the main thread has room for more. */
export type Progress<P> = (p: P, transfer?: readonly Transferable[]) => Promise<void>;

/** In a worker entry module: answer the pool's tasks with `handler`, one at a time. */
export function serveTasks<I, O, P = never>(
  handler: (input: I, progress: Progress<P>) => Promise<{ out: O; transfer?: readonly Transferable[] }>,
): void {
  if (isMainThread || !parentPort) throw new Error('serveTasks() runs in a worker thread');
  const port = parentPort;
  let unacked = 0;
  let wake: (() => void) | undefined;
  port.on('message', (m: ToWorker) => {
    if (m.t === 'ack') {
      unacked--;
      const w = wake;
      wake = undefined;
      w?.();
      return;
    }
    const id = m.id;
    const progress: Progress<P> = async (p, transfer = []) => {
      const msg: FromWorker = { t: 'progress', id, p };
      port.postMessage(msg, transfer as Transferable[]);
      unacked++;
      while (unacked >= CREDIT) await new Promise<void>((r) => (wake = r));
    };
    handler(m.input as I, progress).then(
      ({ out, transfer = [] }) => {
        const msg: FromWorker = { t: 'done', id, out };
        port.postMessage(msg, transfer as Transferable[]);
      },
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        const msg: FromWorker = { t: 'fail', id, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
        port.postMessage(msg);
      },
    );
  });
}
