/**
 * telltale on a real Graphite cluster, with faults while it sends.
 *
 * 2 carbon-c-relays (fnv1a_ch, replication 2) -> 3 carbon-caches, each with its own whisper dir.
 * Read side, as Graphite clusters are read: one graphite-web per cache (its whisper dir, and its
 * cache through CARBONLINK_HOSTS), the first also federating the other two (CLUSTER_SERVERS), so
 * one /render merges every replica of a series. (A single graphite-web over several whisper dirs
 * reads each series from one file only, the most recently written, so a replica's gap would show.)
 *
 * A fleet of 3 telltale processes (own prefix each; access_log on a log the test appends to, and
 * host) sends through the relays with routing: failover. Meanwhile: kill -9 one cache and restart
 * it; stop one relay and start it again. Each process also prints every line it sends (console
 * sink: same aggregation, same flush): that is the truth every datapoint is checked against.
 * Then the same names go straight to the caches with routing: fnv1a_ch, replication: 2 and must
 * land where carbon-c-relay -t says.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmitter } from '../../shared/emitter/emitter.js';
import { createGraphiteSink } from '../../shared/emitter/graphite-sink.js';
import { requireBinary } from '../helpers/binaries.js';
import { REPO_ROOT, runCli, type CliRun } from '../helpers/cli.js';
import { relayRoutes, startCluster, whisperFetchMany, type Cluster } from '../helpers/cluster.js';
import { requireGraphiteWeb, startGraphiteWeb, type GraphiteWeb } from '../helpers/graphite-web.js';
import { freePort, until, type Carbon } from '../helpers/servers.js';

const ok = !!requireBinary('carbon-c-relay', 'apt-get install carbon-c-relay') && !!requireBinary('carbon-cache', 'apt-get install graphite-carbon') && requireGraphiteWeb();

const FLEET = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** name -> ts -> values printed (a flush can land twice in one second; either value may win). */
type Truth = Map<string, Map<number, number[]>>;

function parseTruth(stderr: string, into: Truth): void {
  for (const line of stderr.split('\n')) {
    const m = /^(\S+) (\S+) (\d+)$/.exec(line);
    if (!m || !m[1]!.includes('fleet.')) continue;
    let byTs = into.get(m[1]!);
    if (!byTs) into.set(m[1]!, (byTs = new Map()));
    const v = Number(m[2]);
    const ts = Number(m[3]);
    byTs.set(ts, [...(byTs.get(ts) ?? []), v]);
  }
}

function sumCounter(truth: Truth, name: string): number {
  let n = 0;
  for (const vs of truth.get(name)?.values() ?? []) n += vs.reduce((a, b) => a + b, 0);
  return n;
}

const sampleLog = readFileSync(join(REPO_ROOT, 'integrations/access_log/test/fixtures/elastic-examples-apache_logs.log'), 'utf8').split('\n').filter(Boolean);

