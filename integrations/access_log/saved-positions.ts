/**
 * The positions a state file held, from the restart until the first complete scan has matched
 * each to a file: by identity at a glob path (the Tailer), or next to its old path after a
 * rotation while stopped. Whatever matches nothing is gone, and is judged here.
 */
import type { Stats } from 'node:fs';
import type { Logger } from '../../shared/core/log/logger.js';
import { findCandidate, type RotationContext } from './rotated-files.js';
import type { FileRecord, LoadResult } from './state.js';
import type { SourceStats } from './stats.js';
import type { Tracked } from './tracked-file.js';

/** What is saved of a followed file, to find it again after a restart. */
export function recordOf(t: Tracked): FileRecord {
  return {
    path: t.path,
    dev: t.dev,
    ino: t.ino,
    fp: t.fp.toString('base64'),
    offset: t.offset,
    source: t.src.name,
    size: t.lastSize,
    rotated: !t.live,
  };
}

export class SavedPositions {
  readonly #log: Logger;
  readonly #startAt: 'end' | 'beginning';
  /** The source a saved file counts in (its saved name unless the config fixes one). */
  readonly #srcFor: (path: string, saved: string) => SourceStats;
  /** Records from the state file not yet matched to a file (first scan only). */
  #pending: FileRecord[] = [];
  #pendingPaths = new Set<string>();
  #hadState = false;

  constructor(log: Logger, startAt: 'end' | 'beginning', srcFor: (path: string, saved: string) => SourceStats) {
    this.#log = log;
    this.#startAt = startAt;
    this.#srcFor = srcFor;
  }

  /** Use a loaded state file. Must be called before the first scan. */
  restore(state: LoadResult): void {
    if (state.kind === 'corrupt') {
      this.#log.warn(`state file unusable (${state.reason}); starting without saved positions`, {
        start_at: this.#startAt,
      });
      return;
    }
    if (state.kind === 'missing') return;
    this.#hadState = true;
    this.#pending = [...state.doc.files];
    this.#pendingPaths = new Set(state.doc.files.map((f) => f.path));
  }

  /** The first pending record `pred` accepts, no longer pending. */
  take(pred: (r: FileRecord) => boolean): FileRecord | undefined {
    const i = this.#pending.findIndex(pred);
    if (i < 0) return undefined;
    const [r] = this.#pending.splice(i, 1);
    return r;
  }

  /** Was a file saved at `path`? (Then a file there that matches no record replaced it.) */
  savedAt(path: string): boolean {
    return this.#pendingPaths.has(path);
  }

  /**
   * Saved files no glob path leads to any more were rotated while we were stopped: find them by
   * identity next to their old path (access.log.1, access.log-20240101) and hand each to `drain`
   * to be finished. Once, after the first complete scan.
   */
  resumeUnmatched(ctx: RotationContext, drain: (found: { path: string; fd: number; st: Stats }, rec: FileRecord) => void): void {
    const recs = this.#pending;
    this.#pending = [];
    for (const rec of recs) {
      const saved = Buffer.from(rec.fp, 'base64');
      const found = findCandidate(ctx, rec.path, saved, rec.offset, (st) => st.dev === rec.dev && st.ino === rec.ino);
      if (!found) {
        this.gone(rec);
        continue;
      }
      drain(found, rec);
      if (rec.rotated === true) {
        // Rotated (and counted) before the restart: we only go on draining it.
        this.#log.info('still draining a file rotated before the restart', { path: found.path, was: rec.path, offset: rec.offset });
      } else {
        this.#srcFor(rec.path, rec.source).rotated();
        this.#log.info('resuming a file rotated while stopped', { path: found.path, was: rec.path, offset: rec.offset });
      }
    }
    this.#hadState = this.#hadState || recs.length > 0;
  }

  /** A saved file is nowhere to be found: lines after its saved position are lost, if it had any. */
  gone(rec: FileRecord): void {
    if (rec.rotated === true && rec.size !== undefined && rec.offset >= rec.size) {
      // Already rotated and read to its end when we stopped (the server had reopened its log):
      // logrotate compressed or deleted it since. Nothing was left to read.
      this.#log.info('a rotated file read to its end is gone (compressed or removed); nothing lost', { path: rec.path });
      return;
    }
    this.#log.warn('a file followed before the restart is gone; lines after the saved position are lost', {
      path: rec.path,
      offset: rec.offset,
    });
    this.#srcFor(rec.path, rec.source).gap();
  }

  /** True when a state file existed (restart) — for logs. */
  get restored(): boolean {
    return this.#hadState;
  }
}
