/**
 * `telltale access_log --once` over several files reads them on worker threads. The built
 * command (dist/, worker threads need compiled code) runs the same files with `threads: 1` and
 * with several threads; everything it emits — counters and every timer statistic, p90/p95/p99
 * included, aggregated exactly as Graphite would get them — and the saved read positions must be
 * identical. Input: the real Apache log of fixtures/ cut into rotated parts, the tricky lines,
 * and the real lines again with a response time (%D) appended, one file crossing several read
 * chunks with a too-long line over a chunk boundary and a partial last line.
 */
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/helpers/cli.js';
import { REAL_LOG, requireData, tempDir, TRICKY } from './harness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

interface Outcome {
  /** `name value` of every aggregated line, sorted (the flush timestamp dropped). */
  lines: string[];
  offsets: unknown;
  stderr: string;
}

async function once(dir: string, instance: string, raw: string, threads: number, tag: string): Promise<Outcome> {
  const state = join(dir, `state-${tag}`);
  const config = join(dir, `${tag}.yaml`);
  writeFileSync(
    config,
    `emitter:\n  prefix: t\n  sinks:\n    - type: console\nstate_dir: ${state}\nintegrations:\n  ${instance}:\n    type: access_log\n${raw}    threads: ${threads}\n`,
  );
  const run = runCli(['access_log', '--once', '--log-level', 'info', '--config', config]);
  const code = await run.exited;
  expect(code, run.stderr()).toBe(0);
  const lines = run
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('stats.'))
    .map((l) => l.split(' ').slice(0, 2).join(' '))
    // Self-metrics of the emitter itself and the run's own duration are not the data.
    .filter((l) => !l.includes('.telltale.emitter.'))
    .sort();
  const offsets = JSON.parse(readFileSync(join(state, instance, 'offsets.json'), 'utf8')) as unknown;
  return { lines, offsets, stderr: run.stderr() };
}

function value(o: Outcome, name: string): number {
  const l = o.lines.find((x) => x.startsWith(`${name} `));
  if (!l) throw new Error(`${name} not emitted`);
  return Number(l.split(' ')[1]);
}

describe('access_log --once on worker threads', () => {
  it('counts the rotated parts of a real log exactly as one thread does', async () => {
    requireData();
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    // Cut at line boundaries, like a day of rotations; the tricky lines are a fifth file.
    const lines = readFileSync(REAL_LOG, 'utf8').split(/(?<=\n)/);
    const quarter = Math.ceil(lines.length / 4);
    for (let i = 0; i < 4; i++) writeFileSync(join(logs, `access.log.${i}`), lines.slice(i * quarter, (i + 1) * quarter).join(''));
    copyFileSync(TRICKY, join(logs, 'access.log.tricky'));
    const raw = `    path: ${logs}/access.log.*\n    name: web\n    format: combined\n    max_line_bytes: 512\n`;
    const one = await once(dir, 'web', raw, 1, 'one');
    const par = await once(dir, 'web', raw, 4, 'par');
    expect(par.stderr).toMatch(/reading 5 files on 4 worker threads/);
    expect(one.stderr).not.toMatch(/worker threads/);
    // 24 real lines are over 512 bytes; the rest of the 9,999 requests count.
    expect(value(one, 'stats.counters.t.web.requests.count')).toBeGreaterThan(9999 - 24);
    expect(value(one, 'stats.counters.t.web.lines.too_long.count')).toBeGreaterThanOrEqual(24);
    expect(par.lines).toEqual(one.lines);
    expect(par.offsets).toEqual(one.offsets);
  });

  it('merges response times so every timer statistic is identical, per-file sources included', async () => {
    requireData();
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    // The real lines with a deterministic %D (µs) appended: a spread with ties and a long tail.
    const real = readFileSync(REAL_LOG, 'utf8').split('\n').filter((l) => l !== '');
    const timed = (from: number, to: number): string =>
      real
        .slice(from, to)
        .map((l, i) => `${l} ${((from + i) * 7919) % 250_000 + (i % 97 === 0 ? 3_000_000 : 0)}\n`)
        .join('');
    // big.log: the log (2.4 MB, three 1 MiB chunks) with a 300 kB line across the first chunk
    // boundary, and a partial last line that must stay unread.
    const big = join(logs, 'big.log');
    writeFileSync(big, timed(0, 4200));
    appendFileSync(big, `${'x'.repeat(300_000)}\n`);
    appendFileSync(big, timed(4200, real.length));
    appendFileSync(big, '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 7 "-" "partial');
    writeFileSync(join(logs, 'small.log'), timed(100, 1100));
    writeFileSync(join(logs, 'other.log'), timed(5000, 9000));
    const raw = `    path: ${logs}/*.log\n    format: combined_D\n`;
    const one = await once(dir, 'timed', raw, 1, 'one');
    const par = await once(dir, 'timed', raw, 8, 'par');
    expect(par.stderr).toMatch(/reading 3 files on 3 worker threads/);
    expect(value(one, 'stats.counters.t.big.lines.too_long.count')).toBe(1);
    // Every real line but the malformed one (line 8899) has a response time.
    expect(value(one, 'stats.timers.t.big.response_time.count')).toBe(real.length - 1);
    expect(value(one, 'stats.timers.t.other.response_time.upper_99')).toBeGreaterThan(0);
    expect(par.lines).toEqual(one.lines);
    expect(par.offsets).toEqual(one.offsets);
  });

  it('varnishncsa logs: first-byte times and cache counters come back from the threads too', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const real = readFileSync(new URL('./fixtures/varnishncsa-extended.log', import.meta.url), 'utf8');
    for (let i = 0; i < 3; i++) writeFileSync(join(logs, `v${i}.log`), real.repeat(20 * (i + 1)));
    const raw = `    path: ${logs}/*.log\n    name: varnish\n    format: varnishncsa_extended\n`;
    const one = await once(dir, 'varnish', raw, 1, 'one');
    const par = await once(dir, 'varnish', raw, 3, 'par');
    expect(par.stderr).toMatch(/reading 3 files on 3 worker threads/);
    // 17 requests a copy, 120 copies: 2 hits, 7 misses, 1 pipe each; the pipe has no times.
    expect(value(par, 'stats.counters.t.varnish.requests.count')).toBe(17 * 120);
    expect(value(par, 'stats.counters.t.varnish.cache.hit.count')).toBe(2 * 120);
    expect(value(par, 'stats.counters.t.varnish.cache.pipe.count')).toBe(120);
    expect(value(par, 'stats.timers.t.varnish.first_byte_time.count')).toBe(16 * 120);
    expect(par.lines).toEqual(one.lines);
  });
});
