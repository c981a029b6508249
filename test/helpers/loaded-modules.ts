/**
 * Runs a Node program and records every module it loads: what the ESM loader resolves (a
 * `module.register` resolve hook, so static and dynamic imports, built-ins included) and what
 * CommonJS loaded (`require.cache` at exit, which the ESM hook does not see on Node 20). Works
 * the same on Node 20, 22 and 24, and through `process.exit()`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoadedModules {
  /** Absolute paths of every file loaded, ESM and CommonJS, sorted. */
  files: string[];
  /** Built-in modules imported through the ESM loader (`node:fs`, ...), sorted. */
  builtins: string[];
  /** Names of the packages under some node_modules/ that those files belong to, sorted. */
  packages: string[];
  status: number | string;
  stdout: string;
  stderr: string;
}

// Runs off-thread on Node 20-24: it can only append to a file, which it does synchronously so
// every line is written before the import it describes completes.
const HOOKS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(out, r.url + '\\n');
  return r;
}`;

const PRELOAD = `
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
const out = process.env.TELLTALE_LOADED_MODULES_OUT;
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}), { data: { out } });
// One cache for every require(); a data: URL cannot anchor createRequire, any path can.
const cache = createRequire(process.cwd() + '/').cache;
process.on('exit', () => appendFileSync(out, Object.keys(cache).map((f) => f + '\\n').join('')));
`;

/** The package a file belongs to, from its last node_modules/ segment (`@scope/name` or `name`). */
export function packageOf(file: string): string | undefined {
  const marker = `${sep}node_modules${sep}`;
  const i = file.lastIndexOf(marker);
  if (i < 0) return undefined;
  const parts = file.slice(i + marker.length).split(sep);
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/**
 * Spawns `node <nodeArgs>` (e.g. `['script.mjs']`, `['-e', code]`, `[cli, 'check']`) with the
 * recorder preloaded, waits for it to exit (killed after `timeoutMs`) and returns what it loaded.
 */
export async function recordLoadedModules(
  nodeArgs: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; node?: string } = {},
): Promise<LoadedModules> {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-loaded-'));
  const out = join(dir, 'loaded.txt');
  try {
    const child = spawn(opts.node ?? process.execPath, ['--import', 'data:text/javascript,' + encodeURIComponent(PRELOAD), ...nodeArgs], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env, TELLTALE_LOADED_MODULES_OUT: out },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    const status = await new Promise<number | string>((resolve) => child.on('close', (code, sig) => resolve(code ?? sig ?? -1)));
    clearTimeout(timer);
    let lines: string[];
    try {
      lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    } catch (e) {
      throw new Error(`nothing recorded (exit ${status}): ${(e as Error).message}\n${stderr}`);
    }
    const files = new Set<string>();
    const builtins = new Set<string>();
    for (const l of lines) {
      if (l.startsWith('file:')) files.add(fileURLToPath(l));
      else if (l.startsWith('node:')) builtins.add(l);
      else if (l.startsWith('/')) files.add(l);
      // data: URLs are the recorder itself.
    }
    const packages = new Set([...files].map(packageOf).filter((p): p is string => p !== undefined));
    return { files: [...files].sort(), builtins: [...builtins].sort(), packages: [...packages].sort(), status, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