describe.skipIf(!ok)('telltale on a carbon-c-relay cluster, with faults (real relays, caches, graphite-web)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-cluster-'));
  let cluster: Cluster;
  const webs: GraphiteWeb[] = [];
  const fleet: CliRun[] = [];
  const truth: Truth = new Map();
  const events: Record<string, number> = {};

  beforeAll(async () => {
    cluster = await startCluster({ caches: 3, relays: 2, kind: 'fnv1a_ch', replication: 2, retentions: '1s:30m' });
    // One migrate, then the other two start from a copy of its database, alongside each other;
    // the backends' ports are chosen first so the front can name them.
    const ports = [await freePort(), await freePort()];
    const [c0, c1, c2] = cluster.caches as [Carbon, Carbon, Carbon];
    const first = await startGraphiteWeb({ port: ports[0]!, whisperDirs: [c1.whisperDir], carbonlinkHosts: [`127.0.0.1:${c1.queryPort}:a`] });
    webs.push(first);
    const migratedDatabase = join(first.dir, 'graphite.db');
    const started = await Promise.allSettled([
      startGraphiteWeb({
        migratedDatabase,
        whisperDirs: [c0.whisperDir],
        carbonlinkHosts: [`127.0.0.1:${c0.queryPort}:a`],
        clusterServers: ports.map((p) => `127.0.0.1:${p}`),
        extraSettings: 'REMOTE_STORE_MERGE_RESULTS = True\nREMOTE_FIND_CACHE_DURATION = 0\nFIND_CACHE_DURATION = 0\n',
      }),
      startGraphiteWeb({ migratedDatabase, port: ports[1]!, whisperDirs: [c2.whisperDir], carbonlinkHosts: [`127.0.0.1:${c2.queryPort}:a`] }),
    ]);
    // Every one that started is stopped by afterAll, even if the other failed.
    for (const r of started) if (r.status === 'fulfilled') webs.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    // The front (federating) instance first: the test reads through webs[0].
    webs.unshift(...webs.splice(webs.indexOf((started[0] as PromiseFulfilledResult<GraphiteWeb>).value), 1));
  }, 120_000);

  afterAll(async () => {
    for (const r of fleet) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await Promise.all(webs.map((w) => w.stop()));
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every datapoint the fleet sent is readable at its timestamp through graphite-web; the only losses are counted', async () => {
    const [relayA, relayB] = cluster.relays as [NonNullable<(typeof cluster.relays)[0]>, NonNullable<(typeof cluster.relays)[0]>];
    const logs: string[] = [];
    for (let i = 0; i < FLEET; i++) {
      const log = join(dir, `host${i}.access.log`);
      writeFileSync(log, '');
      logs.push(log);
      const yaml = join(dir, `host${i}.yaml`);
      writeFileSync(
        yaml,
        `emitter:
  prefix: fleet.host${i}
  flush_interval: 1s
  sinks:
    - type: graphite
      address: [tcp://127.0.0.1:${relayA.port}, tcp://127.0.0.1:${relayB.port}]
      routing: failover
      failback_after: 2s
    - type: console
live:
  enabled: false
state_dir: ${join(dir, `state${i}`)}
integrations:
  web:
    type: access_log
    path: ${log}
    format: combined
    start_at: beginning
    flush_interval: 1s
  host:
    type: host
    interval: 1s
`,
      );
      fleet.push(runCli(['run', '--config', yaml]));
    }
    let line = 0;
    const feeder = setInterval(() => {
      for (const log of logs) appendFileSync(log, sampleLog.slice(line, line + 20).join('\n') + '\n');
      line = (line + 20) % (sampleLog.length - 20);
    }, 200);
    try {
      await sleep(5000);
      const victim = cluster.caches[1]!;
      events['killed'] = Math.floor(Date.now() / 1000);
      await victim.stop('SIGKILL');
      await sleep(5000);
      await victim.restart();
      events['restarted'] = Math.floor(Date.now() / 1000);
      await sleep(3000);
      await relayA.stop('SIGTERM');
      await sleep(5000);
      await relayA.start();
      // Each process reconnects (jittered backoff, up to 8 s after a 5 s outage) and, after
      // failback_after, returns to relay A: wait for all of them to say so, bounded.
      await Promise.all(fleet.map((r) => r.waitForStderr(new RegExp(`failover: now sending to 127\\.0\\.0\\.1:${relayA.port}`), 30_000)));
      await sleep(2000);
    } finally {
      clearInterval(feeder);
    }
    for (const r of fleet) r.child.kill('SIGTERM');
    const codes = await Promise.all(fleet.map((r) => r.exited));
    expect(codes).toEqual(Array(FLEET).fill(0));
    for (const r of fleet) parseTruth(r.stderr(), truth);

    // The fleet really did fail over and come back, and said so in its own metrics.
    for (let i = 0; i < FLEET; i++) {
      const self = `stats.counters.fleet.host${i}.telltale.emitter.graphite`;
      expect(sumCounter(truth, `${self}.switches.count`), `host${i} switches`).toBeGreaterThanOrEqual(2);
      expect(sumCounter(truth, `${self}.destination.127_0_0_1_${relayA.port}.errors.count`), `host${i} relay A errors`).toBeGreaterThanOrEqual(1);
      expect(fleet[i]!.stderr()).toContain(`failover: now sending to 127.0.0.1:${relayB.port}`);
      expect(fleet[i]!.stderr()).toContain(`failover: now sending to 127.0.0.1:${relayA.port}`);
    }
    // Drops the fleet counted (queue overflow, closed, ...): the only losses allowed.
    let counted = 0;
    for (const [name] of truth) if (/\.telltale\.emitter\.graphite\.dropped\.[^.]+\.count$/.test(name)) counted += sumCounter(truth, name);

    const names = [...truth.keys()];
    expect(names.length).toBeGreaterThan(100 * FLEET);
    const missing = new Map<string, number[]>();
    const check = async (): Promise<number> => {
      missing.clear();
      let n = 0;
      const from = Math.min(...[...truth.values()].flatMap((m) => [...m.keys()])) - 5;
      for (let i = 0; i < names.length; i += 100) {
        const batch = names.slice(i, i + 100);
        const series = await webs[0]!.render(batch, { from: String(from), until: String(Math.floor(Date.now() / 1000) + 5) });
        const got = new Map(series.map((s) => [s.target, new Map(s.datapoints.filter(([v]) => v !== null).map(([v, t]) => [t, v as number]))]));
        for (const name of batch) {
          for (const [ts, values] of truth.get(name)!) {
            const v = got.get(name)?.get(ts);
            if (v === undefined || !values.some((x) => Math.abs(x - v) <= 1e-6 * Math.max(1, Math.abs(x)))) {
              missing.set(name, [...(missing.get(name) ?? []), ts]);
              n++;
            }
          }
        }
      }
      return n;
    };
    // Relays may still be delivering a restarted cache's backlog: poll, bounded.
    let lost = -1;
    await until(async () => (lost = await check()) <= counted, 30_000, 'every datapoint readable', 1000).catch(() => undefined);
    expect([...missing.entries()].slice(0, 5), `${lost} datapoints unreadable, ${counted} drops counted`).toEqual([]);
    expect(counted).toBe(0);

    // Replication carried the series whose primary cache was killed: their points from the
    // outage are there (checked above) and there are some.
    const routes = relayRoutes(relayA.conf, names);
    const victimPort = `127.0.0.1:${cluster.caches[1]!.linePort}`;
    const outage = names.filter((n) => routes.get(n)?.[0] === victimPort && [...truth.get(n)!.keys()].some((t) => t >= events['killed']! && t < events['restarted']!));
    expect(outage.length).toBeGreaterThan(10);
  }, 180_000);

  it('the same names sent with routing fnv1a_ch, replication 2 straight to the caches land where carbon-c-relay puts them', async () => {
    const names = [...truth.keys()];
    expect(names.length).toBeGreaterThan(0);
    const conf = cluster.relays[0]!.conf;
    const direct = names.map((n) => `direct.${n}`);
    const routes = relayRoutes(conf, [...names, ...direct]);
    const sink = createGraphiteSink({
      target: {
        destinations: cluster.caches.map((c) => ({ address: { transport: 'tcp' as const, host: '127.0.0.1', port: c.linePort } })),
        routing: 'fnv1a_ch',
        replication: 2,
      },
      flushIntervalMs: 1000,
    });
    const emitter = createEmitter({ sinks: [sink], prefix: '', selfMetrics: false });
    const ts = Math.floor(Date.now() / 1000);
    for (const n of [...names, ...direct]) emitter.datapoint(n, 4242, ts);
    const stats = await emitter.close({ timeoutMs: 10_000 });
    expect(stats.sinks['graphite']!.sent).toBe((names.length + direct.length) * 2);
    expect(stats.sinks['graphite']!.dropped).toEqual({});

    const file = (c: (typeof cluster.caches)[0], n: string) => join(c.whisperDir, ...n.split('.')) + '.wsp';
    const placed = (n: string) => cluster.caches.filter((c) => existsSync(file(c, n))).map((c) => `127.0.0.1:${c.linePort}`);
    // Fresh names exist exactly on the two caches the relay would pick.
    await until(() => direct.every((n) => placed(n).length >= 2), 30_000, 'direct names written', 500);
    const wrong = direct.filter((n) => placed(n).sort().join() !== [...routes.get(n)!].sort().join());
    expect(wrong.slice(0, 5)).toEqual([]);
    // The fleet's names, already placed by the relays, gain no file on a third cache, and the new
    // point reaches both of the relay's caches.
    expect(names.filter((n) => placed(n).sort().join() !== [...routes.get(n)!].sort().join()).slice(0, 5)).toEqual([]);
    for (const c of cluster.caches) {
      const mine = names.filter((n) => routes.get(n)!.includes(`127.0.0.1:${c.linePort}`));
      let short: string[] = [];
      await until(
        async () => {
          const got = await whisperFetchMany(c.whisperDir, mine, ts - 2, ts + 1);
          short = mine.filter((n) => !got.get(n)?.some(([t, v]) => t === ts && v === 4242));
          return short.length === 0;
        },
        15_000,
        `the new point on 127.0.0.1:${c.linePort}`,
        500,
      ).catch(() => undefined);
      expect(short.slice(0, 5), `127.0.0.1:${c.linePort}`).toEqual([]);
    }
  }, 120_000);
});
