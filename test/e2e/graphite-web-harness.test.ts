/**
 * The graphite-web harness itself: it starts in front of a real carbon-cache, renders what carbon
 * holds (from whisper and, through carbonlink, from carbon's memory), draws a PNG, and stores and
 * returns events.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireGraphiteWeb, startGraphiteWeb, type GraphiteWeb } from '../helpers/graphite-web.js';
import { startCarbon, waitForWhisper, type Carbon } from '../helpers/servers.js';
import { requireBinary } from '../helpers/binaries.js';

const ok = requireGraphiteWeb() && !!requireBinary('carbon-cache', 'apt-get install graphite-carbon');

function sendLines(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port }, () => s.end(text));
    s.once('close', () => resolve());
    s.once('error', reject);
  });
}

describe.skipIf(!ok)('graphite-web harness (real graphite-web + carbon-cache)', () => {
  let carbon: Carbon;
  let web: GraphiteWeb;
  beforeAll(async () => {
    carbon = await startCarbon();
    web = await startGraphiteWeb({ whisperDirs: [carbon.whisperDir], carbonlinkHosts: [`127.0.0.1:${carbon.queryPort}:a`] });
  }, 90_000);
  afterAll(async () => {
    await web?.stop();
    await carbon?.destroy();
  });

  it('renders what carbon received, as JSON and as a PNG', async () => {
    const now = Math.floor(Date.now() / 1000);
    await sendLines(carbon.linePort, `harness.web.a 7 ${now - 3}\nharness.web.a 9 ${now - 2}\n`);
    await waitForWhisper(carbon, 'harness.web.a', (p) => p.length >= 2);
    const [series, ...rest] = await web.render(['harness.web.a'], { from: String(now - 60), until: String(now + 1) });
    expect(rest).toEqual([]);
    expect(series!.target).toBe('harness.web.a');
    const points = series!.datapoints.filter((p) => p[0] !== null);
    expect(points).toEqual([
      [7, now - 3],
      [9, now - 2],
    ]);
    const png = await web.get(`/render?target=harness.web.a&from=${now - 60}&until=${now + 1}&width=300&height=200`);
    expect(png.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await png.arrayBuffer());
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
  });

  it('stores an event and returns it from /events/get_data', async () => {
    const when = Math.floor(Date.now() / 1000) - 10;
    const res = await fetch(`${web.url}/events/`, {
      method: 'POST',
      body: JSON.stringify({ what: 'harness deploy', tags: ['harness', 'deploy'], when, data: 'v1.2.3' }),
    });
    expect(res.status).toBe(200);
    const events = await web.events({ tags: 'harness', from: '-1h' });
    expect(events.map(({ what, tags, when: w, data }) => ({ what, tags, when: w, data }))).toEqual([
      { what: 'harness deploy', tags: ['harness', 'deploy'], when, data: 'v1.2.3' },
    ]);
    // The render side: events('tag') is a series with a 1 in the bucket of each event.
    const [series] = await web.render([`events('harness')`], { from: String(when - 30), until: String(when + 30) });
    expect(series!.datapoints.filter((p) => p[0] !== null).map((p) => p[0])).toEqual([1]);
  });
});
