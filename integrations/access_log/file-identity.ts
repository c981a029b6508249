/**
 * How a followed file is recognised and opened.
 *
 * Identity is (dev, inode) plus the file's first bytes: inodes are reused after a delete (and
 * across restarts nothing else ties a path to its old content), checksums alone collide on
 * identical headers.
 */
import { constants, readSync } from 'node:fs';

/** Bytes of a file's head kept as its fingerprint. */
export const FP_MAX = 1024;

/**
 * Every open is non-blocking: opening a FIFO for reading waits for a writer, and a path can be
 * swapped for one between the stat and the open. O_NONBLOCK changes nothing for regular files;
 * whatever is opened is fstat'ed and kept only if it is a regular file.
 */
export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

export function keyOf(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/** The fingerprint: up to FP_MAX bytes of the file's head, read through `buf` (FP_MAX bytes). */
export function readHead(fd: number, size: number, buf: Buffer): Buffer {
  const n = Math.min(size, FP_MAX);
  if (n === 0) return Buffer.alloc(0);
  const got = readSync(fd, buf, 0, n, 0);
  return Buffer.from(buf.subarray(0, got));
}

/** Does the file's head still start with `fp`? */
export function headMatches(fd: number, size: number, fp: Buffer, buf: Buffer): boolean {
  if (fp.length === 0) return true;
  if (size < fp.length) return false;
  const got = readSync(fd, buf, 0, fp.length, 0);
  return got === fp.length && buf.compare(fp, 0, fp.length, 0, fp.length) === 0;
}
