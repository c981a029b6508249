/**
 * Hostile and odd files in a reportdir (issue 18): alias bombs, FIFOs, devices and files that
 * grow or are swapped after they were sized. Every case is bounded in time and size; none needs
 * the puppet binary (the base report is a committed fixture written by Puppet 7).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext, type TestContext } from '../../../test/helpers/context.js';
import { FileTooBigError, readRegularFile } from '../../../shared/core/fs/regular-file.js';
import { parseReport } from '../parse.js';
import { RunParseError } from '../run.js';
import { ALIAS_LIMITS } from '../yaml-schema.js';
import { puppetReports } from '../index.js';
import { defaults, FIXTURES } from './puppet.js';

const BASE = readFileSync(join(FIXTURES, 'p7-apply-changes.report.yaml'), 'utf8');
const HOST_DIR = 'node01.example.com';
const NODE = 'node01_example_com';

/**
 * The issue's bomb: `a0: &a0 [lol ×10]`, `aN: &aN [*a(N-1) ×10]`, a few hundred bytes that expand
 * to 10^(depth+1) strings. Depth 6 (10^7 strings, ~60 MB as JSON) keeps a run against a parser
 * without the cap at a couple of seconds while still far over ALIAS_LIMITS.
 */
function bombDefs(depth: number): string {
  const lines = ['bomb:', `  a0: &a0 [${Array(10).fill('lol').join(', ')}]`];
  for (let i = 1; i <= depth; i++) lines.push(`  a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}

function withBomb(text: string, depth: number, place: 'metric-name' | 'time'): string {
  const [header, ...rest] = text.split('\n');
  let body = rest.join('\n');
  const top = `*a${depth}`;
  if (place === 'time') body = body.replace(/^time: .*$/m, `time: ${top}`);
  else body = body.replace(/^ {4}- - total$/m, `    - - ${top}`);
  expect(body).toContain(top);
  return `${header}\n${bombDefs(depth)}${body}`;
}

function parseError(text: string): RunParseError {
  try {
    parseReport(text, '/r/node01/202611222225.yaml');
  } catch (e) {
    if (e instanceof RunParseError) return e;
    throw e;
  }
  throw new Error('parsed');
}

let roots: string[] = [];
let fifos: string[] = [];
afterEach(() => {
  // A reader stuck on a FIFO (the bug) is released by opening the writer side; with no reader
  // the non-blocking open fails with ENXIO, which is the expected case.
  for (const f of fifos) {
    try {
      closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: nobody is reading it.
    }
  }
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
  fifos = [];
});

function mkfifo(path: string): string {
  execFileSync('mkfifo', [path]);
  fifos.push(path);
  return path;
}

/** The base report as another host's run, so several files can be emitted side by side. */
function otherHost(host: string, uuid: string): string {
  return BASE.replace(/^host: .*$/m, `host: ${host}`).replace(/^transaction_uuid: .*$/m, `transaction_uuid: ${uuid}`);
}

async function once(dir: string, extra: Record<string, unknown> = {}): Promise<TestContext> {
  const t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
  const inst = puppetReports.create({ ...defaults(), reportdir: dir, ...extra }, t.ctx);
  await inst.once!();
  await inst.stop?.();
  return t;
}

function emittedHosts(t: TestContext): string[] {
  return [...new Set(t.sink.datapoints().filter((d) => d.name.endsWith('.resources.total')).map((d) => d.name.split('.')[1]!))].sort();
}

function reportdir(): { root: string; dir: string; hostDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'telltale-puppet-hostile-'));
  roots.push(root);
  const dir = join(root, 'reports');
  const hostDir = join(dir, HOST_DIR);
  mkdirSync(hostDir, { recursive: true });
  return { root, dir, hostDir };
}

function counter(t: TestContext, name: string): number {
  return t.sink.counters().get(`puppet._watcher.${name}`) ?? 0;
}

function longestLine(t: TestContext): number {
  return Math.max(0, ...t.logs.map((l) => l.length));
}

describe('puppet_reports: alias bombs (issue 18 item 1)', () => {
  it('a bomb as a metric name or as the root time is refused as a limit, with a short message', () => {
    for (const place of ['metric-name', 'time'] as const) {
      const e = parseError(withBomb(BASE, 6, place));
      expect(e.kind, place).toBe('limit');
      expect(e.message, place).toMatch(/alias/);
      expect(e.message.length, place).toBeLessThan(300);
    }
  });

  it('a recursive alias is refused, not walked forever', () => {
    const text = BASE.replace(/^time: .*$/m, (l) => `${l}\nloop: &loop [a, *loop]`);
    const e = parseError(text);
    expect(e.kind).toBe('limit');
    expect(e.message).toMatch(/recursive/);
  });

  it('anchors a real report uses stay well inside the limits', () => {
    // Shared tag lists, as Puppet ≤ 4 wrote them, on every metric triple of the report.
    const text = BASE.replace(/^host: .*$/m, (l) => `${l}\nshared: &tags [one, two, three]`).replace(/^( {6}- )([\d.e-]+)$/gm, '$1$2\n      - *tags');
    expect(text.match(/\*tags/g)!.length).toBeGreaterThanOrEqual(20);
    expect(parseReport(text, 'x.yaml').metrics).toEqual(parseReport(BASE, 'x.yaml').metrics);
    expect(ALIAS_LIMITS.maxExpandedNodes).toBeGreaterThan(1_000_000);
  });

  it('a bomb in the reportdir is counted as errors.limit and logged in one short line', async () => {
    const { dir, hostDir } = reportdir();
    writeFileSync(join(hostDir, '202611222225.yaml'), withBomb(BASE, 6, 'metric-name'));
    const t = await once(dir);
    expect(counter(t, 'errors.limit')).toBe(1);
    expect(t.logs.some((l) => l.includes('alias') && l.includes('202611222225.yaml'))).toBe(true);
    expect(longestLine(t)).toBeLessThan(2000);
    expect(t.sink.datapoints().some((d) => d.name.startsWith(`puppet.${NODE}.`))).toBe(false);
  });
});


describe('puppet_reports: only regular files are read (issue 18 items 2 and 3)', () => {
  it('a FIFO named like a report is skipped and counted; the other hosts are still emitted', async () => {
    const { dir, hostDir } = reportdir();
    mkfifo(join(hostDir, '202611222225.yaml'));
    mkdirSync(join(dir, 'web02.example.com'));
    writeFileSync(join(dir, 'web02.example.com', '202611222225.yaml'), otherHost('web02.example.com', 'u-web02'));
    const t = await once(dir);
    expect(counter(t, 'errors.not_regular')).toBe(1);
    expect(t.logs.some((l) => l.includes('not a regular file') && l.includes('kind=fifo'))).toBe(true);
    expect(emittedHosts(t)).toEqual(['web02_example_com']);
  });

  it('a FIFO appearing while watching does not stall the queue: the next report is emitted', async () => {
    const { dir, hostDir } = reportdir();
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
    const inst = puppetReports.create({ ...defaults(), reportdir: dir, settle: 0, rescan: 200, tick: 60_000 }, t.ctx);
    try {
      await inst.start!();
      mkfifo(join(hostDir, '202611222225.yaml'));
      await t.sink.waitFor(() => counter(t, 'errors.not_regular') >= 1, 15_000);
      writeFileSync(join(hostDir, '202611222226.yaml'), otherHost('node01.example.com', 'u-after-fifo'));
      await t.sink.waitFor(() => emittedHosts(t).includes(NODE), 15_000);
    } finally {
      await inst.stop!();
    }
  });

  it('a link to /dev/zero (size 0 by stat) is refused as a device, never read', async () => {
    const { dir, hostDir } = reportdir();
    symlinkSync('/dev/zero', join(hostDir, '202611222225.yaml'));
    const t = await once(dir);
    expect(counter(t, 'errors.not_regular')).toBe(1);
    expect(t.logs.some((l) => l.includes('kind="character device"'))).toBe(true);
  });

  it('max_report_bytes holds when stat under-reports the size: at most max+1 bytes are read', async () => {
    // procfs files stat as size 0 and read as several KB: the size check alone lets them through.
    const maps = readFileSync('/proc/self/maps');
    expect(maps.length).toBeGreaterThan(2048);
    const err = await readRegularFile('/proc/self/maps', 1024).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FileTooBigError);
    expect((err as FileTooBigError).bytes).toBe(1025);
    const { dir, hostDir } = reportdir();
    symlinkSync('/proc/self/maps', join(hostDir, '202611222225.yaml'));
    const t = await once(dir, { max_report_bytes: 1024 });
    expect(counter(t, 'errors.too_big')).toBe(1);
    expect(counter(t, 'errors.parse')).toBe(0);
  });

  it('a regular report over max_report_bytes is skipped by its fstat size; under it is emitted', async () => {
    const { dir, hostDir } = reportdir();
    writeFileSync(join(hostDir, '202611222225.yaml'), BASE);
    expect((await once(dir, { max_report_bytes: BASE.length - 1 })).sink.counters().get('puppet._watcher.errors.too_big')).toBe(1);
    expect(emittedHosts(await once(dir, { max_report_bytes: BASE.length }))).toEqual([NODE]);
  });
});
