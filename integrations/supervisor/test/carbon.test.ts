/**
 * The recorded supervisord stream replayed through the real CLI into real Etsy statsd and real
 * carbon-cache, read back from whisper: the whole chain a user runs, minus supervisord itself
 * (e2e.test.ts covers that part live).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { runCli } from '../../../test/helpers/cli.js';
import { startCarbon, startStatsd, waitForWhisper, type Carbon } from '../../../test/helpers/servers.js';
import { createProtocolParser, formatEnvelope } from '../protocol.js';

const carbonBin = requireBinary('carbon-cache', 'apt-get install graphite-carbon python3-whisper');
const whisperBin = carbonBin ? requireBinary('whisper-fetch', 'apt-get install python3-whisper') : undefined;
const capture = readFileSync(fileURLToPath(new URL('./fixtures/capture.bin', import.meta.url)));

/**
 * Only the crash loop's events (plus the wörker.v2 ones) from the capture: every new series is a
 * ~400 KB whisper file in the harness's schema, and creating the ~430 the full capture yields
 * takes carbon longer than a test should wait on a shared machine.
 */
function subset(): Buffer {
  const p = createProtocolParser();
  const keep = [...p.feed(capture), ...p.end()].flatMap((it) =>
    it.kind === 'event' && /processname:(crasher|wörker\.v2) /.test(it.event.payload.toString('utf8'))
      ? [formatEnvelope({ serial: it.event.header.serial!, poolserial: it.event.header.poolserial!, eventname: it.event.header.eventname, server: it.event.header.server, pool: it.event.header.pool }, it.event.payload)]
      : [],
  );
  return Buffer.concat(keep);
}

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

  it('counters and gauges through Etsy statsd land in whisper with the replayed values (crash loop subset)', async () => {
    const statsd = await startStatsd({ graphitePort: carbon.linePort, flushIntervalMs: 500 });
    try {
      const yaml = join(dir, 'statsd.yaml');
      writeFileSync(yaml, `emitter:\n  prefix: sv\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${statsd.port}\nintegrations:\n  supervisor:\n    resync: false\n`);
      const run = runCli(['supervisor', '--config', yaml], { input: subset() });
      expect(await run.exited, run.stderr()).toBe(0);
      const sum = (pts: [number, number][]): number => pts.reduce((a, [, v]) => a + v, 0);
      await waitForWhisper(carbon, 'stats.counters.sv.supervisor.crasher.crasher.fatal.count', (p) => sum(p) === 1, 20_000);
      await waitForWhisper(carbon, 'stats.counters.sv.supervisor.crasher.crasher.backoff.count', (p) => sum(p) === 2, 20_000);
      await waitForWhisper(carbon, 'stats.counters.sv.supervisor.w_rker_v2.w_rker_v2.starts.count', (p) => sum(p) === 1, 20_000);
      await waitForWhisper(carbon, 'stats.gauges.sv.supervisor.crasher.crasher.state', (p) => p.at(-1)?.[1] === 200, 20_000);
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
