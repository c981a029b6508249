/**
 * Builds dist/ once before the suite, so tests that spawn the real `telltale` command run the
 * code under test. Under CI a failed build fails the run; on a shared developer tree (where
 * someone's half-written file may not compile) it warns loudly and tests spawning dist/ run
 * whatever build is there.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (e) {
    const out = String((e as { stdout?: Buffer }).stdout ?? '') + String((e as { stderr?: Buffer }).stderr ?? '');
    if (process.env['CI'] === 'true') throw new Error(`tsc build failed:\n${out}`);
    process.stderr.write(`\n!!! tsc build FAILED; tests that spawn dist/ use the previous build:\n${out}\n`);
  }
}
