/**
 * integrations.yaml as hostile or odd input (issue 18): aliases a real fleet config needs, alias
 * bombs, a FIFO or a device as the config path, through the real `telltale check` (exit 78,
 * FILE:LINE:COL, no stack trace).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'telltale-config-hostile-'));
const runs: CliRun[] = [];
const fifos: string[] = [];
afterEach(async () => {
  // A reader stuck on a FIFO (the bug) is released by opening the writer side; ENXIO otherwise.
  for (const f of fifos.splice(0)) {
    try {
      closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // nobody is reading it
    }
  }
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `telltale check` bounded to 30 s: a hang is a failure, not a stuck suite. */
async function check(file: string): Promise<{ code: number | string; stderr: string; stdout: string }> {
  const r = runCli(['check', '--config', file]);
  runs.push(r);
  const code = await Promise.race([r.exited, new Promise<string>((res) => setTimeout(() => res('still running after 30 s'), 30_000).unref())]);
  return { code, stderr: r.stderr(), stdout: r.stdout() };
}

function config(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** A fleet config: `n` host instances reusing two anchors set on the first one. */
function fleet(n: number): string {
  let t = 'integrations:\n  host0:\n    type: host\n    interval: &interval 30s\n    disks: &disks ["/"]\n';
  for (let i = 1; i < n; i++) t += `  host${i}:\n    type: host\n    interval: *interval\n    prefix: h${i}\n    disks: *disks\n`;
  return t;
}

describe('integrations.yaml aliases (issue 18 item 9)', () => {
  it('500 instances reusing two anchors load (the old limit refused 101)', async () => {
    const r = await check(config('fleet.yaml', fleet(500)));
    expect(r.stderr).not.toMatch(/alias|Excessive|ReferenceError/);
    // check then probes the default statsd sink (exit 0 or 1); what matters is a valid config.
    expect(r.code, r.stderr).not.toBe(78);
    expect(r.stdout, r.stderr).toMatch(/^config: .*fleet\.yaml \(valid\)\n/);
  });

  it('an alias bomb is a config error: exit 78 with FILE:LINE:COL, no stack trace', async () => {
    let t = 'x-bomb:\n  a0: &a0 [' + Array(10).fill('lol').join(', ') + ']\n';
    for (let i = 1; i <= 8; i++) t += `  a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    t += 'integrations:\n  host:\n    disks: *a8\n';
    const f = config('bomb.yaml', t);
    const r = await check(f);
    expect(r.code, r.stderr).toBe(78);
    expect(r.stderr).toMatch(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: .*alias`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.length).toBeLessThan(2000);
  });

  it('a huge anchor reused a few thousand times is bounded by its expanded size', async () => {
    // Few alias uses (the yaml library's own guard passes) but 5,000 × 1,000 nodes expanded.
    const big = `[${Array.from({ length: 1000 }, (_, i) => `d${i}`).join(', ')}]`;
    let t = `x-big: &big ${big}\nintegrations:\n  host:\n    type: host\n    x:\n`;
    for (let i = 0; i < 5000; i++) t += `      - *big\n`;
    const r = await check(config('wide.yaml', t));
    expect(r.code, r.stderr).toBe(78);
    expect(r.stderr).toMatch(/wide\.yaml:\d+:\d+: .*aliases expand to more than/);
  });
});

describe('the config path is not a regular file (issue 18, degraded)', () => {
  it('a FIFO is refused at once with exit 78 (it used to hang)', async () => {
    const f = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [f]);
    fifos.push(f);
    const r = await check(f);
    expect(r.code, r.stderr).toBe(78);
    expect(r.stderr).toContain(`${f}: not a regular file (fifo)`);
  });

  it('/dev/zero is refused with exit 78 (it used to abort with std::bad_alloc)', async () => {
    const r = await check('/dev/zero');
    expect(r.code, r.stderr).toBe(78);
    expect(r.stderr).toContain('/dev/zero: not a regular file (character device)');
  });
});
