/**
 * Shared test plumbing: build an instance from raw YAML-like config through the real schema, and
 * the real data set, copied byte for byte from ../shared/data/accesslog into fixtures/ so a clean
 * clone anywhere has it (provenance and licence in fixtures/SOURCE.md).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate } from '../../../shared/core/config/schema.js';
import type { Integration } from '../../../shared/core/integration.js';
import { testContext, type TestContext } from '../../../test/helpers/context.js';
import { accessLog } from '../index.js';

export const DATA_DIR = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const REAL_LOG = join(DATA_DIR, 'elastic-examples-apache_logs.log');
export const TRICKY = join(DATA_DIR, 'tricky-lines.log');

export function requireData(): void {
  if (!existsSync(REAL_LOG)) throw new Error(`shared data missing: ${REAL_LOG} (integrations/access_log/test/fixtures/ is part of the repository)`);
}

export interface Instance extends TestContext {
  integ: Integration;
}

export function instance(raw: Record<string, unknown>, o: { stateDir?: string; name?: string } = {}): Instance {
  const v = validate(accessLog.schema, raw);
  if ('issues' in v) throw new Error(`config invalid: ${JSON.stringify(v.issues)}`);
  const tc = testContext({ name: o.name ?? 'web', type: 'access_log', ...(o.stateDir ? { stateDir: o.stateDir } : {}) });
  return { ...tc, integ: accessLog.create(v.value, tc.ctx) };
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-al-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Counter totals under a source, without the source prefix: { requests: 10, 'status.2xx': 9, … }. */
export function totals(i: Instance, src: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of i.sink.counters()) if (k.startsWith(`${src}.`)) out[k.slice(src.length + 1)] = v;
  return out;
}
