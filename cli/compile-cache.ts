/**
 * V8's on-disk compile cache for the command (Node >= 22): every cron run, supervisord restart
 * and `check` then skips compiling the same JavaScript again. The directory is the user's own
 * (`$TELLTALE_COMPILE_CACHE`, else `$XDG_CACHE_HOME/telltale/compile-cache`, else
 * `~/.cache/telltale/compile-cache`), created 0700; a directory in a shared place (the system
 * temporary directory when there is no home) is used only if it is a real directory owned by
 * this user that nobody else can write to, since whoever can write the cache can run code as us.
 * Any problem, or Node 20, and the command simply runs uncached.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** `module.enableCompileCache`, which Node 20's types (and runtime) do not have. */
type EnableCompileCache = (dir: string) => { status: number; message?: string; directory?: string };

function cacheDir(env: NodeJS.ProcessEnv): string {
  const own = env['TELLTALE_COMPILE_CACHE'];
  if (own) return own;
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && xdg.startsWith('/')) return join(xdg, 'telltale', 'compile-cache');
  let home = '';
  try {
    home = homedir();
  } catch {
    // No passwd entry and no HOME (a bare container user): fall through to the shared place.
  }
  if (home && home !== '/') return join(home, '.cache', 'telltale', 'compile-cache');
  return join(tmpdir(), `telltale-compile-cache-${process.getuid?.() ?? 'user'}`);
}

/** A directory only this user can write to: not a symlink, owned by us, no group/other write. */
function safe(dir: string): boolean {
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  return st.isDirectory() && !st.isSymbolicLink() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

/** Returns the directory in use, or undefined when the command runs without a cache. */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const enable = (nodeModule as unknown as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function' || env['NODE_DISABLE_COMPILE_CACHE']) return undefined;
  try {
    const dir = cacheDir(env);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!safe(dir)) return undefined;
    const r = enable(dir);
    return r.directory;
  } catch {
    return undefined;
  }
}
