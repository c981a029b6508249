/**
 * Hostile neighbours and exhausted resources (issue 18 items 4 and 5), each in a child process
 * running the built tailer (dist/), because the failure being tested blocks or corrupts the
 * process that has it: a FIFO named like a rotated copy froze the whole process in openSync (the
 * test would hang with it), and running out of file descriptors has to happen to the tailer's
 * own process. The child prints its counts as one JSON line on stdout.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/helpers/cli.js';
import { until } from '../../../test/helpers/servers.js';
import { tempDir } from './harness.js';

const DIST = pathToFileURL(join(REPO_ROOT, 'dist/integrations/access_log/')).href;

function lines(from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += `10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] "GET /n/${i} HTTP/1.1" 200 10 "-" "t" 0.001 "-"\n`;
  return s;
}

/** The child's preamble: a Tailer on `pattern` with a counting emitter and a stderr logger. */
const PRELUDE = `
const { Tailer } = await import(${JSON.stringify(`${DIST}tail.js`)});
const { SourceStats } = await import(${JSON.stringify(`${DIST}stats.js`)});
const { compileFormat } = await import(${JSON.stringify(`${DIST}format.js`)});
const { compileParser } = await import(${JSON.stringify(`${DIST}codegen.js`)});
const { MethodTable, QuoteFinder, newParsedLine } = await import(${JSON.stringify(`${DIST}parse.js`)});
const [pattern, rotateWaitMs] = [process.argv[1], Number(process.argv[2])];
const counts = {};
const emitter = { counter: (n, v) => (counts[n] = (counts[n] ?? 0) + v), timing() {}, timingBatch() {}, gauge() {} };
const say = (lvl) => (m, f) => process.stderr.write(lvl + ' ' + m + ' ' + JSON.stringify(f ?? {}) + '\\n');
const log = { debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error'), child() { return log; }, level: 'info' };
const methods = new MethodTable(['GET']);
const sources = new Map();
let errors = 0;
const t = new Tailer({
  patterns: [pattern], exclude: [], sourceName: 'web', startAt: 'beginning', rotateWaitMs,
  scan: { parse: compileParser(compileFormat('nginx_combined_rt')), methods, quotes: new QuoteFinder(), out: newParsedLine(), maxLineBytes: 65536, wantPath: false },
  source: (n) => sources.get(n) ?? sources.set(n, new SourceStats(n, methods, emitter, undefined, false)).get(n),
  log, now: Date.now, onError: () => errors++,
});
const flush = () => { for (const s of sources.values()) s.flush(); };
const step = (name) => new Promise((resolve) => {
  process.stdout.write(JSON.stringify({ step: name }) + '\\n');
  process.stdin.once('data', () => resolve());
});
`;

interface Child {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Wait for the child to print `{"step": name}`, run `action`, then let the child go on. */
  step(name: string, action: () => void): Promise<void>;
  result(): Promise<Record<string, unknown>>;
}

function runChild(body: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--input-type=module', '-e', PRELUDE + body, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    out: () => out,
    err: () => err,
    async step(name, action) {
      await until(() => out.includes(JSON.stringify({ step: name })) || done(), 15_000, `child step ${name}; stderr:\n${err}`);
      action();
      child.stdin!.write('go\n');
    },
    async result() {
      await until(done, 15_000, `the child to finish (blocked?); stdout:\n${out}\nstderr:\n${err}`);
      const last = out.trim().split('\n').pop() ?? '';
      expect(child.exitCode, err).toBe(0);
      return JSON.parse(last) as Record<string, unknown>;
    },
  };
}

describe('access_log and hostile neighbours (issue 18)', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('item 4: a FIFO named like the rotated copy is never opened; the truncation is handled and the process goes on', async () => {
    const tmp = tempDir();
    const log = join(tmp.dir, 'access.log');
    const fifo = `${log}.1`;
    writeFileSync(log, lines(0, 10));
    execFileSync('mkfifo', [fifo]);
    const run = runChild(
      `
t.scan('once'); await t.readAll();
await step('read');
t.scan('once'); await t.readAll(); flush();
t.closeAll();
process.stdout.write(JSON.stringify(counts) + '\\n');
process.exit(0);
`,
      [log, '0'],
    );
    cleanups.push(() => {
      // A reader blocked in open() on the FIFO is released by a writer: open one, never blocking.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        /* ENXIO: nobody is blocked on it */
      }
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      tmp.cleanup();
    });
    await run.step('read', () => {
      // copytruncate: the file is shorter than our position, so the tailer looks for the copy.
      truncateSync(log, 0);
      writeFileSync(log, lines(10, 2));
    });
    const r = await run.result();
    expect(r['web.requests']).toBe(12);
    expect(r['web.tailer.truncations']).toBe(1);
    // No regular copy next to it: the lines between our last read and the truncation may be lost.
    expect(r['web.tailer.gaps']).toBe(1);
  });

  it('item 5: out of file descriptors, a failed readdir keeps the followed files; nothing is read twice', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    writeFileSync(join(tmp.dir, 'a.log'), lines(0, 10));
    writeFileSync(join(tmp.dir, 'b.log'), lines(10, 5));
    const run = runChild(
      `
const { openSync, closeSync } = await import('node:fs');
t.scan('once'); await t.readAll();
// Take every free descriptor, then scan: readdir fails with EMFILE.
const held = [];
let code = '';
for (;;) { try { held.push(openSync('/dev/null', 'r')); } catch (e) { code = e.code; break; } }
for (let k = 0; k < 3; k++) { t.scan('start'); await t.readAll(); }
for (const fd of held) closeSync(fd);
await step('recovered');
for (let k = 0; k < 3; k++) { t.scan('start'); await t.readAll(); }
flush();
t.closeAll();
process.stdout.write(JSON.stringify({ ...counts, code, errors, held: held.length }) + '\\n');
process.exit(0);
`,
      [join(tmp.dir, '*.log'), '0'],
    );
    cleanups.push(() => {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    });
    await run.step('recovered', () => writeFileSync(join(tmp.dir, 'a.log'), lines(0, 10) + lines(100, 3)));
    const r = await run.result();
    expect(r['code']).toBe('EMFILE');
    expect(r['errors']).toBe(3);
    expect(r['web.requests']).toBe(18);
    expect(r['web.tailer.rotations'] ?? 0).toBe(0);
    expect(run.err()).toMatch(/cannot list .*EMFILE.*keeping the 2 followed file/);
  });
});
