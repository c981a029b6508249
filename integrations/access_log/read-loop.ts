/**
 * The read loop of one file: chunks from a regular file's descriptor into the line scanner. Used
 * by the Tailer and, for once() over several files, by the worker threads (parse-worker.ts), so
 * both count the same lines the same way.
 */
import { readSync } from 'node:fs';
import { scanLines, type ScanContext, type SourceStats } from './stats.js';

/** One read; lines longer than max_line_bytes (< this) are skipped, so a line always fits. */
export const CHUNK = 1 << 20;

/** Where one file is being read: the state readChunks() advances. */
export interface ReadCursor {
  readonly fd: number;
  /** First byte not yet counted (always a line start). */
  offset: number;
  /** In a line longer than the limit: how far it has been skipped; -1 otherwise. */
  skipTo: number;
  readonly src: SourceStats;
}

/**
 * The read loop of one file, from the cursor towards its end: whole chunks are counted by
 * scanLines(), a partial last line waits for its `\n` unless it is already too long (then it is
 * skipped up to its end and counted once). True when `budget` ran out before the end.
 */
export async function readChunks(
  t: ReadCursor,
  buf: Buffer,
  scan: ScanContext,
  budget: number,
  halted: () => boolean,
  pause: (() => Promise<void>) | undefined,
): Promise<boolean> {
  const max = scan.maxLineBytes;
  let taken = 0;
  for (; taken < budget && !halted(); taken += CHUNK) {
    if (t.skipTo >= 0) {
      const n = readSync(t.fd, buf, 0, CHUNK, t.skipTo);
      if (n === 0) break;
      const nl = buf.indexOf(0x0a);
      if (nl < 0 || nl >= n) {
        t.skipTo += n;
      } else {
        t.src.tooLong();
        t.offset = t.skipTo + nl + 1;
        t.skipTo = -1;
      }
      continue;
    }
    const n = readSync(t.fd, buf, 0, CHUNK, t.offset);
    if (n === 0) break;
    const used = scanLines(buf.subarray(0, n), 0, n, scan, t.src);
    t.offset += used;
    // What is left is a partial line: wait for its end, unless it is already too long.
    if (n - used > max) t.skipTo = t.offset + (n - used);
    else if (n < CHUNK) return false;
    if (pause) await pause();
  }
  return taken >= budget;
}
