/**
 * End to end through the built `telltale` command and its real statsd sink, captured on a
 * loopback UDP socket: `--once` on the real log, a clean SIGTERM restart, and a kill -9.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../../../test/helpers/cli.js';
import { startUdpServer, type UdpServer } from '../../../test/helpers/servers.js';
import { REAL_LOG, requireData, tempDir } from './harness.js';

function line(i: number): string {
  return `10.0.${(i >> 8) & 255}.${i & 255} - - [10/Oct/2023:13:55:36 +0000] "GET /n/${i} HTTP/1.1" 200 10 "-" "t" ${(i / 1000).toFixed(3)} "-"\n`;
}
function lines(from: number, n: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += line(i);
  return s;
}

/** Sum of a counter over every statsd line received. */
function sum(udp: UdpServer, name: string): number {
  let n = 0;
  for (const l of udp.lines()) {
    const m = /^([^:]+):([\d.]+)\|c/.exec(l);
    if (m && m[1] === name) n += Number(m[2]);
  }
  return n;
}
function samples(udp: UdpServer, name: string): number[] {
  return udp.lines().flatMap((l) => {
    const m = /^([^:]+):([\d.]+)\|c/.exec(l);
    return m && m[1] === name ? [Number(m[2])] : [];
  });
}
function timerValues(udp: UdpServer, name: string): number[] {
  return udp.lines().flatMap((l) => {
    const [n, rest] = l.split(/:(.*)/s);
    if (n !== name || !rest) return [];
    // Packed form: name:1|ms:2|ms
    return rest.split(':').map((v) => Number(v.split('|')[0]));
  });
}

describe('access_log through the telltale CLI', () => {
  requireData();
  let udp: UdpServer;
  const tmp = tempDir();
  const runs: CliRun[] = [];

  beforeAll(async () => {
    udp = await startUdpServer();
  });
  afterEach(async () => {
    for (const r of runs.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
  });
  afterAll(async () => {
    await udp.close();
    tmp.cleanup();
  });

  const config = (name: string, integration: string): string => {
    const file = join(tmp.dir, `${name}.yaml`);
    writeFileSync(
      file,
      `emitter:
  prefix: ${name}
  flush_interval: 200ms
  sinks:
    - type: statsd
      address: udp://127.0.0.1:${udp.port}
state_dir: ${join(tmp.dir, `state-${name}`)}
integrations:
${integration}`,
    );
    return file;
  };

  it('--once on the real log sends exactly the expected counts over statsd', async () => {
    const file = config('once', `  web:\n    type: access_log\n    path: ${REAL_LOG}\n    format: combined\n    name: real\n`);
    const run = runCli(['access_log', '--config', file, '--once']);
    runs.push(run);
    expect(await run.exited).toBe(0);
    await udp.waitFor(() => sum(udp, 'once.real.requests') >= 9999);
    expect(sum(udp, 'once.real.requests')).toBe(9999);
    expect(sum(udp, 'once.real.unparsed')).toBe(1);
    expect(sum(udp, 'once.real.status.2xx')).toBe(9170);
    expect(sum(udp, 'once.real.status.404')).toBe(213);
    expect(sum(udp, 'once.real.method.HEAD')).toBe(42);
  });

  const follow = (name: string, log: string): string =>
    config(
      name,
      `  web:\n    type: access_log\n    path: ${log}\n    format: nginx_combined_rt\n    name: web\n    flush_interval: 200ms\n    poll_interval: 20ms\n`,
    );

  it('a clean SIGTERM restart counts every line once', async () => {
    const log = join(tmp.dir, 'term.log');
    writeFileSync(log, '');
    const file = follow('term', log);
    const a = runCli(['access_log', '--config', file]);
    runs.push(a);
    await a.waitForStderr(/following 1 file/);
    appendFileSync(log, lines(0, 300));
    await udp.waitFor(() => sum(udp, 'term.web.requests') >= 300);
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    appendFileSync(log, lines(300, 200));
    const b = runCli(['access_log', '--config', file]);
    runs.push(b);
    await udp.waitFor(() => sum(udp, 'term.web.requests') >= 500);
    const k = samples(udp, 'term.web.requests').length;
    await udp.waitFor(() => samples(udp, 'term.web.requests').length >= k + 3);
    expect(sum(udp, 'term.web.requests')).toBe(500);
    expect(timerValues(udp, 'term.web.response_time').sort((x, y) => x - y)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('after kill -9, at most one flush interval is counted twice and nothing is lost', async () => {
    const log = join(tmp.dir, 'kill.log');
    writeFileSync(log, '');
    const file = follow('kill', log);
    const a = runCli(['access_log', '--config', file]);
    runs.push(a);
    await a.waitForStderr(/following 1 file/);
    appendFileSync(log, lines(0, 300));
    await udp.waitFor(() => sum(udp, 'kill.web.requests') >= 300);
    const k = samples(udp, 'kill.web.requests').length;
    await udp.waitFor(() => samples(udp, 'kill.web.requests').length >= k + 3);
    appendFileSync(log, lines(300, 100));
    await udp.waitFor(() => sum(udp, 'kill.web.requests') >= 400);
    a.child.kill('SIGKILL');
    await a.exited;
    const flushes = samples(udp, 'kill.web.requests').filter((v) => v > 0);
    appendFileSync(log, lines(400, 50));
    const b = runCli(['access_log', '--config', file]);
    runs.push(b);
    await udp.waitFor(() => sum(udp, 'kill.web.requests') >= 450);
    const k2 = samples(udp, 'kill.web.requests').length;
    await udp.waitFor(() => samples(udp, 'kill.web.requests').length >= k2 + 3);
    const twice = sum(udp, 'kill.web.requests') - 450;
    // Either the positions of the last flush were already on disk (0), or that flush is re-read.
    expect([0, flushes.at(-1)]).toContain(twice);
    const seen = new Set(timerValues(udp, 'kill.web.response_time'));
    expect(Array.from({ length: 450 }, (_, i) => i).every((i) => seen.has(i))).toBe(true);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});
