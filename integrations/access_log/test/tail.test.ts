/**
 * Rotation, truncation and restart guarantees, on real files in a temp dir. Every line carries
 * its own number as its response time (line i → i ms), so the timer values prove not only how
 * many lines were counted but that each one was counted exactly once.
 */
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instance, tempDir, totals, type Instance } from './harness.js';

const FAST = { format: 'nginx_combined_rt', name: 'web', flush_interval: '100ms', poll_interval: '20ms', rotate_wait: '300ms' };

function line(i: number, status = 200): string {
  return `10.0.${(i >> 8) & 255}.${i & 255} - - [10/Oct/2023:13:55:36 +0000] "GET /n/${i} HTTP/1.1" ${status} 10 "-" "t" ${(i / 1000).toFixed(3)} "-"\n`;
}
function lines(from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += line(i);
  return s;
}
function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, k) => from + k);
}

const requests = (i: Instance): number => i.sink.counters().get('web.requests') ?? 0;
const times = (i: Instance): number[] => [...(i.sink.timings().get('web.response_time') ?? [])].sort((a, b) => a - b);

async function counted(i: Instance, n: number): Promise<void> {
  await i.sink.waitFor(() => requests(i) >= n, 10_000).catch((e: Error) => {
    throw new Error(`${e.message}; counted ${requests(i)} of ${n}; log:\n${i.logs.join('')}`);
  });
}
/** Let three more flushes (and many more polls) pass, so a double count would have shown up. */
async function settle(i: Instance): Promise<void> {
  const flushes = (): number => i.sink.samples.filter((s) => s.kind === 'counter' && s.name === 'web.requests').length;
  const k = flushes();
  await i.sink.waitFor(() => flushes() >= k + 3, 10_000);
}
async function exactly(i: Instance, expected: number[]): Promise<void> {
  await counted(i, expected.length);
  await settle(i);
  expect(requests(i)).toBe(expected.length);
  expect(times(i)).toEqual([...expected].sort((a, b) => a - b));
}

function openFds(target: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(target)) n++;
    } catch {
      /* closed while listing */
    }
  }
  return n;
}

