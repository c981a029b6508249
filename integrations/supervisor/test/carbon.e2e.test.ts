/**
 * The recorded supervisord stream replayed through the real CLI into real Etsy statsd (read over
 * its admin port) and, in Sulphite mode, into real carbon-cache read back from whisper: the
 * receiving end a user runs, minus supervisord itself (supervisord.e2e.test.ts covers that part live).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { runCli } from '../../../test/helpers/cli.js';
import { startCarbon, startStatsd, until, waitForWhisper, type Carbon } from '../../../test/helpers/servers.js';

const carbonBin = requireBinary('carbon-cache', 'apt-get install graphite-carbon python3-whisper');
const whisperBin = carbonBin ? requireBinary('whisper-fetch', 'apt-get install python3-whisper') : undefined;
const capture = readFileSync(fileURLToPath(new URL('./fixtures/capture.bin', import.meta.url)));

describe.skipIf(!carbonBin || !whisperBin)('supervisor → real statsd / carbon → whisper', () => {
  let carbon: Carbon;
  let dir: string;
  beforeAll(async () => {
    carbon = await startCarbon();
    dir = mkdtempSync(join(tmpdir(), 'telltale-sv-carbon-'));
  });
  afterAll(async () => {
    await carbon?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('real Etsy statsd parses every line: counters, gauges and timers as the replay implies', async () => {
    // No backend and a long flush: statsd keeps what it parsed until we read it over its admin
    // port. (Through carbon, hundreds of fresh whisper files made reads flaky on this machine;
    // the Sulphite test below covers carbon itself.)
    const statsd = await startStatsd({ flushIntervalMs: 600_000 });
    try {
      const yaml = join(dir, 'statsd.yaml');
      writeFileSync(yaml, `emitter:\n  prefix: sv\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${statsd.port}\nintegrations:\n  supervisor:\n    resync: false\n`);
      const run = runCli(['supervisor', '--config', yaml], { input: capture });
      expect(await run.exited, run.stderr()).toBe(0);
      const read = async (what: string): Promise<string> => statsd.mgmt(what);
      await until(async () => (await read('counters')).includes("'sv.supervisor.crasher.crasher.fatal': 1"), 15_000, 'statsd to count the fatal');
      const counters = await read('counters');
      expect(counters).toContain("'sv.supervisor.crasher.crasher.backoff': 2");
      expect(counters).toContain("'sv.supervisor.good.good.starts': 3");
      expect(counters).toContain("'sv.supervisor.bad.bad.exits.unexpected': 1");
      expect(counters).toContain("'sv.supervisor.w_rker_v2.w_rker_v2.starts': 1");
      expect(counters).toContain("'statsd.bad_lines_seen': 0");
      const gauges = await read('gauges');
      expect(gauges).toContain("'sv.supervisor.crasher.crasher.state': 200");
      expect(gauges).toContain("'sv.supervisor.supervisord.processes.fatal': 1");
      const timers = await read('timers');
      expect(timers).toContain("'sv.supervisor.good.good.run_time'");
    } finally {
      await statsd.stop();
    }
  });

  it('compat sulphite straight into carbon: Sulphite paths hold value 1', async () => {
    const yaml = join(dir, 'sulphite.yaml');
    writeFileSync(yaml, `emitter:\n  prefix: ""\n  sinks:\n    - type: graphite\n      address: tcp://127.0.0.1:${carbon.linePort}\nintegrations:\n  supervisor:\n    prefix: events\n    compat: sulphite\n    sulphite_suffix: web01\n    resync: false\n`);
    const run = runCli(['supervisor', '--config', yaml], { input: capture });
    expect(await run.exited, run.stderr()).toBe(0);
    await waitForWhisper(carbon, 'events.crasher.backoff.process_state_fatal.web01', (p) => p.length === 1 && p[0]![1] === 1, 20_000);
    await waitForWhisper(carbon, 'events.wa_pool.starting.process_state_running.web01', (p) => p.length === 1 && p[0]![1] === 1, 20_000);
  });
});
