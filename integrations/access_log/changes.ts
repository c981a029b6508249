/**
 * What changed since the last poll, without looking at every file: with a glob of 10,000 files,
 * re-listing the directories and stat-ing every file four times a second cost 40 % of a core
 * while nothing was written.
 *
 * - The glob's expansion only changes when a directory it depends on changes (a file created,
 *   renamed or deleted updates the directory's mtime), so it is redone only then. An mtime too
 *   close to the moment it was read is not trusted (coarse filesystem clocks), and the whole
 *   expansion is redone every FULL_RESCAN_MS anyway (a new file in a subdirectory that matched
 *   nothing yet, for a glob with two wildcard levels, is found then — and read from its start).
 * - A file is fstat-ed when inotify (fs.watch on its directory) said it was written, when it is
 *   a rotated file still being drained, when its name is a symlink (writes land elsewhere), and
 *   every file every FULL_CHECK_MS (a safety net: inotify's queue can overflow). On a network
 *   filesystem (NFS, SMB, FUSE, 9p…) other machines' writes raise no inotify event, so such a
 *   directory is treated as unwatchable, like one inotify refuses: every file is fstat-ed on
 *   every poll, as before.
 */
import { statfsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';

/** How often every tracked file is fstat-ed even without an inotify event. */
export const FULL_CHECK_MS = 60_000;
/** How often the glob is expanded even when no directory it depends on changed. */
export const FULL_RESCAN_MS = 60_000;

/**
 * statfs f_type of filesystems where inotify misses writes made elsewhere: NFS, SMB/CIFS (3
 * magics), FUSE (sshfs, s3fs…), 9p (VM shares), Ceph, AFS, GFS2, OCFS2, Lustre.
 */
const REMOTE_FS = new Set([0x6969, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997, 0x00c36400, 0x5346414f, 0x01161970, 0x7461636f, 0x0bd00bd0]);
/** A directory mtime this close to when it was read may hide a change made in the same tick. */
const RACY_MS = 2000;

export class ChangeWatch {
  /** Directory → mtime when the expansion was made (NaN: not trusted, rescan next time). */
  #dirs = new Map<string, number>();
  #expandedAt = -Infinity;
  #checkedAllAt = -Infinity;
  readonly #watchers = new Map<string, FSWatcher | undefined>();
  /** Paths inotify reported since the last poll began, and those this poll works from. */
  #dirty = new Set<string>();
  /** Paths to fstat on every poll (symlinks). */
  readonly #always = new Set<string>();
  /** Full expansions made (diagnostics and tests). */
  expansions = 0;
  /** fstat checks made by readAll (diagnostics and tests). */
  checks = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** True when the last expansion is still what a new one would find. */
  expansionValid(): boolean {
    if (this.#now() - this.#expandedAt >= FULL_RESCAN_MS || this.#dirs.size === 0) return false;
    for (const [dir, mtime] of this.#dirs) {
      try {
        if (statSync(dir).mtimeMs !== mtime) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  /**
   * Records the directories an expansion depended on: each pattern's fixed prefix and every
   * directory between it and each path found.
   */
  expanded(prefixes: readonly string[], paths: Iterable<string>): void {
    this.expansions++;
    const at = this.#now();
    const dirs = new Set(prefixes);
    for (const p of paths) {
      let base = dirname(p);
      for (const pre of prefixes) if (p.startsWith(pre) && pre.length < base.length) base = pre;
      for (let d = dirname(p); d.length >= base.length; d = dirname(d)) {
        dirs.add(d);
        if (d === dirname(d)) break;
      }
    }
    this.#dirs = new Map();
    for (const d of dirs) {
      let mtime = NaN;
      try {
        mtime = statSync(d).mtimeMs;
      } catch {
        // missing: NaN makes the next poll expand again (it may appear).
      }
      this.#dirs.set(d, at - mtime >= RACY_MS ? mtime : NaN);
    }
    this.#expandedAt = at;
  }

  /** Starts following writes in `path`'s directory (once per directory). */
  follow(path: string, isSymlink: boolean): void {
    if (isSymlink) this.#always.add(path);
    const dir = dirname(path);
    if (this.#watchers.has(dir)) return;
    try {
      if (REMOTE_FS.has(statfsSync(dir).type)) {
        this.#watchers.set(dir, undefined);
        return;
      }
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (name) this.#dirty.add(join(dir, name.toString()));
      });
      // ENOSPC (inotify limits), a directory removed: fall back to fstat-ing its files every poll.
      w.on('error', () => {
        w.close();
        this.#watchers.set(dir, undefined);
      });
      this.#watchers.set(dir, w);
    } catch {
      this.#watchers.set(dir, undefined);
    }
  }

  forget(path: string): void {
    this.#always.delete(path);
  }

  /**
   * Starts a poll: returns the paths to fstat (written since the last poll, or symlinks), or
   * undefined when every file must be (a full pass, or a directory that cannot be watched).
   * Writes during this poll go to the next one. Rotated files being drained are the caller's.
   */
  beginPoll(): Set<string> | undefined {
    const written = this.#dirty;
    this.#dirty = new Set();
    const t = this.#now();
    let unwatched = false;
    for (const w of this.#watchers.values()) if (w === undefined) unwatched = true;
    if (unwatched || t - this.#checkedAllAt >= FULL_CHECK_MS) {
      this.#checkedAllAt = t;
      return undefined;
    }
    for (const p of this.#always) written.add(p);
    return written;
  }

  /** A file to check on the next poll: its budget ran out, or it was just found. */
  again(path: string): void {
    this.#dirty.add(path);
  }

  close(): void {
    for (const w of this.#watchers.values()) w?.close();
    this.#watchers.clear();
  }
}
