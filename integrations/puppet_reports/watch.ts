/**
 * One chokidar watcher: new and changed files that `ignored` lets through go to `accept`, once
 * they have stopped changing for `settleMs` (Puppet writes a temp file and renames it, but an
 * NFS reportdir or a copy can show a file while it grows).
 */
import type { Stats } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';

export interface WatchOptions {
  depth: number;
  ignored: (path: string, stats?: Stats) => boolean;
  /** Poll instead of inotify (NFS). */
  polling: boolean;
  settleMs: number;
}

/** Resolves with the watcher once its initial scan is done. */
export async function watchFiles(dir: string, o: WatchOptions, accept: (path: string) => void, onError: (e: unknown) => void): Promise<FSWatcher> {
  const w = watch(dir, {
    ignoreInitial: true,
    depth: o.depth,
    usePolling: o.polling,
    ignored: o.ignored,
    ...(o.settleMs > 0 ? { awaitWriteFinish: { stabilityThreshold: o.settleMs, pollInterval: Math.min(50, o.settleMs) } } : {}),
  });
  w.on('add', accept);
  w.on('change', accept);
  w.on('error', onError);
  await new Promise<void>((res) => w.once('ready', () => res()));
  return w;
}
