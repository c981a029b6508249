/**
 * The harness itself against the real servers: carbon stores an explicit-timestamp line,
 * statsd answers health. If these fail, every e2e test below is meaningless.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../helpers/binaries.js';
import { startCarbon, startStatsd, waitForWhisper, type Carbon, type Statsd } from '../helpers/servers.js';

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