describe('access_log tailing through rotation and restarts', () => {
  let tmp: ReturnType<typeof tempDir>;
  let log: string;
  let stateDir: string;
  const running: Instance[] = [];
  const start = async (extra: Record<string, unknown> = {}): Promise<Instance> => {
    const i = instance({ ...FAST, path: log, ...extra }, { stateDir });
    running.push(i);
    await i.integ.start!();
    return i;
  };

  beforeEach(() => {
    tmp = tempDir();
    log = join(tmp.dir, 'access.log');
    stateDir = join(tmp.dir, 'state');
  });
  afterEach(async () => {
    for (const i of running.splice(0)) await i.integ.stop();
    tmp.cleanup();
  });

  it('T1: counts lines appended while running, each once', async () => {
    writeFileSync(log, '');
    const i = await start();
    for (let k = 0; k < 10; k++) appendFileSync(log, lines(k * 300, 300));
    await exactly(i, range(0, 3000));
  });

  it('start_at: end skips what is already there; beginning reads it', async () => {
    writeFileSync(log, lines(0, 50));
    const a = await start({ start_at: 'end' });
    appendFileSync(log, lines(50, 5));
    await exactly(a, range(50, 5));
    await a.integ.stop();
    rmSync(stateDir, { recursive: true, force: true });
    const b = await start({ start_at: 'beginning' });
    await exactly(b, range(0, 55));
  });

  it('T2: rename rotation — late writes to the renamed file and the new file are all counted once', async () => {
    writeFileSync(log, lines(0, 100));
    const i = await start({ start_at: 'beginning' });
    await counted(i, 100);
    // The web server keeps its descriptor across the rename until it reopens its logs.
    const writer = openSync(log, 'a');
    renameSync(log, `${log}.1`);
    writeSync(writer, lines(100, 50));
    writeFileSync(log, lines(150, 70));
    writeSync(writer, lines(220, 30));
    closeSync(writer);
    await exactly(i, range(0, 250));
    expect(totals(i, 'web')['tailer.rotations']).toBe(1);
    // The drained file is closed once it stays idle for rotate_wait.
    await i.sink.waitFor(() => openFds(`${log}.1`) === 0, 10_000).catch(() => undefined);
    expect(openFds(`${log}.1`)).toBe(0);
  });

  it('T4: copytruncate — lines written after the last read are recovered from the copy', async () => {
    writeFileSync(log, lines(0, 100));
    const i = await start({ start_at: 'beginning' });
    await counted(i, 100);
    // One synchronous block: no poll can run between these, like a copytruncate racing the tailer.
    appendFileSync(log, lines(100, 30));
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, lines(130, 40));
    await exactly(i, range(0, 170));
    const t = totals(i, 'web');
    expect(t['tailer.truncations']).toBe(1);
    expect(t['tailer.recovered_lines']).toBe(30);
    expect(t['tailer.gaps']).toBeUndefined();
  });

  it('T5: copytruncate with the file regrown past the old offset before the next poll (mtail loses these)', async () => {
    writeFileSync(log, lines(0, 100));
    const i = await start({ start_at: 'beginning' });
    await counted(i, 100);
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, lines(100, 300));
    await exactly(i, range(0, 400));
    expect(totals(i, 'web')['tailer.truncations']).toBe(1);
  });

  it('copytruncate whose copy is shorter than what was read (read in the copy-to-truncate window): no false gap', async () => {
    writeFileSync(log, lines(0, 100));
    const i = await start({ start_at: 'beginning' });
    await counted(i, 100);
    // logrotate copied 90 lines; 10 more were written and read before its truncate.
    writeFileSync(`${log}.1`, lines(0, 90));
    truncateSync(log, 0);
    appendFileSync(log, lines(100, 5));
    await exactly(i, range(0, 105));
    const t = totals(i, 'web');
    expect(t['tailer.truncations']).toBe(1);
    expect(t['tailer.gaps']).toBeUndefined();
  });

  it('copytruncate whose copy cannot be found (compressed at once): the gap is counted and logged', async () => {
    writeFileSync(log, lines(0, 100));
    const i = await start({ start_at: 'beginning' });
    await counted(i, 100);
    appendFileSync(log, lines(100, 20)); // never read: lost with the truncation
    writeFileSync(`${log}.1.gz`, 'not a candidate');
    truncateSync(log, 0);
    appendFileSync(log, lines(120, 5));
    await exactly(i, [...range(0, 100), ...range(120, 5)]);
    const t = totals(i, 'web');
    expect(t['tailer.truncations']).toBe(1);
    expect(t['tailer.gaps']).toBe(1);
    expect(i.logs.join('')).toMatch(/no rotated copy found/);
  });

  it('T7: delete and re-create — the new file is read from its start, the deleted one is closed', async () => {
    writeFileSync(log, lines(0, 60));
    const i = await start({ start_at: 'beginning' });
    await counted(i, 60);
    rmSync(log);
    await i.sink.waitFor(() => (i.sink.counters().get('web.tailer.rotations') ?? 0) === 1);
    writeFileSync(log, lines(60, 10));
    await exactly(i, range(0, 70));
    await i.sink.waitFor(() => openFds(`${log} (deleted)`) === 0, 10_000).catch(() => undefined);
    expect(openFds(`${log} (deleted)`)).toBe(0);
    expect(openFds(log)).toBe(1);
  });

  it('T6: a file missing at start is read from its first line when it appears', async () => {
    const i = await start(); // start_at: end, but the file did not exist yet
    await settle(i);
    writeFileSync(log, lines(0, 40));
    await exactly(i, range(0, 40));
  });

  it('T8: clean restart — lines written while stopped are counted once', async () => {
    writeFileSync(log, lines(0, 100));
    const a = await start({ start_at: 'beginning' });
    await counted(a, 100);
    appendFileSync(log, lines(100, 20));
    await counted(a, 120);
    await a.integ.stop();
    appendFileSync(log, lines(120, 30));
    const b = await start({ start_at: 'beginning' });
    await exactly(b, range(120, 30));
    expect(requests(a)).toBe(120);
    const saved = JSON.parse(readFileSync(join(stateDir, 'offsets.json'), 'utf8'));
    expect(saved).toMatchObject({ telltale_state: 1, type: 'access_log', data: { version: 1 } });
    expect(saved.data.files[0].offset).toBe(readFileSync(log).length);
  });

  it('T8b: a state file in the format older versions wrote (a bare document) is resumed from', async () => {
    writeFileSync(log, lines(0, 100));
    const a = await start({ start_at: 'beginning' });
    await counted(a, 100);
    await a.integ.stop();
    const file = join(stateDir, 'offsets.json');
    writeFileSync(file, JSON.stringify(JSON.parse(readFileSync(file, 'utf8')).data));
    appendFileSync(log, lines(100, 30));
    const b = await start({ start_at: 'beginning' });
    await exactly(b, range(100, 30));
  });

  it('T3: restart across a rename rotation — the rest of the old file, then the new one', async () => {
    writeFileSync(log, lines(0, 100));
    const a = await start({ start_at: 'beginning' });
    await counted(a, 100);
    await a.integ.stop();
    appendFileSync(log, lines(100, 50));
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(150, 60));
    const b = await start({ start_at: 'end' }); // start_at must not apply: the path had a saved position
    await exactly(b, range(100, 110));
    expect(totals(b, 'web')['tailer.rotations']).toBe(1);
  });

  it('restart across a copytruncate — the copy supplies the unread lines, the file is read from 0', async () => {
    writeFileSync(log, lines(0, 100));
    const a = await start({ start_at: 'beginning' });
    await counted(a, 100);
    await a.integ.stop();
    appendFileSync(log, lines(100, 40));
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, lines(140, 25));
    const b = await start();
    await exactly(b, range(100, 65));
    expect(totals(b, 'web')['tailer.recovered_lines']).toBe(40);
  });

  it('T11: same inode, other content after a restart (fingerprint) — read from the start', async () => {
    writeFileSync(log, lines(0, 100));
    const a = await start({ start_at: 'beginning' });
    await counted(a, 100);
    await a.integ.stop();
    // Same inode, new content, longer than the saved offset: only the fingerprint can tell.
    writeFileSync(log, lines(1000, 300));
    const b = await start();
    await exactly(b, range(1000, 300));
  });

  it('T9: after a crash the lines of at most one flush interval are counted again, none lost', async () => {
    writeFileSync(log, '');
    const a = await start({ flush_interval: '300ms' });
    appendFileSync(log, lines(0, 200));
    await counted(a, 200);
    await settle(a); // two+ flushes later the positions of those 200 lines are on disk
    appendFileSync(log, lines(200, 50));
    await counted(a, 250);
    // kill -9 now: what is on disk is what the next process finds.
    const onDisk = readFileSync(join(stateDir, 'offsets.json'));
    const perFlush = a.sink.samples.flatMap((s) => (s.kind === 'counter' && s.name === 'web.requests' ? [s.value] : []));
    await a.integ.stop();
    writeFileSync(join(stateDir, 'offsets.json'), onDisk);
    appendFileSync(log, lines(250, 10));
    const b = await start();
    await counted(b, 10);
    await settle(b);
    const recounted = requests(b) - 10;
    expect(recounted).toBeGreaterThanOrEqual(0);
    // The re-counted lines are exactly the last non-empty flush's lines (or nothing).
    expect([0, perFlush.filter((v) => v > 0).at(-1)]).toContain(recounted);
    // Nothing lost: every line 0..259 was counted by a or b.
    const all = new Set([...times(a), ...times(b)]);
    expect(range(0, 260).every((n) => all.has(n))).toBe(true);
  });

  it('T12: a partial last line waits for its end, across a restart too', async () => {
    writeFileSync(log, '');
    const a = await start();
    const l = line(7);
    appendFileSync(log, l.slice(0, 40));
    await settle(a);
    expect(requests(a)).toBe(0);
    expect(totals(a, 'web')['unparsed']).toBe(0);
    await a.integ.stop();
    const b = await start();
    await settle(b);
    appendFileSync(log, l.slice(40));
    await exactly(b, [7]);
    expect(totals(b, 'web')['unparsed']).toBe(0);
  });

  it('T13: a 1 MiB line is skipped and counted; the lines around it are counted', async () => {
    writeFileSync(log, '');
    const i = await start();
    appendFileSync(log, lines(0, 10));
    appendFileSync(log, `10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] "GET /${'a'.repeat(1 << 20)} HTTP/1.1" 200 1 "-" "-" 0.001 "-"\n`);
    appendFileSync(log, lines(10, 10));
    await exactly(i, range(0, 20));
    const t = totals(i, 'web');
    expect(t['lines.too_long']).toBe(1);
    expect(t['unparsed']).toBe(1);
  });

  it('T10: an unreadable state file is reported and start_at is followed', async () => {
    writeFileSync(log, lines(0, 30));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'offsets.json'), '{"version":1,"files":[{"path":');
    const i = await start({ start_at: 'end' });
    appendFileSync(log, lines(30, 3));
    await exactly(i, range(30, 3));
    expect(i.logs.join('')).toMatch(/state file unusable \(not JSON/);
  });

  const slow = { start_at: 'beginning', rotate_wait: '30s' };
  /** 100 lines, a rename rotation and 10 lines in the new file, all counted; the old file is still drained. */
  const rotatedWhileRunning = async (): Promise<Instance> => {
    writeFileSync(log, lines(0, 100));
    const a = await start(slow);
    await counted(a, 100);
    renameSync(log, `${log}.1`);
    writeFileSync(log, lines(100, 10));
    await counted(a, 110);
    return a;
  };

  it('a restart within rotate_wait of a rotation counts that rotation once, not once per restart (issue 17 bug 3)', async () => {
    const a = await rotatedWhileRunning();
    await a.sink.waitFor(() => totals(a, 'web')['tailer.rotations'] === 1, 10_000);
    await a.integ.stop();
    for (let k = 0; k < 2; k++) {
      const b = await start(slow);
      appendFileSync(log, lines(110 + k, 1));
      await exactly(b, [110 + k]);
      await b.integ.stop();
      expect(totals(b, 'web')['tailer.rotations'] ?? 0).toBe(0);
      expect(b.logs.join('')).not.toMatch(/resuming a file rotated while stopped/);
    }
  });

  it('a rotated file read to its end and compressed while stopped is not a gap (issue 17 bug 2)', async () => {
    const a = await rotatedWhileRunning();
    await a.integ.stop();
    // The next logrotate (compress + delaycompress) gzips access.log.1 while we are stopped.
    writeFileSync(`${log}.1.gz`, gzipSync(readFileSync(`${log}.1`)));
    rmSync(`${log}.1`);
    const b = await start(slow);
    appendFileSync(log, lines(110, 5));
    await exactly(b, range(110, 5));
    await b.integ.stop();
    expect(totals(b, 'web')['tailer.gaps'] ?? 0).toBe(0);
    expect(b.logs.join('')).not.toMatch(/lines after the saved position are lost/);
  });

  it('a new file that got the inode of a saved, already rotated file is a new file, not a truncation', async () => {
    // logrotate gzipped the rotated file (freeing its inode) and created the new log, which got
    // that inode back: the saved record matches the new file by inode, not by content.
    writeFileSync(log, lines(0, 10));
    const { dev, ino } = statSync(log);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(stateDir, { recursive: true });
    const fp = Buffer.from(lines(500, 3)).toString('base64');
    const rec = { path: log, dev, ino, fp, offset: 5000, source: 'web', size: 5000, rotated: true };
    writeFileSync(join(stateDir, 'offsets.json'), JSON.stringify({ version: 1, files: [rec] }));
    const i = await start({ start_at: 'end' });
    await exactly(i, range(0, 10));
    const t = totals(i, 'web');
    expect(t['tailer.truncations'] ?? 0).toBe(0);
    expect(t['tailer.gaps'] ?? 0).toBe(0);
  });

  it('a followed file gone while stopped before it was read to its end is still a gap', async () => {
    writeFileSync(log, lines(0, 100));
    const a = await start({ start_at: 'beginning', rotate_wait: '30s' });
    await counted(a, 100);
    await a.integ.stop();
    appendFileSync(log, lines(100, 10)); // written after we stopped, then compressed at once
    writeFileSync(`${log}.1.gz`, gzipSync(readFileSync(log)));
    rmSync(log);
    writeFileSync(log, '');
    const b = await start({ start_at: 'beginning', rotate_wait: '30s' });
    await b.sink.waitFor(() => totals(b, 'web')['tailer.gaps'] === 1, 10_000);
  });

  it('README (issue 17 bug 4): requests/good/bad/bytes/unparsed every flush, status.*, method.* and tailer.* only when non-zero', async () => {
    writeFileSync(log, lines(0, 3));
    const i = await start({ start_at: 'beginning' });
    await counted(i, 3);
    const flushes = (name: string): number[] => i.sink.samples.flatMap((x) => (x.kind === 'counter' && x.name === name ? [x.value] : []));
    const k = flushes('web.requests').length;
    await i.sink.waitFor(() => flushes('web.requests').length >= k + 3, 10_000);
    // Every flush after the first one with lines sent requests (as 0) but never status.200 again.
    expect(flushes('web.requests').slice(-3)).toEqual([0, 0, 0]);
    expect(flushes('web.unparsed').slice(-3)).toEqual([0, 0, 0]);
    expect(flushes('web.status.200')).toEqual([3]);
    expect(flushes('web.status.2xx')).toEqual([3]);
    expect(flushes('web.method.GET')).toEqual([3]);
  });

  it('T15: a glob follows several files, one created later, with per-file source names and excludes', async () => {
    writeFileSync(join(tmp.dir, 'a.log'), lines(0, 10));
    writeFileSync(join(tmp.dir, 'b.log'), lines(10, 20));
    writeFileSync(join(tmp.dir, 'skip.log'), lines(100, 5));
    const i = instance(
      { ...FAST, name: undefined, path: join(tmp.dir, '*.log'), exclude: join(tmp.dir, 'skip.log'), start_at: 'beginning' },
      { stateDir },
    );
    running.push(i);
    await i.integ.start!();
    writeFileSync(join(tmp.dir, 'c.log'), lines(30, 5));
    // A rotated name that the glob does not match is not read.
    writeFileSync(join(tmp.dir, 'a.log.1'), lines(200, 7));
    await i.sink.waitFor(() => (i.sink.counters().get('c.requests') ?? 0) >= 5);
    await i.sink.waitFor(() => (i.sink.counters().get('b.requests') ?? 0) >= 20);
    const c = i.sink.counters();
    await i.sink.waitFor(() => i.sink.samples.filter((s) => s.name === 'c.requests').length >= 4);
    expect([c.get('a.requests'), c.get('b.requests'), c.get('c.requests')]).toEqual([10, 20, 5]);
    expect(i.sink.counters().get('skip.requests')).toBeUndefined();
    expect([...i.sink.counters().keys()].some((k) => k.startsWith('a_log_1'))).toBe(false);
    expect(existsSync(join(stateDir, 'offsets.json'))).toBe(true);
  });
});

