/**
 * Tests that need a real server binary skip with a loud reason on a developer laptop without it,
 * but with CI=true a missing binary is a failure, never a skip.
 */
import { execFileSync } from 'node:child_process';

export function findBinary(name: string): string | undefined {
  try {
    const out = execFileSync('sh', ['-c', `command -v ${JSON.stringify(name)}`], { encoding: 'utf8' }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns the binary's path, or undefined after printing a loud skip reason. Throws under CI.
 * Use with `describe.skipIf(!bin)` or `it.skipIf(!bin)`.
 */
export function requireBinary(name: string, installHint: string): string | undefined {
  const path = findBinary(name);
  if (path) return path;
  const msg = `${name} not found: ${installHint}`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and ${msg}`);
  process.stderr.write(`\n!!! SKIPPING tests that need ${msg}\n\n`);
  return undefined;
}
