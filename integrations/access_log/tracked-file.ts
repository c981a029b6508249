/**
 * One followed file as the Tailer holds it, and the look at it before each read: a file that
 * shrank below the read position, or whose head changed, was truncated (copytruncate) in place.
 */
import type { Stats } from 'node:fs';
import { FP_MAX, headMatches, readHead } from './file-identity.js';
import { recoverCopy, type RotationContext } from './rotated-files.js';
import type { SourceStats } from './stats.js';

export interface Tracked {
  path: string;
  fd: number;
  dev: number;
  ino: number;
  fp: Buffer;
  /** First byte not yet counted (always a line start). */
  offset: number;
  /** In a line longer than the limit: how far it has been skipped; -1 otherwise. */
  skipTo: number;
  live: boolean;
  lastSize: number;
  lastMtimeMs: number;
  lastGrowthMs: number;
  src: SourceStats;
}

/** Nothing new to read: size, mtime and position are as the last look left them. */
export function unchanged(t: Tracked, st: Stats): boolean {
  return st.size === t.lastSize && st.mtimeMs === t.lastMtimeMs && t.offset >= st.size && t.skipTo < 0;
}

/** A changed file before its read: notice truncation (and read the copy), refresh a short fingerprint, note growth. */
export function noteChange(t: Tracked, st: Stats, ctx: RotationContext, now: () => number): void {
  const pos = t.skipTo >= 0 ? t.skipTo : t.offset;
  if (st.size < pos || ((st.size !== t.lastSize || st.mtimeMs !== t.lastMtimeMs) && !headMatches(t.fd, st.size, t.fp, ctx.small))) {
    ctx.log.info('file truncated (copytruncate?); reading it again from the start', { path: t.path, size: st.size, offset: pos });
    const old = { path: t.path, offset: t.offset };
    const oldFp = t.fp;
    t.offset = 0;
    t.skipTo = -1;
    t.fp = readHead(t.fd, st.size, ctx.small);
    recoverCopy(ctx, old, oldFp, t.src, t.ino);
    if (old.offset === 0) t.src.truncated();
  } else if (t.fp.length < FP_MAX && st.size > t.fp.length) {
    t.fp = readHead(t.fd, st.size, ctx.small);
  }
  if (st.size > t.lastSize) t.lastGrowthMs = now();
  t.lastSize = st.size;
  t.lastMtimeMs = st.mtimeMs;
}
