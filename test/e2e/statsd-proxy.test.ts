/**
 * A statsd cluster as Etsy statsd builds it: telltale's statsd sink -> statsd's own proxy.js
 * (consistent hashing of names over the nodes, health-checked) -> 2 statsd nodes
 * (deleteIdleStats, as the proxy requires) -> carbon. Every name must be aggregated by one node
 * only: a name split over two nodes would be flushed twice into the same Graphite series and
 * carbon would keep one of the two counts, so the totals in whisper prove the routing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmitter } from '../../shared/emitter/emitter.js';
import { createStatsdSink } from '../../shared/emitter/statsd-sink.js';
import { requireBinary } from '../helpers/binaries.js';
import { whisperFetchMany } from '../helpers/cluster.js';
import { STATSD_UTIL_LOG_SHIM, freePort, killAndWait, startCarbon, startStatsd, until, waitForWhisper, type Carbon, type Statsd } from '../helpers/servers.js';

const PROXY_JS = fileURLToPath(new URL('../../node_modules/statsd/proxy.js', import.meta.url));
const ok = !!requireBinary('carbon-cache', 'apt-get install graphite-carbon');

function mgmt(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    let buf = '';
    // A reply ends with its `nodes:` line. proxy.js writes `uptime:` and `nodes:` separately:
    // when they arrive apart, the first alone is not the whole reply.
    s.setTimeout(5000, () => s.destroy(new Error(`no complete reply to ${command} in 5 s: ${JSON.stringify(buf.slice(0, 200))}`)));
    s.on('data', (d) => {
      buf += d.toString();
      const at = buf.indexOf('nodes:');
      if (at >= 0 && buf.includes('\n', at)) {
        s.end('quit\n');
        resolve(buf);
      }
    });
    s.on('error', reject);
    s.write(`${command}\n`);
  });
}

describe.skipIf(!ok)('telltale -> statsd proxy.js -> statsd nodes -> carbon', () => {
  let carbon: Carbon;
  const nodes: Statsd[] = [];
  let proxy: ChildProcess;
  let proxyPort: number;
  const dir = mkdtempSync(join(tmpdir(), 'telltale-statsd-proxy-'));

  beforeAll(async () => {
    carbon = await startCarbon();
    // 2 s flushes: one node never writes a series twice within carbon's 1 s slot.
    // Each node's own counters under its own name, as the proxy's docs advise.
    nodes.push(...(await Promise.all([0, 1].map((i) => startStatsd({ graphitePort: carbon.linePort, deleteIdleStats: true, flushIntervalMs: 2000, extra: { prefixStats: `statsd_node${i}` } })))));
    const [port, mgmtPort] = [await freePort(), await freePort()];
    proxyPort = port;
    const conf = join(dir, 'proxy.js');
    writeFileSync(
      conf,
      `(${JSON.stringify({
        nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port, adminport: n.mgmtPort })),
        server: './servers/udp',
        host: '127.0.0.1',
        port,
        udp_version: 'udp4',
        mgmt_address: '127.0.0.1',
        mgmt_port: mgmtPort,
        forkCount: 0,
        checkInterval: 500,
        cacheSize: 10000,
      })})`,
    );
    let log = '';
    proxy = spawn(process.execPath, ['--require', STATSD_UTIL_LOG_SHIM, PROXY_JS, conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    proxy.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    proxy.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    // Both nodes in the ring on three status reads in a row (it drops unchecked nodes at start).
    // What the proxy said last goes into the error, so a failure shows why.
    let streak = 0;
    let status = '';
    await until(async () => {
      if (proxy.exitCode !== null) throw new Error(`proxy.js exited:\n${log}`);
      status = await mgmt(mgmtPort, 'status').catch((e: unknown) => `(status failed: ${(e as Error).message})`);
      streak = nodes.every((n) => status.includes(`127.0.0.1:${n.port}`)) ? streak + 1 : 0;
      return streak >= 3;
    }, 15_000, 'proxy.js with both nodes healthy', 600).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nlast status: ${status.slice(0, 500)}\nproxy.js output:\n${log.slice(-2000)}`);
    });
  }, 60_000);

  afterAll(async () => {
    if (proxy) await killAndWait(proxy);
    await Promise.all(nodes.map((n) => n.stop()));
    await carbon?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every counter reaches carbon whole: each name is aggregated by exactly one node', async () => {
    const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: proxyPort } });
    const emitter = createEmitter({ sinks: [sink], prefix: 'proxied', flushIntervalMs: 60_000, selfMetrics: false });
    const names = Array.from({ length: 120 }, (_, i) => `web${i % 6}.requests.status_${200 + (i % 60)}`);
    const expected = new Map<string, number>();
    const from = Math.floor(Date.now() / 1000) - 5;
    for (let round = 0; round < 3; round++) {
      names.forEach((n, i) => {
        const v = 1 + ((i + round) % 7);
        emitter.counter(n, v);
        expected.set(n, (expected.get(n) ?? 0) + v);
      });
      await emitter.flush();
      await new Promise((r) => setTimeout(r, 900));
    }
    await emitter.close();

    const sumOf = (pts: [number, number][]): number => pts.reduce((a, [, v]) => a + v, 0);
    const series = [...expected.keys()].map((n) => `stats.counters.proxied.${n}.count`);
    let wrong: string[] = [];
    // statsd flushes every 2 s: poll, bounded, until the totals are whole (or stay short).
    await until(
      async () => {
        const got = await whisperFetchMany(carbon.whisperDir, series, from);
        wrong = [...expected].flatMap(([n, total]) => {
          const sum = sumOf(got.get(`stats.counters.proxied.${n}.count`) ?? []);
          return sum === total ? [] : [`${n}: ${sum} != ${total}`];
        });
        return wrong.length === 0;
      },
      20_000,
      'whole totals in whisper',
      500,
    ).catch(() => undefined);
    expect(wrong).toEqual([]);
    // Both nodes did part of the work: the ring spread the names.
    for (const i of [0, 1]) {
      const pts = await waitForWhisper(carbon, `stats.counters.statsd_node${i}.metrics_received.count`, (p) => sumOf(p) > 0, 20_000, from);
      expect(sumOf(pts), `node ${i} metrics received`).toBeLessThan(names.length * 3);
    }
  });
});
