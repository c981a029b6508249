/**
 * Worker thread entry of parallel.ts: reads one file per task from a descriptor the main thread
 * opened, with the Tailer's own read loop and line parser.
 */
import { workerData } from 'node:worker_threads';
import { serveTasks } from '../../shared/core/worker-pool.js';
import { compileFormat } from './format.js';
import type { ParseSetup, ReadResult, ReadTask, TimeBatch } from './parallel.js';
import { MethodTable } from './parse.js';
import { FIRST_BYTE_TIME, newScanContext, SourceStats, type StatsEmitter } from './stats.js';
import { CHUNK, readChunks } from './read-loop.js';

const setup = workerData as ParseSetup;
const format = compileFormat(setup.format, setup.jsonKeys);
const methods = new MethodTable(setup.methods);
const scan = newScanContext(format, methods, setup.maxLineBytes, false);
const buf = Buffer.allocUnsafe(CHUNK);

serveTasks<ReadTask, ReadResult, TimeBatch>(async (task, progress) => {
  const times: TimeBatch[] = [];
  const collector: StatsEmitter = {
    timingBatch: (name, ms, count = ms.length) => void times.push({ firstByte: name === `.${FIRST_BYTE_TIME}`, ms: ms.slice(0, count) }),
    counter: () => {
      throw new Error('counts leave a worker through takeCounts()');
    },
    timing: () => {
      throw new Error('mod_statsd is read in the main thread');
    },
  };
  const src = new SourceStats('', methods, collector, undefined, format);
  const send = async (): Promise<void> => {
    for (const t of times.splice(0)) await progress(t, [t.ms.buffer]);
  };
  const cursor = { fd: task.fd, offset: task.offset, skipTo: task.skipTo, src };
  await readChunks(cursor, buf, scan, Infinity, () => false, send);
  await send();
  const { slots, methods: m } = src.takeCounts();
  return { out: { offset: cursor.offset, skipTo: cursor.skipTo, slots, methods: m }, transfer: [slots.buffer, m.buffer] };
});
