/**
 * The harness itself against the real servers: carbon stores an explicit-timestamp line,
 * statsd answers health. If these fail, every e2e test below is meaningless.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/binaries.js';
import { STATSD_UTIL_LOG_SHIM, startCarbon, startStatsd, waitForWhisper, type Carbon, type Statsd } from '../helpers/servers.js';

const carbonBin = requireBinary('carbon-cache', 'apt-get install graphite-carbon python3-whisper');
const whisperBin = requireBinary('whisper-fetch', 'apt-get install python3-whisper');

describe.skipIf(!carbonBin || !whisperBin)('harness: carbon-cache', () => {
  let carbon: Carbon;
  beforeAll(async () => {
    carbon = await startCarbon();
  });
  afterAll(async () => carbon?.destroy());

  it('stores a plaintext line at its own timestamp', async () => {
    const ts = Math.floor(Date.now() / 1000) - 30;
    await new Promise<void>((resolve, reject) => {
      const s = net.createConnection({ host: '127.0.0.1', port: carbon.linePort }, () => s.end(`harness.plain 123.5 ${ts}\n`, () => resolve()));
      s.on('error', reject);
    });
    const points = await waitForWhisper(carbon, 'harness.plain', (p) => p.length > 0);
    expect(points).toContainEqual([ts, 123.5]);
  });
});

describe('harness: Etsy statsd', () => {
  let statsd: Statsd;
  beforeAll(async () => {
    statsd = await startStatsd();
  });
  afterAll(async () => statsd?.stop());

  it('answers health and counts a counter sent over UDP', async () => {
    expect(await statsd.mgmt('health')).toContain('up');
    const dgram = await import('node:dgram');
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.send('harness.hits:3|c', statsd.port, '127.0.0.1', () => r()));
    sock.close();
    let counters = '';
    for (let i = 0; i < 100 && !counters.includes("'harness.hits': 3"); i++) {
      counters = await statsd.mgmt('counters');
      if (!counters.includes("'harness.hits': 3")) await new Promise((r) => setTimeout(r, 20));
    }
    expect(counters).toContain("'harness.hits': 3");
  });
});

describe('contrib/statsd-util-log.cjs (statsd 0.9 on Node 23+)', () => {
  const run = (code: string): string => execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  const shim = JSON.stringify(STATSD_UTIL_LOG_SHIM);

  it('puts util.log back where it is missing, in the format statsd logs on Node 20', () => {
    // `delete` stands in for Node 23+, so this runs the shim's own function on every Node.
    const out = run(`const u = require('node:util'); delete u.log; require(${shim}); u.log('a %s', 'b', 3)`);
    expect(out).toMatch(/^\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d:\d\d:\d\d - a b 3\n$/);
  });

  it('leaves an existing util.log alone', () => {
    const out = run(`const u = require('node:util'); const own = u.log = () => undefined; require(${shim}); process.stdout.write(String(u.log === own))`);
    expect(out).toBe('true');
  });
});
