/**
 * Reading a file whose path comes from outside (a reportdir, a config path) without trusting it.
 *
 * `stat` then `readFile` is two lookups of a name that can change in between, and neither bounds
 * anything: a FIFO stats as size 0 and `readFile` blocks forever (a libuv thread held, the exit
 * waiting on it, SIGTERM ignored), a symlink to /dev/zero stats as size 0 and reads until V8's
 * string limit, and a file swapped after the size check is read in full. So: open once, without
 * blocking (O_NONBLOCK: opening a FIFO with no writer returns at once), `fstat` the descriptor
 * actually opened, refuse anything but a regular file, and read at most `maxBytes + 1` bytes
 * whatever the size said.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** What a non-regular file is, for messages and counters. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSocket()) return 'socket';
  return 'not a regular file';
}

/** The path opened to something other than a regular file: skipped, never read. */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG' as const;
  readonly path: string;
  readonly kind: string;
  constructor(path: string, kind: string) {
    super(`${path}: not a regular file (${kind})`);
    this.name = 'NotRegularFileError';
    this.path = path;
    this.kind = kind;
  }
}

/** More than `max` bytes: at open (fstat) or while reading (the file grew or was swapped). */
export class FileTooBigError extends Error {
  readonly code = 'EFBIG' as const;
  readonly path: string;
  /** fstat size, or `max + 1` when the read found more than fstat said. */
  readonly bytes: number;
  readonly max: number;
  constructor(path: string, bytes: number, max: number) {
    super(`${path}: larger than ${max} bytes`);
    this.name = 'FileTooBigError';
    this.path = path;
    this.bytes = bytes;
    this.max = max;
  }
}

export interface RegularFile {
  data: Buffer;
  /** fstat of the descriptor that was read (mtime, inode), not of whatever the path names now. */
  stat: Stats;
  /** The whole buffer `data` lies in: hand it back as `scratch` once `data` is no longer used. */
  buffer: Buffer;
}

function checkStat(path: string, st: Stats, maxBytes: number): void {
  if (!st.isFile()) throw new NotRegularFileError(path, fileKind(st));
  if (st.size > maxBytes) throw new FileTooBigError(path, st.size, maxBytes);
}

/** First buffer: the fstat size (+1 to see growth), small when fstat says 0 (procfs files). */
function initialSize(st: Stats, maxBytes: number): number {
  return Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024));
}

function grow(buf: Buffer, maxBytes: number): Buffer {
  const next = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
  buf.copy(next);
  return next;
}

/**
 * Reads a regular file of at most `maxBytes`. Throws NotRegularFileError, FileTooBigError, or the
 * open/read error (ENOENT, EACCES, ...) as is. `scratch`, a buffer from an earlier read whose
 * data is no longer used, is read into when it is big enough: a reader of many large files
 * (a Puppet backfill) then touches the same memory each time instead of fresh pages.
 */
export async function readRegularFile(path: string, maxBytes: number, scratch?: Buffer): Promise<RegularFile> {
  const fh = await open(path, OPEN_FLAGS);
  try {
    const st = await fh.stat();
    checkStat(path, st, maxBytes);
    const want = initialSize(st, maxBytes);
    let buf: Buffer = scratch && scratch.length >= want ? scratch : Buffer.allocUnsafe(want);
    // Never more than max+1 bytes, however big the scratch buffer is.
    const room = (): number => Math.min(buf.length, maxBytes + 1);
    let len = 0;
    for (;;) {
      if (len === room()) {
        if (len > maxBytes) throw new FileTooBigError(path, len, maxBytes);
        buf = grow(buf, maxBytes);
      }
      const { bytesRead } = await fh.read(buf, len, room() - len, null);
      if (bytesRead === 0) break;
      len += bytesRead;
    }
    if (len > maxBytes) throw new FileTooBigError(path, len, maxBytes);
    return { data: buf.subarray(0, len), stat: st, buffer: buf };
  } finally {
    await fh.close();
  }
}

/** The same for start-up paths that are synchronous by design (the config file). */
export function readRegularFileSync(path: string, maxBytes: number): RegularFile {
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const st = fstatSync(fd);
    checkStat(path, st, maxBytes);
    let buf: Buffer = Buffer.allocUnsafe(initialSize(st, maxBytes));
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        if (len > maxBytes) throw new FileTooBigError(path, len, maxBytes);
        buf = grow(buf, maxBytes);
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    if (len > maxBytes) throw new FileTooBigError(path, len, maxBytes);
    return { data: buf.subarray(0, len), stat: st, buffer: buf };
  } finally {
    closeSync(fd);
  }
}
