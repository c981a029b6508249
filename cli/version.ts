import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package's version, for `telltale --version`. */
export function version(): string {
  const pkg = fileURLToPath(new URL('../../package.json', import.meta.url));
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
