/**
 * Reading and parsing one report or summary file, with no side effects: every outcome is a
 * value the service then counts, logs and emits in order. Pure of the service's state so that a
 * backfill can run it on worker threads (load-worker.ts) ahead of the emitting queue.
 */
import { FileTooBigError, NotRegularFileError, readRegularFile } from '../../shared/core/fs/regular-file.js';
import { parseReport } from './parse.js';
import { RunParseError, type Run } from './run.js';
import { parseSummary } from './summary.js';

export type FileKind = 'report' | 'summary';

export interface LoadOptions {
  maxBytes: number;
  /** Host of a summary's metrics (a summary carries no certname). */
  summaryHost: string;
}

export type Loaded =
  | { kind: 'run'; run: Run; mtimeMs: number }
  | { kind: 'not_regular'; fileKind: string }
  | { kind: 'too_big'; bytes: number }
  | { kind: 'unreadable'; code: string | undefined; message: string }
  | { kind: 'unparseable'; error: 'incomplete' | 'limit' | 'parse'; message: string; mtimeMs: number };

/** Resource statuses over this are not parsed (failed resources are then "not read"). */
const RESOURCE_STATUSES_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The read buffer of the last file, reused by the next one in this thread (a backfill reads
 * hundreds of multi-MB reports: a fresh buffer each time cost more in page faults than the fast
 * path's parse). Taken while a file is read and parsed, so concurrent loads never share it.
 */
let spare: Buffer | undefined;

export async function loadRunFile(path: string, kind: FileKind, o: LoadOptions): Promise<Loaded> {
  const scratch = spare;
  spare = undefined;
  let data: Buffer;
  let mtimeMs: number;
  let buffer: Buffer | undefined = scratch;
  try {
    // One open, fstat of that descriptor, at most max+1 bytes read: a FIFO, a device, a link
    // to /dev/zero or a file swapped after it was sized can neither hang nor balloon us.
    const file = await readRegularFile(path, o.maxBytes, scratch);
    mtimeMs = file.stat.mtimeMs;
    data = file.data;
    buffer = file.buffer;
  } catch (e) {
    spare = buffer;
    if (e instanceof NotRegularFileError) return { kind: 'not_regular', fileKind: e.kind };
    if (e instanceof FileTooBigError) return { kind: 'too_big', bytes: e.bytes };
    return { kind: 'unreadable', code: (e as NodeJS.ErrnoException).code, message: (e as Error).message };
  }
  try {
    // A report is handed over as bytes: its fast path decodes only the few blocks it reads. What
    // a Run holds is decoded (copied) from them, so the buffer is free again once it returns.
    const run = kind === 'summary' ? parseSummary(data.toString('utf8'), o.summaryHost, path) : parseReport(data, path, { resourceStatusesMaxBytes: RESOURCE_STATUSES_MAX_BYTES });
    return { kind: 'run', run, mtimeMs };
  } catch (e) {
    return { kind: 'unparseable', error: e instanceof RunParseError ? e.kind : 'parse', message: (e as Error).message, mtimeMs };
  } finally {
    spare = buffer;
  }
}
