/**
 * once() over several files on worker threads: the main thread scans (saved positions, rotated
 * copies, truncation) and keeps every descriptor; each worker reads whole files from their
 * position with the same loop as the Tailer (readChunks) and sends back the chunk's response
 * times as it goes and the file's counts at its end. Counts are integers added in any order and
 * every response time reaches the emitter, whose percentiles sort them: the result is exactly
 * what one thread gets.
 */
import { WorkerPool } from '../../shared/core/worker-pool.js';
import type { Tailer } from './tail.js';

/** What each worker builds its line parser from (the instance's validated options). */
export interface ParseSetup {
  format: string;
  jsonKeys: Record<string, string> | undefined;
  methods: readonly string[];
  maxLineBytes: number;
}

export interface ReadTask {
  fd: number;
  offset: number;
  skipTo: number;
}

/** One chunk's times from a worker: response times, or times to first byte. */
export interface TimeBatch {
  firstByte: boolean;
  ms: Float64Array<ArrayBuffer>;
}

export interface ReadResult {
  offset: number;
  skipTo: number;
  slots: Float64Array;
  methods: Float64Array;
}

export async function readInParallel(t: Tailer, setup: ParseSetup, threads: number): Promise<void> {
  const pool = new WorkerPool(new URL('./parse-worker.js', import.meta.url), threads, setup);
  try {
    await t.readAllVia(async (c) => {
      const task: ReadTask = { fd: c.fd, offset: c.offset, skipTo: c.skipTo };
      const r = await pool.run<ReadTask, ReadResult, TimeBatch>(task, { onProgress: (t) => c.src.addTimes(t.ms, t.firstByte) });
      c.src.addCounts(r.slots, r.methods);
      c.offset = r.offset;
      c.skipTo = r.skipTo;
    });
  } finally {
    await pool.close();
  }
}
