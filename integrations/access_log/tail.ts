/**
 * Follows files through rotation and restarts.
 *
 * A file is known by its identity (file-identity.ts), not by its path. A tracked file keeps its
 * descriptor after a rename or delete and is drained until it has been idle for `rotateWaitMs`;
 * whatever appears at the path is a new file, read from its first byte.
 *
 * The Tailer owns which files are followed and when each is read; the parts it composes are the
 * read loop (read-loop.ts), one followed file and its truncation check (tracked-file.ts), finding
 * a rotated file again (rotated-files.ts) and the positions saved across restarts
 * (saved-positions.ts).
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from '../../shared/core/log/logger.js';
import { ChangeWatch } from './changes.js';
import { FP_MAX, headMatches, keyOf, OPEN_FLAGS, readHead } from './file-identity.js';
import { expandGlob, expansionRoot, globToRegExp } from './glob.js';
import { CHUNK, readChunks, type ReadCursor } from './read-loop.js';
import { recoverCopy, type RotationContext } from './rotated-files.js';
import { recordOf, SavedPositions } from './saved-positions.js';
import type { ScanContext, SourceStats } from './stats.js';
import type { FileRecord, LoadResult } from './state.js';
import { noteChange, unchanged, type Tracked } from './tracked-file.js';

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

/** The source name a file gets by default: `access.log` → `access`, `www.example.com.log` → `www_example_com`. */
export function defaultSourceName(path: string): string {
  const base = basename(path).replace(/\.log$/, '').replace(/^\.+/, '');
  const s = base.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/_{2,}/g, '_').replace(/^_|_$/g, '');
  return s === '' ? 'access' : s;
}

export class Tailer {
  readonly #o: TailOptions;
  readonly #files = new Map<string, Tracked>();
  readonly #buf = Buffer.allocUnsafe(CHUNK);
  readonly #small = Buffer.allocUnsafe(FP_MAX);
  readonly #excludes: RegExp[];
  readonly #saved: SavedPositions;
  readonly #rotation: RotationContext;
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
    this.#saved = new SavedPositions(o.log, o.startAt, (path, saved) => this.#srcFor(path, saved));
    this.#rotation = { buf: this.#buf, small: this.#small, scan: o.scan, log: o.log, isFollowed: (key) => this.#files.has(key) };
    this.#prefixes = o.patterns.map(expansionRoot);
  }

  get version(): number {
    return this.#version;
  }

  /** Use a loaded state file. Must be called before the first scan. */
  restore(state: LoadResult): void {
    this.#saved.restore(state);
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
    if (first) {
      this.#saved.resumeUnmatched(this.#rotation, (found, rec) => {
        const fp = readHead(found.fd, found.st.size, this.#small);
        this.#track(found.path, found.fd, found.st, fp, rec.offset, this.#srcFor(rec.path, rec.source), false);
      });
    }
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
    const rec = this.#saved.take((r) => r.dev === st.dev && r.ino === st.ino);
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
        this.#saved.gone(rec);
        this.#o.log.info('following new file from its start', { path });
        return;
      }
      // Same inode, other content: truncated (copytruncate) while we were down, or a reused inode.
      this.#o.log.info('file was truncated or replaced while stopped; reading it from the start', { path });
      recoverCopy(this.#rotation, rec, saved, src, st.ino);
      return;
    }
    let offset = 0;
    if (mode === 'start' && !this.#saved.savedAt(path) && this.#o.startAt === 'end') {
      offset = this.#tailOffset(fd, st.size);
    }
    this.#track(path, fd, st, fp, offset, this.#srcFor(path), true);
    if (this.#saved.savedAt(path)) this.#o.log.info('file replaced while stopped; reading the new one from its start', { path });
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
    if (unchanged(t, st)) return false;
    this.#version++;
    noteChange(t, st, this.#rotation, () => this.#o.now());
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
    return [...this.#files.values()].map(recordOf);
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
    return this.#saved.restored;
  }
}
