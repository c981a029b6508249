/**
 * End to end through the built `telltale` command: a fixture /proc, real Etsy statsd flushing
 * into a real carbon-cache, and a local HTTP receiver for the alert webhook.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { runCli, type CliRun } from '../../../test/helpers/cli.js';
import { startCarbon, startStatsd, waitForWhisper, type Carbon, type Statsd } from '../../../test/helpers/servers.js';
import { meminfo, procTree, type ProcTree } from './proc-tree.js';

const runs: CliRun[] = [];
const trees: ProcTree[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }
  for (const t of trees.splice(0)) t.cleanup();
});

function fixtureConfig(body: string): { tree: ProcTree; file: string } {
  const tree = procTree();
  trees.push(tree);
  tree.write('meminfo', meminfo(90));
  const file = join(tree.root, 'integrations.yaml');
  writeFileSync(file, body.replaceAll('PROC_ROOT', tree.root));
  return { tree, file };
}

describe('telltale host (CLI)', () => {
  it('--once --print shows the instantaneous gauges and exits 0', async () => {
    const { file } = fixtureConfig(`emitter:\n  prefix: e2e\nintegrations:\n  host:\n    proc_root: PROC_ROOT\n    disks: ["/"]\n`);
    const r = runCli(['host', '--once', '--print', '--config', file]);
    runs.push(r);
    expect(await r.exited, r.stderr()).toBe(0);
    // --print writes to stderr (stdout belongs to protocols); 'exit' can come before the last
    // chunk is read, so wait for the pipe to close.
    if (!r.child.stderr!.closed) await new Promise((res) => r.child.stderr!.once('close', res));
    const out = r.stderr();
    expect(out).toMatch(/^stats\.gauges\.e2e\.host\.memory\.percent 90 \d+$/m);
    expect(out).toMatch(/^stats\.gauges\.e2e\.host\.load\.1 [\d.]+ \d+$/m);
    expect(out).toMatch(/^stats\.gauges\.e2e\.host\.disk\.size\.root\.percent [\d.]+ \d+$/m);
  });

  it('a misspelt threshold is a config error naming the key (exit 78)', async () => {
    const { file } = fixtureConfig(`integrations:\n  host:\n    proc_root: PROC_ROOT\n    thresholds:\n      memory.percnt: 80\n`);
    const r = runCli(['host', '--once', '--print', '--config', file]);
    runs.push(r);
    expect(await r.exited, r.stderr()).toBe(78);
    // Reported by the loader at the key's position in the file.
    expect(r.stderr()).toMatch(/integrations\.yaml:5:7: integrations\.host\.thresholds\.memory\.percnt: .*did you mean "memory\.percent"/);
  });
});

const carbonBin = requireBinary('carbon-cache', 'apt-get install graphite-carbon python3-whisper');
const whisperBin = requireBinary('whisper-fetch', 'apt-get install python3-whisper');

describe.skipIf(!carbonBin || !whisperBin)('telltale host into real statsd + carbon, alerting a webhook', () => {
  let carbon: Carbon;
  let statsd: Statsd;
  let hook: Server;
  let hookUrl = '';
  const alerts: Record<string, unknown>[] = [];

  beforeAll(async () => {
    carbon = await startCarbon();
    statsd = await startStatsd({ graphitePort: carbon.linePort, flushIntervalMs: 1000 });
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
  });
  afterAll(async () => {
    hook?.closeAllConnections();
    await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
    await statsd?.stop();
    await carbon?.destroy();
  });

  it('memory.percent reaches whisper, the crossing alerts once, and SIGTERM exits cleanly', async () => {
    const { tree, file } = fixtureConfig(
      [
        'emitter:',
        '  prefix: e2e',
        'integrations:',
        '  host:',
        '    interval: 200ms',
        '    proc_root: PROC_ROOT',
        '    disks: ["/"]',
        '    thresholds:',
        '      memory.percent: 80',
        '    alerts:',
        '      - type: webhook',
        `        url: ${hookUrl}`,
        '',
      ].join('\n'),
    );
    const r = runCli(['host', '--config', file, '--statsd', `127.0.0.1:${statsd.port}`]);
    runs.push(r);
    const points = await waitForWhisper(carbon, 'stats.gauges.e2e.host.memory.percent', (p) => p.some(([, v]) => v === 90));
    expect(points.every(([, v]) => v === 90)).toBe(true);
    await waitForWhisper(carbon, 'stats.gauges.e2e.host.disk.size.root.percent', (p) => p.length > 0);

    // Recover, then wait for the recovery alert.
    tree.write('meminfo', meminfo(30));
    await r.waitForStderr(/RECOVERED e2e\.host\.memory\.percent = 30 <= 76/);
    const deadline = Date.now() + 10_000;
    while (alerts.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(alerts.map((a) => [a['state'], a['metric'], a['value']])).toEqual([
      ['fired', 'e2e.host.memory.percent', 90],
      ['recovered', 'e2e.host.memory.percent', 30],
    ]);
    // Several samples at 90 % went by, but only one ALERT line.
    expect(r.stderr().match(/ALERT e2e\.host\.memory\.percent/g)).toHaveLength(1);

    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  });
});
