/**
 * A glob of thousands of files that are not being written (issue 18, degraded): 10,000 files
 * cost 40 % of a core while idle (every poll re-listed the directory and stat-ed every file) and
 * the 2.4 MB state file was rewritten on every flush. Idle must do (next to) nothing, and the
 * state file is written only when a position moved. 2,000 files keep this test quick; the bench
 * measures 10,000.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testContext } from '../../../test/helpers/context.js';
import { until } from '../../../test/helpers/servers.js';
import { compileParser } from '../codegen.js';
import { compileFormat } from '../format.js';
import { MethodTable, newParsedLine, QuoteFinder } from '../parse.js';
import { SourceStats } from '../stats.js';
import { Tailer } from '../tail.js';
import { instance, tempDir } from './harness.js';

const FILES = 2000;
const line = (i: number): string => `10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] "GET /n/${i} HTTP/1.1" 200 10 "-" "t" 0.001 "-"\n`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `FILES` one-line logs in a directory whose mtime is old enough to be trusted. */
function manyLogs(): string {
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const dir = join(tmp.dir, 'logs');
  mkdirSync(dir);
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `site${i}.log`), line(i));
  const past = new Date(Date.now() - 60_000);
  utimesSync(dir, past, past);
  return dir;
}

function tailer(dir: string): { t: Tailer; lines: () => number } {
  const tc = testContext();
  const methods = new MethodTable(['GET']);
  const src = new SourceStats('all', methods, tc.ctx.emitter, undefined, compileFormat('nginx_combined_rt'));
  const t = new Tailer({
    patterns: [join(dir, '*.log')],
    exclude: [],
    sourceName: 'all',
    startAt: 'beginning',
    rotateWaitMs: 60_000,
    scan: { parse: compileParser(compileFormat('nginx_combined_rt')), methods, quotes: new QuoteFinder(), out: newParsedLine(), maxLineBytes: 65536, wantPath: false },
    source: () => src,
    log: tc.ctx.log,
    now: Date.now,
  });
  cleanups.push(() => t.closeAll());
  return { t, lines: () => src.lines };
}

async function poll(t: Tailer): Promise<void> {
  t.scan('start');
  await t.readAll();
}

describe('access_log with thousands of idle files', () => {
  it('idle polls neither re-list the directory nor stat the files; a write is still read at once', async () => {
    const dir = manyLogs();
    const { t, lines } = tailer(dir);
    await poll(t);
    expect(lines()).toBe(FILES);
    expect(t.changes.expansions).toBe(1);
    expect(t.changes.checks).toBe(FILES);
    for (let i = 0; i < 20; i++) await poll(t);
    expect(t.changes.expansions).toBe(1);
    expect(t.changes.checks).toBe(FILES);
    // A write to one file: inotify marks it, and only it is checked.
    appendFileSync(join(dir, 'site7.log'), line(FILES));
    await until(
      async () => {
        await poll(t);
        return lines() === FILES + 1;
      },
      10_000,
      'the appended line',
    );
    expect(t.changes.checks).toBeLessThan(FILES + 10);
    // A rotation changes the directory: the glob is expanded again and the new file followed.
    renameSync(join(dir, 'site3.log'), join(dir, 'site3.log.1'));
    writeFileSync(join(dir, 'site3.log'), line(FILES + 1));
    await until(
      async () => {
        await poll(t);
        return lines() === FILES + 2;
      },
      10_000,
      'the rotated file',
    );
    expect(t.changes.expansions).toBeGreaterThan(1);
  });

  it('the state file is written when positions move, never while idle', async () => {
    const dir = manyLogs();
    const sd = tempDir();
    cleanups.push(() => sd.cleanup());
    const state = join(sd.dir, 'offsets.json');
    const i = instance({ path: join(dir, '*.log'), format: 'nginx_combined_rt', name: 'all', start_at: 'beginning', poll_interval: '20ms', flush_interval: '100ms', state_file: state });
    cleanups.push(() => i.integ.stop());
    await i.integ.start!();
    await until(() => (i.sink.counters().get('all.requests') ?? 0) === FILES, 20_000, 'every file read');
    // Positions are written one flush after their counts: wait for the write that holds them all.
    await until(
      () => {
        try {
          return statSync(state).size > 0 && (JSON.parse(readFileSync(state, 'utf8')) as { data: { files: unknown[] } }).data.files.length === FILES;
        } catch {
          return false;
        }
      },
      20_000,
      'the state file with every file',
    );
    await new Promise((r) => setTimeout(r, 300));
    const before = statSync(state);
    // Ten flush intervals with nothing written to any log.
    await new Promise((r) => setTimeout(r, 1000));
    const idle = statSync(state);
    expect([idle.ino, idle.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    appendFileSync(join(dir, 'site42.log'), line(FILES));
    await until(() => (i.sink.counters().get('all.requests') ?? 0) === FILES + 1, 20_000, 'the new line');
    await until(() => statSync(state).ino !== before.ino, 20_000, 'the state file to be written after a position moved');
  });
});
