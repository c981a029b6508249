/**
 * Minimal path globbing: `*`, `?` and `[...]` inside a path segment (never across `/`). Enough for
 * `/var/log/nginx/*.access.log` or a `*` directory level; no `**`, so a pattern cannot wander
 * into rotated-file archives by accident.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const MAGIC = /[*?[]/;

export function hasMagic(pattern: string): boolean {
  return MAGIC.test(pattern);
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

/** Files matching an absolute pattern, sorted; unreadable directories are skipped. */
export function expandGlob(pattern: string): string[] {
  if (!hasMagic(pattern)) return [pattern];
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
        } catch {
          continue;
        }
        for (const n of names) if (re.test(n) && (n[0] !== '.' || seg[0] === '.')) next.push(join(b, n));
      }
    }
    bases = next;
  }
  // The caller stats every result anyway (identity), and skips what is not a regular file.
  return bases.sort();
}
