/**
 * End to end through the built `telltale` command into a real carbon-cache: a real
 * `puppet apply` report lands in whisper at the run's own timestamp, and running again (a
 * restart, or cron with --once) rewrites the same points instead of adding new ones.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { runCli, type CliRun } from '../../../test/helpers/cli.js';
import { startCarbon, waitForWhisper, whisperFetch, type Carbon } from '../../../test/helpers/servers.js';
import { applyDirs, newestReport, puppetApply, rubyTruth, type Truth } from './puppet.js';

const puppet = requireBinary('puppet', 'apt-get install puppet (Debian puppet 7)');
const ruby = requireBinary('ruby', 'apt-get install ruby (comes with puppet)');
const carbonBin = requireBinary('carbon-cache', 'apt-get install graphite-carbon python3-whisper');
const whisperBin = requireBinary('whisper-fetch', 'apt-get install python3-whisper');

const runs: CliRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }
});

describe.skipIf(!puppet || !ruby || !carbonBin || !whisperBin)('telltale puppet_reports (CLI) into real carbon', () => {
  let carbon: Carbon;
  let root: string;
  let config: string;
  let truth: Truth;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'telltale-puppet-cli-'));
    mkdirSync(join(root, 'out'));
    const dirs = applyDirs(join(root, 'agent'), join(root, 'reportdir'));
    const [c] = await Promise.all([
      startCarbon(),
      puppetApply(dirs, 'web01.example.com', `file { '${root}/out/x': content => "x\\n" }\nexec { 'nope': command => '/bin/false' }\n`),
    ]);
    carbon = c;
    [truth] = (await rubyTruth([newestReport(dirs.reportdir, 'web01.example.com')])) as [Truth];
    config = join(root, 'integrations.yaml');
    writeFileSync(config, `emitter:\n  prefix: e2e\nintegrations:\n  puppet:\n    type: puppet_reports\n    reportdir: ${dirs.reportdir}\n`);
  }, 300_000); // a real `puppet apply` and carbon: slow while the suite shares 2 cores

  afterAll(async () => {
    await carbon?.destroy();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('--once sends every metric at the run\'s own timestamp; a second --once rewrites the same points', async () => {
    const ts = Math.floor(truth.time);
    const from = ts - 60;
    for (let pass = 0; pass < 2; pass++) {
      const r = runCli(['puppet_reports', '--once', '--config', config, '--graphite', `127.0.0.1:${carbon.linePort}`]);
      runs.push(r);
      expect(await r.exited, r.stderr()).toBe(0);
      expect(r.stderr()).toMatch(/failed resource host=web01\.example\.com resource=Exec\[nope\]/);
    }
    for (const [k, v] of Object.entries(truth.metrics)) {
      const points = await waitForWhisper(carbon, `e2e.puppet.web01_example_com.${k}`, (p) => p.length > 0, 20_000, from);
      // Exactly one point, at the run's time, with Puppet's value (whisper stores doubles).
      expect(points, k).toEqual([[ts, v]]);
    }
    expect(truth.status).toBe('failed');
    expect(await whisperFetch(carbon, 'e2e.puppet.web01_example_com.run.status.failed', from)).toEqual([[ts, 1]]);
    expect(await whisperFetch(carbon, 'e2e.puppet.web01_example_com.run.logs.err', from)).toEqual([[ts, truth.logs['err']]]);
  });
});
