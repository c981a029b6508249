/**
 * Follows files through rotation and restarts.
 *
 * Identity is (dev, inode) plus the file's first bytes: inodes are reused after a delete (and
 * across restarts nothing else ties a path to its old content), checksums alone collide on
 * identical headers. A tracked file keeps its descriptor after a rename or delete and is drained
 * until it has been idle for `rotateWaitMs`; whatever appears at the path is a new file, read
 * from its first byte.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../shared/core/log/logger.js';
import { ChangeWatch } from './changes.js';
import { expandGlob, globToRegExp, hasMagic } from './glob.js';
import { scanLines, type ScanContext, type SourceStats } from './stats.js';
import type { FileRecord, LoadResult } from './state.js';

/** Bytes of a file's head kept as its fingerprint. */
export const FP_MAX = 1024;
/** One read; lines longer than max_line_bytes (< this) are skipped, so a line always fits. */
export const CHUNK = 1 << 20;

const COMPRESSED = /\.(?:gz|bz2|xz|zst|lz4|Z|zip)$/;

/**
 * Every open is non-blocking: opening a FIFO for reading waits for a writer, and a path can be
 * swapped for one between the stat and the open. O_NONBLOCK changes nothing for regular files;
 * whatever is opened is fstat'ed and kept only if it is a regular file.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** A stat error that means "not there" (missingok), not "could not look". */