describe('Tailer turns', () => {
  it('a backlog in one file is read in budgeted turns, so other files are not held back', async () => {
    const { Tailer } = await import('../tail.js');
    const { CHUNK } = await import('../read-loop.js');
    const { SourceStats } = await import('../stats.js');
    const { compileFormat } = await import('../format.js');
    const { compileParser } = await import('../codegen.js');
    const { MethodTable, QuoteFinder, newParsedLine } = await import('../parse.js');
    const { testContext } = await import('../../../test/helpers/context.js');
    const tmp = tempDir();
    try {
      // ~3 chunks of backlog in big.log, 5 lines in small.log.
      let big = '';
      while (big.length < 3 * CHUNK) big += lines(big.length, 500);
      writeFileSync(join(tmp.dir, 'big.log'), big);
      writeFileSync(join(tmp.dir, 'small.log'), lines(0, 5));
      const tc = testContext();
      const methods = new MethodTable(['GET']);
      const sources = new Map<string, InstanceType<typeof SourceStats>>();
      const t = new Tailer({
        patterns: [join(tmp.dir, '*.log')],
        exclude: [],
        sourceName: undefined,
        startAt: 'beginning',
        rotateWaitMs: 1000,
        scan: { parse: compileParser(compileFormat('nginx_combined_rt')), methods, quotes: new QuoteFinder(), out: newParsedLine(), maxLineBytes: 65536, wantPath: false },
        source: (n) => sources.get(n) ?? sources.set(n, new SourceStats(n, methods, tc.ctx.emitter, undefined, compileFormat('nginx_combined_rt'))).get(n)!,
        log: tc.ctx.log,
        now: Date.now,
      });
      t.scan('start');
      expect(await t.readAll(undefined, CHUNK)).toBe(true); // big.log has more
      expect(sources.get('small')!.lines).toBe(5);
      const afterOne = sources.get('big')!.lines;
      expect(afterOne).toBeGreaterThan(0);
      expect(afterOne).toBeLessThan(big.split('\n').length - 1);
      let turns = 1;
      while (await t.readAll(undefined, CHUNK)) turns++;
      expect(turns).toBeGreaterThanOrEqual(3);
      expect(sources.get('big')!.lines).toBe(big.split('\n').length - 1);
      t.closeAll();
    } finally {
      tmp.cleanup();
    }
  });
});
