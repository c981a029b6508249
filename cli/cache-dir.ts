/**
 * Where the command keeps what it can rebuild: V8's compile cache and parsed configs. The
 * directory is the user's own (`$TELLTALE_CACHE_DIR`, else `$XDG_CACHE_HOME/telltale`, else
 * `~/.cache/telltale`); a directory in a shared place (the system temporary directory when there
 * is no home) is used only if it is a real directory owned by this user that nobody else can
 * write to, since whoever can write the compile cache can run code as us and whoever can write
 * the config cache can change what we run. Any problem, and the command simply runs uncached.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

function baseDir(env: NodeJS.ProcessEnv): string {
  const own = env['TELLTALE_CACHE_DIR'];
  if (own) return own;
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && xdg.startsWith('/')) return join(xdg, 'telltale');
  let home = '';
  try {
    home = homedir();
  } catch {
    // No passwd entry and no HOME (a bare container user): fall through to the shared place.
  }
  if (home && home !== '/') return join(home, '.cache', 'telltale');
  return join(tmpdir(), `telltale-cache-${process.getuid?.() ?? 'user'}`);
}

/** A directory only this user can write to: not a symlink, owned by us, no group/other write. */
function safe(dir: string): boolean {
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  return st.isDirectory() && !st.isSymbolicLink() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

/** `<cache>/<name>`, created 0700 with its parent; undefined when it cannot be made safe. */
export function cacheSubdir(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const base = baseDir(env);
    mkdirSync(base, { recursive: true, mode: 0o700 });
    if (!safe(base)) return undefined;
    const dir = join(base, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return safe(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}
