/**
 * V8's on-disk compile cache for the command (Node >= 22): every cron run, supervisord restart
 * and `check` then skips compiling the same JavaScript again. It lives in the user's private
 * cache directory (cache-dir.ts). Any problem, or Node 20, and the command simply runs uncached.
 */
import * as nodeModule from 'node:module';
import { cacheSubdir } from './cache-dir.js';

/** `module.enableCompileCache`, which Node 20's types (and runtime) do not have. */
type EnableCompileCache = (dir: string) => { status: number; message?: string; directory?: string };

/** Returns the directory in use, or undefined when the command runs without a cache. */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const enable = (nodeModule as unknown as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function' || env['NODE_DISABLE_COMPILE_CACHE']) return undefined;
  const dir = cacheSubdir('compile-cache', env);
  if (!dir) return undefined;
  try {
    return enable(dir).directory;
  } catch {
    return undefined;
  }
}
