/**
 * The built `telltale puppet_reports` with a FIFO in the reportdir (issue 18 item 2): the
 * process must keep answering signals. Bounded: the FIFO's writer side is opened in cleanup.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliRun } from '../../../test/helpers/cli.js';
import { freePort } from '../../../test/helpers/servers.js';

let root: string | undefined;
let fifo: string | undefined;
let cli: CliRun | undefined;
afterEach(async () => {
  if (fifo) {
    try {
      // Releases a reader stuck on the FIFO (the bug); ENXIO when nobody reads it (the fix).
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // nobody is reading it
    }
  }
  if (cli && cli.child.exitCode === null && cli.child.signalCode === null) {
    cli.child.kill('SIGKILL');
    await cli.exited;
  }
  if (root) rmSync(root, { recursive: true, force: true });
  root = fifo = cli = undefined;
});

describe('telltale puppet_reports with a FIFO in the reportdir', () => {
  it('telltale puppet_reports with a FIFO in the reportdir still exits on SIGTERM', async () => {
    root = mkdtempSync(join(tmpdir(), 'telltale-puppet-fifo-'));
    const dir = join(root, 'reports');
    const hostDir = join(dir, 'node01.example.com');
    mkdirSync(hostDir, { recursive: true });
    fifo = join(hostDir, '202611222225.yaml');
    execFileSync('mkfifo', [fifo]);
    const config = join(root, 'integrations.yaml');
    writeFileSync(config, `state_dir: ${join(root, 'state')}\nintegrations:\n  puppet:\n    type: puppet_reports\n    reportdir: ${dir}\n`);
    cli = runCli(['puppet_reports', '--config', config, '--statsd', `127.0.0.1:${await freePort()}`]);
    // The fixed service logs the skip and starts watching; the old one hung before either.
    await cli.waitForStderr(/watching puppet data/, 20_000).catch(() => undefined);
    cli.child.kill('SIGTERM');
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000))]);
    expect(code, cli.stderr()).toBe(0);
    expect(cli.stderr()).toMatch(/not a regular file/);
  });

});
