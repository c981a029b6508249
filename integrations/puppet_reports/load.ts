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

export async function loadRunFile(path: string, kind: FileKind, o: LoadOptions): Promise<Loaded> {
  let text: string;
  let mtimeMs: number;
  try {
    // One open, fstat of that descriptor, at most max+1 bytes read: a FIFO, a device, a link
    // to /dev/zero or a file swapped after it was sized can neither hang nor balloon us.
    const file = await readRegularFile(path, o.maxBytes);
    mtimeMs = file.stat.mtimeMs;
    text = file.data.toString('utf8');
  } catch (e) {
    if (e instanceof NotRegularFileError) return { kind: 'not_regular', fileKind: e.kind };
    if (e instanceof FileTooBigError) return { kind: 'too_big', bytes: e.bytes };
    return { kind: 'unreadable', code: (e as NodeJS.ErrnoException).code, message: (e as Error).message };
  }
  try {
    const run = kind === 'summary' ? parseSummary(text, o.summaryHost, path) : parseReport(text, path, { resourceStatusesMaxBytes: RESOURCE_STATUSES_MAX_BYTES });
    return { kind: 'run', run, mtimeMs };
  } catch (e) {
    return { kind: 'unparseable', error: e instanceof RunParseError ? e.kind : 'parse', message: (e as Error).message, mtimeMs };
  }
}
