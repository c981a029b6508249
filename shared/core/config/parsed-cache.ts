/**
 * A cache of parsed configs: the plain data the YAML parser made of a given text, so a one-shot
 * run (cron, supervisord restarts, `telltale host --once`) with an unchanged file skips loading
 * and running the parser. Validation still runs on every start; only the parse is reused.
 *
 * An entry is found by the hash of the text and a salt naming every version that shapes the
 * result (telltale, the yaml package, this loader's build), so it can never answer for another
 * text or another parser. What it stores is exactly what the parse returned: a value JSON cannot
 * carry as is (±Infinity, NaN, -0, a `__proto__` key) is simply not cached. Data taken from the
 * environment (`${VAR}`) is never cached: it may be a secret, and it changes without the file.
 * Every failure (unreadable, corrupt, foreign entry, full disk) is a miss, never an error.
 */
import { createHash } from 'node:crypto';
import { readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFileSync } from '../fs/regular-file.js';

/** Entries kept; the oldest go first. A host has a config or two, a test run hundreds. */
export const MAX_ENTRIES = 32;
/** Largest entry written or read: alias expansion can make the data much larger than the text. */
export const MAX_ENTRY_BYTES = 8 * 1024 * 1024;
/** Bumped when the entry format or what a parse yields changes without a version change. */
const FORMAT = 'parsed-config-1';

export interface ParsedConfigCache {
  /** The data parsed from exactly this text before, or undefined. */
  get(text: string): unknown;
  /** Remembers the data parsed from this text (a copy: later changes to `value` are not kept). */
  set(text: string, value: unknown): void;
}

interface Entry {
  format: string;
  key: string;
  value: unknown;
}

/** True when JSON.parse(JSON.stringify(v)) gives back exactly v. */
function jsonExact(v: unknown, depth = 0): boolean {
  if (depth > 1000) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every((x) => jsonExact(x, depth + 1));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) if (k === '__proto__' || !jsonExact(x, depth + 1)) return false;
    return true;
  }
  return false;
}

export function openParsedConfigCache(dir: string, salt: string): ParsedConfigCache {
  const keyOf = (text: string): string => createHash('sha256').update(FORMAT).update('\0').update(salt).update('\0').update(text).digest('hex');
  const pathOf = (key: string): string => join(dir, `${key.slice(0, 32)}.json`);
  return {
    get(text) {
      const key = keyOf(text);
      try {
        const entry = JSON.parse(readRegularFileSync(pathOf(key), MAX_ENTRY_BYTES).data.toString('utf8')) as Entry;
        return entry.format === FORMAT && entry.key === key ? entry.value : undefined;
      } catch {
        return undefined;
      }
    },
    set(text, value) {
      if (!jsonExact(value)) return;
      const key = keyOf(text);
      const json = JSON.stringify({ format: FORMAT, key, value } satisfies Entry);
      if (json.length > MAX_ENTRY_BYTES) return;
      const path = pathOf(key);
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        // Written aside and renamed: a reader sees the whole entry or none.
        writeFileSync(tmp, json, { mode: 0o600 });
        renameSync(tmp, path);
        evict(dir);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // Never written.
        }
      }
    },
  };
}

function evict(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const aged = names.map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
  for (const { n } of aged.slice(0, aged.length - MAX_ENTRIES)) unlinkSync(join(dir, n));
}
