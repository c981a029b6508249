/**
 * Builds dist/ once before the suite, so tests that spawn the real `telltale` command run the
 * code under test. Under CI a failed build fails the run; on a shared developer tree (where
 * someone's half-written file may not compile) it warns loudly and tests spawning dist/ run
 * whatever build is there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  // Build beside dist/ and swap it in: another test run on the same tree may be spawning the
  // CLI from dist/ right now, and must never see a half-written build.
  const tmp = join(root, `dist.build-${process.pid}`);
  const old = join(root, `dist.old-${process.pid}`);
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', tmp], { cwd: root, stdio: 'pipe' });
    const dist = join(root, 'dist');
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(tmp, dist);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const out = String((e as { stdout?: Buffer }).stdout ?? '') + String((e as { stderr?: Buffer }).stderr ?? '');
    if (process.env['CI'] === 'true') throw new Error(`tsc build failed:\n${out}`);
    process.stderr.write(`\n!!! tsc build FAILED; tests that spawn dist/ use the previous build:\n${out}\n`);
  }
}
