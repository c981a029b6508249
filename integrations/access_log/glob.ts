/**
 * Minimal path globbing: `*`, `?` and `[...]` inside a path segment (never across `/`). Enough for
 * `/var/log/nginx/*.access.log` or a `*` directory level; no `**`, so a pattern cannot wander
 * into rotated-file archives by accident.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const MAGIC = /[*?[]/;

export function hasMagic(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/** The directory a pattern's expansion starts from (its part before the first wildcard). */
export function expansionRoot(pattern: string): string {
  const segs = pattern.split('/');
  const i = segs.findIndex(hasMagic);
  return i < 0 ? dirname(pattern) : segs.slice(0, i).join('/') || '/';
}

/** A regex for one path segment (or a whole path: `*` never matches `/`). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close === -1) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Directories that are simply not there: their files are none. Any other error is not "empty". */
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);

export interface GlobResult {
  paths: string[];
  /**
   * Directories that could not be read for another reason (EMFILE, EACCES, EIO…): what they hold
   * is unknown, so a caller must not take files it follows there as gone.
   */
  errors: { dir: string; message: string }[];
}

/** Files matching an absolute pattern, sorted; missing directories hold none, failing ones are reported. */
export function expandGlob(pattern: string): GlobResult {
  const errors: GlobResult['errors'] = [];
  if (!hasMagic(pattern)) return { paths: [pattern], errors };
  const segments = pattern.split('/');
  let bases = [segments[0] === '' ? '/' : segments[0]!];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '') continue;
    const next: string[] = [];
    if (!hasMagic(seg)) {
      for (const b of bases) next.push(join(b, seg));
    } else {
      const re = globToRegExp(seg);
      for (const b of bases) {
        let names: string[];
        try {
          names = readdirSync(b);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          if (!ABSENT.has(code)) errors.push({ dir: b, message: (e as Error).message });
          continue;
        }
        for (const n of names) if (re.test(n) && (n[0] !== '.' || seg[0] === '.')) next.push(join(b, n));
      }
    }
    bases = next;
  }
  // The caller stats every result anyway (identity), and skips what is not a regular file.
  return { paths: bases.sort(), errors };
}
