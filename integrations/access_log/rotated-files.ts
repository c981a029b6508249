/**
 * Finding a followed file again next to its old path after a rotation (the renamed original, or
 * logrotate's copy), and reading from that copy what a copytruncate took away.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../shared/core/log/logger.js';
import { headMatches, keyOf, OPEN_FLAGS } from './file-identity.js';
import { CHUNK } from './read-loop.js';
import { scanLines, type ScanContext, type SourceStats } from './stats.js';

const COMPRESSED = /\.(?:gz|bz2|xz|zst|lz4|Z|zip)$/;

/** What the search and the recovery use of the Tailer: its buffers, scanner, log and files. */
export interface RotationContext {
  /** CHUNK bytes, for reading a copy. */
  readonly buf: Buffer;
  /** FP_MAX bytes, for comparing heads. */
  readonly small: Buffer;
  readonly scan: ScanContext;
  readonly log: Logger;
  /** Is the file with this identity (keyOf) already followed? Such a file is nobody's copy. */
  isFollowed(key: string): boolean;
}

/**
 * A file in the same directory whose head equals `fp` and that holds at least `minSize` bytes:
 * the renamed original (preferred, same inode) or logrotate's copy. Compressed files are not
 * considered. The caller owns the returned descriptor.
 */
export function findCandidate(
  ctx: RotationContext,
  oldPath: string,
  fp: Buffer,
  minSize: number,
  preferred: (st: Stats) => boolean,
  excludeIno?: number,
): { path: string; fd: number; st: Stats } | undefined {
  const dir = dirname(oldPath);
  const stem = basename(oldPath).replace(/\.log$/, '');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  let best: { path: string; fd: number; st: Stats; pref: boolean } | undefined;
  for (const name of names) {
    if (!name.startsWith(stem) || COMPRESSED.test(name)) continue;
    const path = join(dir, name);
    let fd: number;
    try {
      // Only regular files are opened (a FIFO named access.log.1 would block an open for good).
      if (!statSync(path).isFile()) continue;
      fd = openSync(path, OPEN_FLAGS);
    } catch {
      continue;
    }
    const st = fstatSync(fd);
    const ok =
      st.isFile() &&
      st.ino !== excludeIno &&
      !ctx.isFollowed(keyOf(st)) &&
      st.size >= minSize &&
      fp.length > 0 &&
      headMatches(fd, st.size, fp, ctx.small);
    const pref = ok && preferred(st);
    if (ok && (!best || (pref && !best.pref))) {
      if (best) closeSync(best.fd);
      best = { path, fd, st, pref };
    } else closeSync(fd);
  }
  return best && { path: best.path, fd: best.fd, st: best.st };
}

/** After a copytruncate: count the lines the copy has beyond what we had read. */
export function recoverCopy(
  ctx: RotationContext,
  rec: { path: string; offset: number },
  fp: Buffer,
  src: SourceStats,
  liveIno: number,
): boolean {
  if (rec.offset === 0) return true;
  // Any size: a copy shorter than our position means we read past the point logrotate copied
  // (in its copy-to-truncate window), so nothing in it is new, and nothing was missed.
  const copy = findCandidate(ctx, rec.path, fp, 0, () => true, liveIno);
  if (!copy) {
    ctx.log.warn('truncated file: no rotated copy found next to it; unread lines may be lost', rec);
    src.truncated();
    src.gap();
    return false;
  }
  src.truncated();
  if (copy.st.size <= rec.offset) {
    closeSync(copy.fd);
    ctx.log.info('truncated file: its copy holds nothing we had not read', { copy: copy.path, size: copy.st.size, offset: rec.offset });
    return true;
  }
  const before = src.lines;
  let offset = rec.offset;
  try {
    for (;;) {
      const n = readSync(copy.fd, ctx.buf, 0, CHUNK, offset);
      if (n === 0) break;
      const used = scanLines(ctx.buf.subarray(0, n), 0, n, ctx.scan, src);
      if (used === 0) {
        // The copy ends in a partial line (copied mid-write); nobody will finish it.
        src.unparsed();
        break;
      }
      offset += used;
    }
  } finally {
    closeSync(copy.fd);
  }
  src.recovered(src.lines - before);
  ctx.log.info('read the rest of the truncated file from its copy', { copy: copy.path, from: rec.offset, lines: src.lines - before });
  return true;
}
