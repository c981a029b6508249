/**
 * Compiles the library entry (shared/library/index.ts and what it imports) into a throwaway
 * `node_modules/telltale` package, so child processes can `import … from 'telltale'` exactly as
 * users do, against the working tree's code. Independent of dist/: a half-written file elsewhere
 * in a shared tree must not make these tests run stale code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../..', import.meta.url));

export interface BuiltPackage {
  /** A directory whose scripts resolve `telltale` to the fresh build. */
  dir: string;
  cleanup(): void;
}

export function buildPackage(): BuiltPackage {
  // Under the repo's node_modules so the build's own imports (ws, yaml…) still resolve.
  const cache = join(REPO, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'telltale-lib-'));
  const pkgDir = join(dir, 'node_modules', 'telltale');
  mkdirSync(pkgDir, { recursive: true });
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(REPO, 'tsconfig.json'),
      compilerOptions: { outDir: join(pkgDir, 'dist'), rootDir: REPO, noEmitOnError: false, sourceMap: false, declaration: false },
      files: [join(REPO, 'shared', 'library', 'index.ts')],
      include: [],
    }),
  );
  try {
    execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { stdio: 'pipe' });
  } catch (e) {
    // Type errors still emit (noEmitOnError off); only a missing output is fatal here.
    const entry = join(pkgDir, 'dist', 'shared', 'library', 'index.js');
    if (!existsSync(entry)) throw new Error(`library build failed:\n${String((e as { stdout?: Buffer }).stdout ?? e)}`);
  }
  // The real package's name, type and exports map, so resolution works as for users.
  const real = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; type: string; exports: unknown };
  writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: real.name, type: real.type, exports: real.exports }));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
