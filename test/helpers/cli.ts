/**
 * Spawns the built `telltale` command (dist/, built by the global setup) and tracks the child
 * so every test can clean it up by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** Resolves when stderr matches. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>;
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string } = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of [...waiters]) w();
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  // 'close' (not 'exit'): by then stdout and stderr have been read to the end.
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStderr(re, timeoutMs = 15_000) {
      if (re.test(err)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (re.test(err)) {
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`stderr did not match ${re} within ${timeoutMs}ms; stderr:\n${err}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
  };
}
