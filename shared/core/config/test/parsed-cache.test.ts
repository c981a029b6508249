import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigText, type LoadOptions } from '../load.js';
import { MAX_ENTRIES, openParsedConfigCache, type ParsedConfigCache } from '../parsed-cache.js';
import { int, obj, str } from '../schema.js';
import { defineIntegration, type IntegrationDefinition, type Shape } from '../../integration.js';

const poll = defineIntegration({
  type: 'poller',
  summary: 'test poller',
  mode: 'poller',
  defaultPrefix: 'poll',
  schema: obj({ limit: int({ min: 1 }).default(10), token: str().optional() }),
  metrics: [],
  create: () => ({ once: async () => {}, stop: async () => {} }),
});
const registry = [poll] as unknown as IntegrationDefinition<Shape>[];

const root = mkdtempSync(join(tmpdir(), 'telltale-parsed-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => {
  const d = join(root, String(n++));
  rmSync(d, { recursive: true, force: true });
  return d;
};

/** A cache that counts its hits, over a directory of its own. */
function counting(dir: string, salt = 'test'): ParsedConfigCache & { hits: number; dir: string } {
  mkdirSync(dir, { recursive: true });
  const inner = openParsedConfigCache(dir, salt);
  const c = {
    hits: 0,
    dir,
    get: (t: string) => {
      const v = inner.get(t);
      if (v !== undefined) c.hits++;
      return v;
    },
    set: (t: string, v: unknown) => inner.set(t, v),
  };
  return c;
}

const TEXT = 'log_level: debug\nintegrations:\n  poller:\n    limit: 3\n  other:\n    type: poller\n    interval: 5s\n';
const load = (text: string, cache?: ParsedConfigCache, env: NodeJS.ProcessEnv = {}): ReturnType<typeof loadConfigText> =>
  loadConfigText('integrations.yaml', text, { registry, env, hostname: 'web01', ...(cache ? { cache } : {}) } satisfies LoadOptions);

function problems(text: string, cache?: ParsedConfigCache): string[] {
  try {
    load(text, cache);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

/** What a loaded config says, without its functions. */
const plain = (c: ReturnType<typeof load>): unknown => JSON.parse(JSON.stringify({ ...c, describe: undefined, integrations: c.integrations.map((i) => ({ ...i, definition: i.definition.type })) }));

describe('parsed-config cache', () => {
  it('a second load of the same text comes from the cache and equals the parsed one', () => {
    const cache = counting(freshDir());
    const first = load(TEXT, cache);
    expect(cache.hits).toBe(0);
    expect(readdirSync(cache.dir)).toHaveLength(1);
    const second = load(TEXT, cache);
    expect(cache.hits).toBe(1);
    expect(plain(second)).toEqual(plain(first));
    expect(plain(second)).toEqual(plain(load(TEXT)));
  });

  it('a cached text with a mistake reports it at the same FILE:LINE:COL as a parse would', () => {
    const bad = 'integrations:\n  poller:\n    limit: 0\n  other:\n    type: poller\n    limit: many\n';
    const cache = counting(freshDir());
    const uncached = problems(bad);
    expect(uncached).toHaveLength(2);
    expect(problems(bad, cache)).toEqual(uncached);
    expect(problems(bad, cache)).toEqual(uncached);
    expect(cache.hits).toBe(1);
  });

  it('describe() of a config read from the cache places a later problem (create()) by position', () => {
    const cache = counting(freshDir());
    load(TEXT, cache);
    const c = load(TEXT, cache);
    expect(cache.hits).toBe(1);
    expect(c.describe({ path: ['integrations', 'other', 'interval'], message: 'too fast' })).toBe('integrations.yaml:7:15: integrations.other.interval: too fast');
  });

  it('a changed text, another salt (another parser) or a foreign entry is a miss', () => {
    const dir = freshDir();
    const cache = counting(dir);
    load(TEXT, cache);
    load(TEXT.replace('limit: 3', 'limit: 4'), cache);
    expect(cache.hits).toBe(0);
    expect(load(TEXT.replace('limit: 3', 'limit: 4'), cache).integrations[0]?.settings['limit']).toBe(4);
    const other = counting(dir, 'another yaml version');
    load(TEXT, other);
    expect(other.hits).toBe(0);
    // An entry whose key is not the one asked for (a copied file, a collision) is not used.
    const [a, b] = readdirSync(dir).filter((f) => f.endsWith('.json'));
    writeFileSync(join(dir, b!), readFileSync(join(dir, a!)));
    const again = counting(dir);
    const names = [TEXT, TEXT.replace('limit: 3', 'limit: 4')].map((t) => load(t, again).integrations[0]?.settings['limit']);
    expect(names).toEqual([3, 4]);
  });

  it('a corrupt or unreadable entry is a miss, and is written again', () => {
    const cache = counting(freshDir());
    load(TEXT, cache);
    const [f] = readdirSync(cache.dir);
    writeFileSync(join(cache.dir, f!), '{"format":"parsed-config-1","key":');
    expect(plain(load(TEXT, cache))).toEqual(plain(load(TEXT)));
    expect(cache.hits).toBe(0);
    load(TEXT, cache);
    expect(cache.hits).toBe(1);
  });

  it('values from the environment are never written to disk', () => {
    const cache = counting(freshDir());
    const text = 'integrations:\n  poller:\n    token: ${SECRET_TOKEN}\n';
    const c = load(text, cache, { SECRET_TOKEN: 's3cr3t' });
    expect(c.integrations[0]?.settings['token']).toBe('s3cr3t');
    expect(readdirSync(cache.dir)).toEqual([]);
    expect(load(text, cache, { SECRET_TOKEN: 'other' }).integrations[0]?.settings['token']).toBe('other');
  });

  it('data JSON cannot carry exactly (.inf, .nan, -0) is not cached', () => {
    const cache = counting(freshDir());
    for (const v of ['.inf', '-.inf', '.nan', '-0']) {
      cache.set(`x: ${v}`, { x: Number(v.replace('.inf', 'Infinity').replace('.nan', 'NaN')) });
    }
    expect(readdirSync(cache.dir)).toEqual([]);
    cache.set('x: 1', { x: 1 });
    expect(readdirSync(cache.dir)).toHaveLength(1);
  });

  it(`keeps at most ${MAX_ENTRIES} entries, dropping the oldest`, () => {
    const cache = counting(freshDir());
    const seen = new Set<string>();
    for (let i = 0; i < MAX_ENTRIES + 5; i++) {
      cache.set(`n: ${i}`, { n: i });
      // Each new entry a second younger than the last, whatever the file system's resolution.
      for (const f of readdirSync(cache.dir)) if (!seen.has(f)) utimesSync(join(cache.dir, f), 1000 + i, 1000 + i), seen.add(f);
    }
    expect(readdirSync(cache.dir)).toHaveLength(MAX_ENTRIES);
    const kept = Array.from({ length: MAX_ENTRIES + 5 }, (_, i) => cache.get(`n: ${i}`) !== undefined);
    expect(kept).toEqual(Array.from({ length: MAX_ENTRIES + 5 }, (_, i) => i >= 5));
  });
});
