/**
 * ctx.state: one format (an envelope around the integration's document), atomic durable writes,
 * old bare documents still readable, and hostile files (a FIFO, a directory, an oversized file,
 * garbage) reported as unusable, never read as "no state" and never blocking.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStateFiles, MAX_STATE_BYTES } from '../state-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function files(): { dir: string; state: ReturnType<typeof createStateFiles> } {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-statefiles-'));
  dirs.push(dir);
  return { dir, state: createStateFiles(join(dir, 'web'), { type: 'access_log', instance: 'web' }) };
}

describe('state files', () => {
  it('writes one format (sync and async), creating the directory, leaving no temp file', async () => {
    const { dir, state } = files();
    state.writeSync('a.json', { version: 1, files: [] });
    await state.write('b.json', { version: 1, hosts: { x: 'y' } });
    expect(JSON.parse(readFileSync(join(dir, 'web', 'a.json'), 'utf8'))).toEqual({
      telltale_state: 1,
      type: 'access_log',
      instance: 'web',
      data: { version: 1, files: [] },
    });
    expect(readdirSync(join(dir, 'web')).sort()).toEqual(['a.json', 'b.json']);
    expect(state.readSync('a.json')).toEqual({ kind: 'ok', data: { version: 1, files: [] }, legacy: false });
    expect(await state.read('b.json')).toEqual({ kind: 'ok', data: { version: 1, hosts: { x: 'y' } }, legacy: false });
  });

  it('serializes async writes to one file: the last one wins', async () => {
    const { state } = files();
    await Promise.all(Array.from({ length: 20 }, (_, i) => state.write('c.json', { n: i })));
    expect(await state.read('c.json')).toMatchObject({ kind: 'ok', data: { n: 19 } });
  });

  it('reads a bare document (the format older versions wrote) as legacy data; an absolute name is used as is', async () => {
    const { dir, state } = files();
    const old = join(dir, 'offsets.json');
    writeFileSync(old, '{"version":1,"files":[]}');
    expect(state.path(old)).toBe(old);
    expect(state.readSync(old)).toEqual({ kind: 'ok', data: { version: 1, files: [] }, legacy: true });
    expect(await state.read(old)).toEqual({ kind: 'ok', data: { version: 1, files: [] }, legacy: true });
  });

  it('missing is missing; garbage, a future format, a directory, a FIFO and an oversized file are corrupt', async () => {
    const { dir, state } = files();
    expect(state.readSync('none.json')).toEqual({ kind: 'missing' });
    expect(await state.read('none.json')).toEqual({ kind: 'missing' });
    mkdirSync(join(dir, 'web'), { recursive: true });
    writeFileSync(join(dir, 'web', 'bad.json'), '{"version":1,"files":[{"path":');
    writeFileSync(join(dir, 'web', 'future.json'), '{"telltale_state":2,"data":{}}');
    mkdirSync(join(dir, 'web', 'dir.json'));
    execFileSync('mkfifo', [join(dir, 'web', 'fifo.json')]);
    writeFileSync(join(dir, 'web', 'big.json'), '');
    truncateSync(join(dir, 'web', 'big.json'), MAX_STATE_BYTES + 1);
    const expected: Record<string, RegExp> = {
      'bad.json': /^not JSON/,
      'future.json': /unknown state format 2/,
      'dir.json': /not a regular file|EISDIR/,
      'fifo.json': /not a regular file/,
      'big.json': /larger than/,
    };
    for (const [name, reason] of Object.entries(expected)) {
      for (const r of [state.readSync(name), await state.read(name)]) {
        expect(r.kind, name).toBe('corrupt');
        expect(r.kind === 'corrupt' && r.reason, name).toMatch(reason);
      }
    }
  });
});
