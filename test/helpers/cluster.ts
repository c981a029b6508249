/**
 * A real Graphite cluster on loopback for tests: carbon-c-relay instances (Debian
 * carbon-c-relay) in front of several carbon-caches (test/helpers/servers.ts startCarbon), each
 * cache with its own whisper dir. Everything on free ports, stopped by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort, killAndWait, startCarbon, until, type Carbon } from './servers.js';

export const RELAY_BIN = '/usr/bin/carbon-c-relay';

export interface Relay {
  port: number;
  conf: string;
  child: ChildProcess;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port with the same configuration. */
  start(): Promise<void>;
}

/** `cluster` block routing everything to the caches' line ports, as an operator would write it. */
export function relayClusterConf(kind: string, replication: number, caches: readonly Carbon[]): string {
  const members = caches.map((c) => `        127.0.0.1:${c.linePort}\n`).join('');
  return `cluster caches\n    ${kind} replication ${replication}\n${members}    ;\nmatch * send to caches;\n`;
}

export async function startRelay(clusterConf: string, name: string): Promise<Relay> {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-relay-'));
  const port = await freePort();
  const conf = join(dir, 'relay.conf');
  // Only a TCP listener on loopback (the default also opens UDP and a unix socket in /tmp).
  writeFileSync(conf, `listen\n    type linemode\n        127.0.0.1:${port} proto tcp\n    ;\n${clusterConf}`);
  let log = '';
  let child!: ChildProcess;
  const start = async (): Promise<void> => {
    // -s: no statistics series of its own in the caches; drops and queue pressure go to the log.
    // -E: keep idle client connections (telltale keeps one open to its standby relay).
    child = spawn(RELAY_BIN, ['-f', conf, '-s', '-E', '-w', '1', '-H', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-100_000)));
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-100_000)));
    const c = child;
    await until(async () => {
      if (c.exitCode !== null) throw new Error(`carbon-c-relay exited (${c.exitCode}):\n${log}`);
      return canConnect(port);
    }, 10_000, `carbon-c-relay ${name} to listen`);
  };
  await start();
  return {
    port,
    conf,
    get child() {
      return child;
    },
    log: () => log,
    stop: (signal = 'SIGTERM') => killAndWait(child, signal),
    start,
  };
}

/** Where `carbon-c-relay -t` routes each name under `conf` (host:port list per name, primary first). */
export function relayRoutes(conf: string, names: readonly string[]): Map<string, string[]> {
  const r = spawnSync(RELAY_BIN, ['-t', '-f', conf], { input: names.map((n) => `${n} 1 1\n`).join(''), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`carbon-c-relay -t exited ${r.status}: ${r.stderr}`);
  const routes = new Map<string, string[]>();
  let dests: string[] | undefined;
  for (const line of r.stdout.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^ {4}\* -> (\S+)$/.exec(line))) {
      dests = [];
      routes.set(m[1]!, dests);
    } else if (dests && (m = /^ {8}(\S+:\d+)$/.exec(line))) dests.push(m[1]!);
  }
  return routes;
}

export interface Cluster {
  caches: Carbon[];
  relays: Relay[];
  destroy(): Promise<void>;
}

/** `relays` carbon-c-relays hashing (kind, replication) over `caches` carbon-caches. */
export async function startCluster(o: { caches: number; relays: number; kind: string; replication: number; retentions?: string }): Promise<Cluster> {
  const caches: Carbon[] = [];
  const relays: Relay[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.all(relays.map((r) => r.stop('SIGKILL')));
    for (const r of relays) rmSync(join(r.conf, '..'), { recursive: true, force: true });
    await Promise.all(caches.map((c) => c.destroy()));
  };
  try {
    caches.push(...(await Promise.all(Array.from({ length: o.caches }, () => startCarbon(o.retentions ? { retentions: o.retentions } : {})))));
    const conf = relayClusterConf(o.kind, o.replication, caches);
    for (let i = 0; i < o.relays; i++) relays.push(await startRelay(conf, `relay${i}`));
  } catch (e) {
    await destroy();
    throw e;
  }
  return { caches, relays, destroy };
}

/**
 * Non-null [timestamp, value] points of many series of one whisper tree in one python3 run
 * (whisper-fetch per series costs an interpreter start-up each).
 */
export async function whisperFetchMany(whisperDir: string, names: readonly string[], fromSec: number, untilSec = Math.floor(Date.now() / 1000) + 1): Promise<Map<string, [number, number][]>> {
  const script = `
import json, os, sys, whisper
req = json.load(sys.stdin)
out = {}
for name in req['names']:
    path = os.path.join(req['dir'], *name.split('.')) + '.wsp'
    if not os.path.exists(path):
        continue
    (start, end, step), values = whisper.fetch(path, req['from'], req['until'])
    out[name] = [[start + i * step, v] for i, v in enumerate(values) if v is not None]
json.dump(out, sys.stdout)
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], {
    input: JSON.stringify({ dir: whisperDir, names, from: fromSec, until: untilSec }),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  });
  if (r.status !== 0) throw new Error(`whisper read failed: ${r.stderr}`);
  return new Map(Object.entries(JSON.parse(r.stdout) as Record<string, [number, number][]>));
}