function absent(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export interface TailOptions {
  patterns: readonly string[];
  exclude: readonly string[];
  /** Fixed source name, or undefined to derive one from each file's name. */
  sourceName: string | undefined;
  startAt: 'end' | 'beginning';
  rotateWaitMs: number;
  scan: ScanContext;
  source(name: string): SourceStats;
  log: Logger;
  now(): number;
  /** A scan could not list or stat what the glob covers (EMFILE, EACCES…): counted by the caller. */
  onError?(): void;
}

interface Tracked {
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

/** The source name a file gets by default: `access.log` → `access`, `www.example.com.log` → `www_example_com`. */
export function defaultSourceName(path: string): string {
  const base = basename(path).replace(/\.log$/, '').replace(/^\.+/, '');
  const s = base.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/_{2,}/g, '_').replace(/^_|_$/g, '');
  return s === '' ? 'access' : s;
}

function keyOf(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

function readHead(fd: number, size: number, buf: Buffer): Buffer {
  const n = Math.min(size, FP_MAX);
  if (n === 0) return Buffer.alloc(0);
  const got = readSync(fd, buf, 0, n, 0);
  return Buffer.from(buf.subarray(0, got));
}

/** Does the file's head still start with `fp`? */
function headMatches(fd: number, size: number, fp: Buffer, buf: Buffer): boolean {
  if (fp.length === 0) return true;
  if (size < fp.length) return false;
  const got = readSync(fd, buf, 0, fp.length, 0);
  return got === fp.length && buf.compare(fp, 0, fp.length, 0, fp.length) === 0;
}

export class Tailer {
  readonly #o: TailOptions;
  readonly #files = new Map<string, Tracked>();
  readonly #buf = Buffer.allocUnsafe(CHUNK);
  readonly #small = Buffer.allocUnsafe(FP_MAX);
  readonly #excludes: RegExp[];
  /** Records from the state file not yet matched to a file (first scan only). */
  #pending: FileRecord[] = [];
  #pendingPaths = new Set<string>();
  #hadState = false;
  #firstScanDone = false;
  /** Paths that could not be opened: warned about once, not on every poll. */
  readonly #openFailures = new Set<string>();
  #halted = false;
  /** Which directories and files can have changed since the last poll (idle costs ~nothing). */
  readonly changes = new ChangeWatch();
  /** The directory each pattern's expansion starts from (its part before the first wildcard). */
  readonly #prefixes: string[];
  /** Bumped whenever a position, path or fingerprint changes: the state file is written only then. */
  #version = 0;
  /** The last scan could not see every directory: warned about once per streak. */
  #scanFailing = false;
  /** Live files by their current path (inotify reports names); rotated files being drained. */
  readonly #byPath = new Map<string, Tracked>();
  readonly #draining = new Set<Tracked>();

  constructor(o: TailOptions) {
    this.#o = o;
    this.#excludes = o.exclude.map(globToRegExp);
    this.#prefixes = o.patterns.map((p) => {
      const segs = p.split('/');
      const i = segs.findIndex(hasMagic);
      return i < 0 ? dirname(p) : segs.slice(0, i).join('/') || '/';
    });
  }

  get version(): number {
    return this.#version;
  }

  /** Use a loaded state file. Must be called before the first scan. */
  restore(state: LoadResult): void {
    if (state.kind === 'corrupt') {
      this.#o.log.warn(`state file unusable (${state.reason}); starting without saved positions`, {
        start_at: this.#o.startAt,
      });
      return;
    }
    if (state.kind === 'missing') return;
    this.#hadState = true;
    this.#pending = [...state.doc.files];
    this.#pendingPaths = new Set(state.doc.files.map((f) => f.path));
  }

  get fileCount(): number {
    return this.#files.size;
  }

  #srcFor(path: string, fallback?: string): SourceStats {
    return this.#o.source(this.#o.sourceName ?? fallback ?? defaultSourceName(path));
  }

  #track(path: string, fd: number, st: Stats, fp: Buffer, offset: number, src: SourceStats, live: boolean): Tracked {
    const t: Tracked = {
      path,
      fd,
      dev: st.dev,
      ino: st.ino,
      fp,
      offset,
      skipTo: -1,
      live,
      lastSize: st.size,
      lastMtimeMs: st.mtimeMs,
      lastGrowthMs: this.#o.now(),
      src,
    };
    this.#files.set(keyOf(st), t);
    this.#version++;
    if (live) this.#byPath.set(path, t);
    else this.#draining.add(t);
    let link = false;
    try {
      link = lstatSync(path).isSymbolicLink();
    } catch {
      // gone already: the next scan sees it
    }
    this.changes.follow(path, link);
    // Written before its directory was watched: read it on the next poll whatever inotify says.
    this.changes.again(path);
    return t;
  }

  /** Where a newly seen file starts: after the last complete line for start_at=end. */
  #tailOffset(fd: number, size: number): number {
    if (size === 0) return 0;
    const n = Math.min(size, CHUNK);
    const got = readSync(fd, this.#buf, 0, n, size - n);
    const nl = this.#buf.lastIndexOf(0x0a, got - 1);
    return nl < 0 ? (size > n ? size : 0) : size - n + nl + 1;
  }

  /**
   * Match the glob against the filesystem: start tracking new files, notice rotated ones.
   * `mode`: 'start' applies saved positions and start_at; 'once' applies saved positions and
   * otherwise reads from the beginning.
   */
  scan(mode: 'start' | 'once'): void {
    const first = !this.#firstScanDone;
    // Nothing was created, renamed or deleted where the glob looks: the expansion is the same.
    // (Not after a failed scan: what the failing directory holds was never seen.)
    if (!first && this.#openFailures.size === 0 && !this.#scanFailing && this.changes.expansionValid()) return;
    const seen = new Set<string>();
    const expanded: string[] = [];
    // An error is not an empty directory: when a directory cannot be listed (out of descriptors)
    // or a path cannot be stat'ed, no followed file is taken as rotated in this scan.
    const failures: string[] = [];
    for (const pattern of this.#o.patterns) {
      const { paths, errors } = expandGlob(pattern);
      for (const err of errors) failures.push(`cannot list ${err.dir}: ${err.message}`);
      for (const path of paths) {
        expanded.push(path);
        if (this.#excludes.some((re) => re.test(path))) continue;
        let st: Stats;
        try {
          st = statSync(path);
        } catch (e) {
          // Missing (missingok): looked at again next scan. Anything else: we could not look.
          if (!absent(e)) failures.push(`cannot stat ${path}: ${(e as Error).message}`);
          continue;
        }
        if (!st.isFile()) continue;
        const existing = this.#files.get(keyOf(st));
        if (existing) {
          seen.add(keyOf(st));
          if (existing.path !== path || !existing.live) {
            this.#version++;
            this.changes.forget(existing.path);
            this.changes.follow(path, false);
            this.changes.again(path);
            if (this.#byPath.get(existing.path) === existing) this.#byPath.delete(existing.path);
            this.#byPath.set(path, existing);
            this.#draining.delete(existing);
          }
          existing.path = path;
          existing.live = true;
          continue;
        }
        this.#open(path, first, mode, seen);
      }
    }
    if (failures.length > 0) {
      this.#o.onError?.();
      if (!this.#scanFailing) {
        this.#o.log.warn(`${failures[0]!}; keeping the ${this.#files.size} followed file(s) as they are, retrying every poll`, {
          failures: failures.length,
        });
      }
      this.#scanFailing = true;
      // Saved positions stay pending: the first complete scan matches them.
      return;
    }
    if (this.#scanFailing) this.#o.log.info('the followed paths can be listed again');
    this.#scanFailing = false;
    this.#firstScanDone = true;
    this.changes.expanded(this.#prefixes, expanded);
    if (first) this.#resumeUnmatched();
    for (const [key, t] of this.#files) {
      if (seen.has(key) || !t.live) continue;
      t.live = false;
      this.#draining.add(t);
      if (this.#byPath.get(t.path) === t) this.#byPath.delete(t.path);
      t.lastGrowthMs = this.#o.now();
      t.src.rotated();
      this.#o.log.info('file rotated or deleted; draining the old one', { path: t.path, offset: t.offset });
    }
  }

  #open(path: string, first: boolean, mode: 'start' | 'once', seen: Set<string>): void {
    let fd: number;
    try {
      fd = openSync(path, OPEN_FLAGS);
    } catch (e) {
      if (!this.#openFailures.has(path)) this.#o.log.warn(`cannot open ${path}: ${(e as Error).message}; retrying every poll`);
      this.#openFailures.add(path);
      return;
    }
    if (this.#openFailures.delete(path)) this.#o.log.info(`opened ${path} after earlier failures`);
    // Identity from the descriptor: the path may have been rotated between stat and open.
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return;
    }
    const key = keyOf(st);
    if (this.#files.has(key)) {
      closeSync(fd);
      seen.add(key);
      return;
    }
    seen.add(key);
    const fp = readHead(fd, st.size, this.#small);
    if (!first) {
      // Appeared while running: created after our last look, so every line is new.
      this.#track(path, fd, st, fp, 0, this.#srcFor(path), true);
      this.#o.log.info('following new file from its start', { path });
      return;
    }
    const rec = this.#takeRecord((r) => r.dev === st.dev && r.ino === st.ino);
    if (rec) {
      const src = this.#srcFor(path, rec.source);
      const t = this.#track(path, fd, st, fp, 0, src, true);
      const saved = Buffer.from(rec.fp, 'base64');
      if (st.size >= rec.offset && headMatches(fd, st.size, saved, this.#small)) {
        t.offset = rec.offset;
        return;
      }
      if (rec.rotated === true) {
        // The saved file had already left this path when we stopped: this is a new file that got
        // its inode back (logrotate gzipped the old one, freeing the inode, then created this).
        this.#gone(rec);
        this.#o.log.info('following new file from its start', { path });
        return;
      }
      // Same inode, other content: truncated (copytruncate) while we were down, or a reused inode.
      this.#o.log.info('file was truncated or replaced while stopped; reading it from the start', { path });
      this.#recoverCopy(rec, saved, src, st.ino);
      return;
    }
    let offset = 0;
    if (mode === 'start' && !this.#pendingPaths.has(path) && this.#o.startAt === 'end') {
      offset = this.#tailOffset(fd, st.size);
    }
    this.#track(path, fd, st, fp, offset, this.#srcFor(path), true);
    if (this.#pendingPaths.has(path)) this.#o.log.info('file replaced while stopped; reading the new one from its start', { path });
  }

  #takeRecord(pred: (r: FileRecord) => boolean): FileRecord | undefined {
    const i = this.#pending.findIndex(pred);
    if (i < 0) return undefined;
    const [r] = this.#pending.splice(i, 1);
    return r;
  }

  /**
   * Saved files no glob path leads to any more were rotated while we were stopped: find them by
   * identity next to their old path (access.log.1, access.log-20240101) and finish them.
   */
  #resumeUnmatched(): void {
    const recs = this.#pending;
    this.#pending = [];
    for (const rec of recs) {
      const saved = Buffer.from(rec.fp, 'base64');
      const found = this.#findCandidate(rec.path, saved, rec.offset, (st) => st.dev === rec.dev && st.ino === rec.ino);
      if (!found) {
        this.#gone(rec);
        continue;
      }
      this.#track(found.path, found.fd, found.st, readHead(found.fd, found.st.size, this.#small), rec.offset, this.#srcFor(rec.path, rec.source), false);
      if (rec.rotated === true) {
        // Rotated (and counted) before the restart: we only go on draining it.
        this.#o.log.info('still draining a file rotated before the restart', { path: found.path, was: rec.path, offset: rec.offset });
      } else {
        this.#srcFor(rec.path, rec.source).rotated();
        this.#o.log.info('resuming a file rotated while stopped', { path: found.path, was: rec.path, offset: rec.offset });
      }
    }
    this.#hadState = this.#hadState || recs.length > 0;
  }

  /** A saved file is nowhere to be found: lines after its saved position are lost, if it had any. */
  #gone(rec: FileRecord): void {
    if (rec.rotated === true && rec.size !== undefined && rec.offset >= rec.size) {
      // Already rotated and read to its end when we stopped (the server had reopened its log):
      // logrotate compressed or deleted it since. Nothing was left to read.
      this.#o.log.info('a rotated file read to its end is gone (compressed or removed); nothing lost', { path: rec.path });
      return;
    }
    this.#o.log.warn('a file followed before the restart is gone; lines after the saved position are lost', {
      path: rec.path,
      offset: rec.offset,
    });
    this.#srcFor(rec.path, rec.source).gap();
  }

  /**
   * A file in the same directory whose head equals `fp` and that holds at least `minSize` bytes:
   * the renamed original (preferred, same inode) or logrotate's copy. Compressed files are not
   * considered. The caller owns the returned descriptor.
   */
  #findCandidate(
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
        !this.#files.has(keyOf(st)) &&
        st.size >= minSize &&
        fp.length > 0 &&
        headMatches(fd, st.size, fp, this.#small);
      const pref = ok && preferred(st);
      if (ok && (!best || (pref && !best.pref))) {
        if (best) closeSync(best.fd);
        best = { path, fd, st, pref };
      } else closeSync(fd);
    }
    return best && { path: best.path, fd: best.fd, st: best.st };
  }

  /** After a copytruncate: count the lines the copy has beyond what we had read. */
  #recoverCopy(rec: { path: string; offset: number }, fp: Buffer, src: SourceStats, liveIno: number): boolean {
    if (rec.offset === 0) return true;
    // Any size: a copy shorter than our position means we read past the point logrotate copied
    // (in its copy-to-truncate window), so nothing in it is new, and nothing was missed.
    const copy = this.#findCandidate(rec.path, fp, 0, () => true, liveIno);
    if (!copy) {
      this.#o.log.warn('truncated file: no rotated copy found next to it; unread lines may be lost', rec);
      src.truncated();
      src.gap();
      return false;
    }
    src.truncated();
    if (copy.st.size <= rec.offset) {
      closeSync(copy.fd);
      this.#o.log.info('truncated file: its copy holds nothing we had not read', { copy: copy.path, size: copy.st.size, offset: rec.offset });
      return true;
    }
    const before = src.lines;
    let offset = rec.offset;
    try {
      for (;;) {
        const n = readSync(copy.fd, this.#buf, 0, CHUNK, offset);
        if (n === 0) break;
        const used = scanLines(this.#buf.subarray(0, n), 0, n, this.#o.scan, src);
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
    this.#o.log.info('read the rest of the truncated file from its copy', { copy: copy.path, from: rec.offset, lines: src.lines - before });
    return true;
  }

  /**
   * Read tracked files. `pause` lets the event loop breathe between chunks; `budget` caps the
   * bytes taken from one file per call so one file's backlog cannot starve the others (the rest
   * is read on the next call). Without a budget every file is read to its current end.
   */
  async readAll(pause?: () => Promise<void>, budget = Infinity): Promise<boolean> {
    let more = false;
    const written = this.changes.beginPoll();
    for (const t of written === undefined ? [...this.#files.values()] : this.#toCheck(written)) {
      if (this.#halted) return false;
      this.changes.checks++;
      if (await this.#readFile(t, pause, budget)) {
        more = true;
        this.changes.again(t.path);
      }
      if (!t.live && this.#o.now() - t.lastGrowthMs >= this.#o.rotateWaitMs && t.offset >= t.lastSize) this.#retire(t);
    }
    return more;
  }

  /** The tracked files at the `written` paths, and every rotated file still being drained. */
  #toCheck(written: Set<string>): Tracked[] {
    const out = [...this.#draining];
    for (const p of written) {
      const t = this.#byPath.get(p);
      if (t?.live) out.push(t);
    }
    return out;
  }

  /** Stop reading at the next chunk boundary (counts and positions stay consistent). */
  halt(): void {
    this.#halted = true;
  }

  #retire(t: Tracked): void {
    this.#files.delete(keyOf(t));
    this.#draining.delete(t);
    if (this.#byPath.get(t.path) === t) this.#byPath.delete(t.path);
    this.#version++;
    this.changes.forget(t.path);
    closeSync(t.fd);
    this.#o.log.info('closed a rotated file after it stayed idle', { path: t.path, offset: t.offset });
  }

  /** True when the budget ran out before the end of the file. */
  async #readFile(t: Tracked, pause: (() => Promise<void>) | undefined, budget: number): Promise<boolean> {
    if (!this.#prepare(t)) return false;
    return readChunks(t, this.#buf, this.#o.scan, budget, () => this.#halted, pause);
  }

  /**
   * Before reading a file: notice truncation (and read the copy), refresh a short fingerprint,
   * note growth. False when there is nothing new to read.
   */
  #prepare(t: Tracked): boolean {
    const st = fstatSync(t.fd);
    if (st.size === t.lastSize && st.mtimeMs === t.lastMtimeMs && t.offset >= st.size && t.skipTo < 0) return false;
    this.#version++;
    const pos = t.skipTo >= 0 ? t.skipTo : t.offset;
    if (st.size < pos || ((st.size !== t.lastSize || st.mtimeMs !== t.lastMtimeMs) && !headMatches(t.fd, st.size, t.fp, this.#small))) {
      this.#o.log.info('file truncated (copytruncate?); reading it again from the start', { path: t.path, size: st.size, offset: pos });
      const old = { path: t.path, offset: t.offset };
      const oldFp = t.fp;
      t.offset = 0;
      t.skipTo = -1;
      t.fp = readHead(t.fd, st.size, this.#small);
      this.#recoverCopy(old, oldFp, t.src, t.ino);
      if (old.offset === 0) t.src.truncated();
    } else if (t.fp.length < FP_MAX && st.size > t.fp.length) {
      t.fp = readHead(t.fd, st.size, this.#small);
    }
    if (st.size > t.lastSize) t.lastGrowthMs = this.#o.now();
    t.lastSize = st.size;
    t.lastMtimeMs = st.mtimeMs;
    return true;
  }

  /**
   * once() on worker threads: every file with something new is handed to `read` (biggest backlog
   * first, so the pool ends evenly), which reads it to its end from `offset`/`skipTo` with
   * readChunks() and leaves the new positions in the cursor. Waits for every file, then throws
   * the first failure.
   */
  async readAllVia(read: (c: ReadCursor) => Promise<void>): Promise<void> {
    const ready = [...this.#files.values()].filter((t) => this.#prepare(t));
    ready.sort((a, b) => b.lastSize - b.offset - (a.lastSize - a.offset));
    const results = await Promise.allSettled(ready.map((t) => read(t)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Positions to persist: taken synchronously with the counters they belong to. */
  snapshot(): FileRecord[] {
    return [...this.#files.values()].map((t) => ({
      path: t.path,
      dev: t.dev,
      ino: t.ino,
      fp: t.fp.toString('base64'),
      offset: t.offset,
      source: t.src.name,
      size: t.lastSize,
      rotated: !t.live,
    }));
  }

  closeAll(): void {
    for (const t of this.#files.values()) closeSync(t.fd);
    this.#files.clear();
    this.#byPath.clear();
    this.#draining.clear();
    this.changes.close();
  }

  /** True when a state file existed (restart) — for logs. */
  get restored(): boolean {
    return this.#hadState;
  }
}

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
 * Used by the Tailer and, for once() over several files, by the worker threads (parse-worker.ts).
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
