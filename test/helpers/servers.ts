/**
 * Real servers for tests, on free loopback ports, started without sleeping (readiness is a
 * probe with a deadline) and stopped by PID: Etsy statsd (npm `statsd`), carbon-cache (Debian
 * graphite-carbon) read back with whisper-fetch, and small line/datagram capture servers.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/**
 * A free loopback port below the kernel's ephemeral range (32768+). Servers that a test stops
 * and restarts (carbon) must get their port back: a port from the ephemeral range can be handed
 * to another test's `listen(0)` or outgoing socket in between.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port found in 20000-31999');
}

/** Poll `probe` until it returns true, at most `timeoutMs` (no fixed sleeps). */
export async function until(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Does something accept TCP connections on 127.0.0.1:port? */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

// ---------------------------------------------------------------------------------------------
// carbon-cache

export interface Carbon {
  linePort: number;
  picklePort: number;
  /** CACHE_QUERY_PORT: what graphite-web's CARBONLINK_HOSTS points at (`127.0.0.1:PORT:a`). */
  queryPort: number;
  dir: string;
  whisperDir: string;
  child: ChildProcess;
  log: () => string;
  /** Stop (SIGTERM by default; SIGKILL to simulate a crash). Data files stay. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same ports and data directory. */
  restart(): Promise<void>;
  /** Stop and delete the data directory. */
  destroy(): Promise<void>;
}

export const CARBON_BIN = '/usr/bin/carbon-cache';

/** `retentions`: the default schema's (e.g. `1s:10m` for clusters that create many small files). */
export async function startCarbon(o: { retentions?: string } = {}): Promise<Carbon> {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-carbon-'));
  const conf = join(dir, 'conf');
  mkdirSync(conf);
  const [linePort, picklePort, queryPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(conf, 'carbon.conf'),
    `[cache]
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = ${linePort}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = ${picklePort}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = ${queryPort}
ENABLE_UDP_LISTENER = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
WHISPER_AUTOFLUSH = True
CARBON_METRIC_INTERVAL = 10
ENABLE_TAGS = False
USE_FLOW_CONTROL = True
LOG_LISTENER_CONNECTIONS = False
`,
  );
  writeFileSync(
    join(conf, 'storage-schemas.conf'),
    `[carbon]
pattern = ^carbon\\.
retentions = 10s:1d

[default]
pattern = .*
retentions = ${o.retentions ?? '1s:2h,10s:2d,1h:400d'}
`,
  );
  writeFileSync(
    join(conf, 'storage-aggregation.conf'),
    `[count]
pattern = \\.count$
xFilesFactor = 0
aggregationMethod = sum

[default]
pattern = .*
xFilesFactor = 0
aggregationMethod = average
`,
  );
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  let log = '';
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn(CARBON_BIN, [`--config=${join(conf, 'carbon.conf')}`, '--instance=a', '--nodaemon', `--pidfile=${join(dir, 'carbon.pid')}`, 'start'], {
      cwd: dir,
      env: { ...process.env, GRAPHITE_ROOT: dir, GRAPHITE_STORAGE_DIR: storage, PYTHONWARNINGS: 'ignore' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const c = child;
    // The pickle port opens last, so a connect there means every listener is up.
    await until(async () => {
      if (c.exitCode !== null) throw new Error(`carbon-cache exited (${c.exitCode}):\n${log}`);
      return canConnect(picklePort);
    }, 20_000, 'carbon-cache to listen');
  };
  await launch();
  const carbon: Carbon = {
    linePort,
    picklePort,
    queryPort,
    dir,
    whisperDir: join(storage, 'whisper'),
    get child() {
      return child;
    },
    log: () => log,
    stop: (signal = 'SIGTERM') => killAndWait(child, signal),
    restart: launch,
    async destroy() {
      await killAndWait(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return carbon;
}

/** Non-null [timestamp, value] points of one series, read with Debian's whisper-fetch. */
export async function whisperFetch(carbon: Carbon, metric: string, fromSec = Math.floor(Date.now() / 1000) - 3600): Promise<[number, number][]> {
  const file = join(carbon.whisperDir, ...metric.split('.')) + '.wsp';
  if (!existsSync(file)) return [];
  const { stdout } = await execFileP('/usr/bin/whisper-fetch', ['--json', `--from=${fromSec}`, file], { env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
  const j = JSON.parse(stdout) as { start: number; step: number; values: (number | null)[] };
  const out: [number, number][] = [];
  j.values.forEach((v, i) => {
    if (v !== null) out.push([j.start + i * j.step, v]);
  });
  return out;
}

/** Poll whisper until `predicate` holds for the series (carbon writes asynchronously). */
export async function waitForWhisper(
  carbon: Carbon,
  metric: string,
  predicate: (points: [number, number][]) => boolean,
  timeoutMs = 20_000,
  fromSec?: number,
): Promise<[number, number][]> {
  let points: [number, number][] = [];
  await until(async () => {
    points = await whisperFetch(carbon, metric, fromSec);
    return predicate(points);
  }, timeoutMs, `whisper ${metric} (last read: ${JSON.stringify(points.slice(-5))})`, 200);
  return points;
}

// ---------------------------------------------------------------------------------------------
// Etsy statsd

export interface Statsd {
  port: number;
  mgmtPort: number;
  child: ChildProcess;
  log: () => string;
  /** statsd's management command (`counters`, `gauges`, `timers`, `health`…). */
  mgmt(command: string): Promise<string>;
  stop(): Promise<void>;
}

export const STATSD_JS = fileURLToPath(new URL('../../node_modules/statsd/stats.js', import.meta.url));
/**
 * statsd 0.9 calls util.log, gone since Node 23: the daemon runs on whatever Node runs the tests
 * with the shim telltale ships for its users preloaded (a no-op where util.log still exists).
 */
export const STATSD_UTIL_LOG_SHIM = fileURLToPath(new URL('../../contrib/statsd-util-log.cjs', import.meta.url));

export async function startStatsd(
  o: {
    graphitePort?: number;
    flushIntervalMs?: number;
    legacyNamespace?: boolean;
    percentThreshold?: number[];
    deleteIdleStats?: boolean;
    tcp?: boolean;
    /** Other statsd settings (e.g. prefixStats, so several nodes' self-metrics do not collide). */
    extra?: Record<string, unknown>;
  } = {},
): Promise<Statsd> {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-statsd-'));
  const [port, mgmtPort] = [await freePort(), await freePort()];
  const config = {
    port,
    address: '127.0.0.1',
    mgmt_port: mgmtPort,
    mgmt_address: '127.0.0.1',
    flushInterval: o.flushIntervalMs ?? 1000,
    percentThreshold: o.percentThreshold ?? [90, 95, 99],
    deleteIdleStats: o.deleteIdleStats ?? false,
    backends: o.graphitePort ? ['./backends/graphite'] : [],
    graphiteHost: '127.0.0.1',
    graphitePort: o.graphitePort ?? 2003,
    graphite: { legacyNamespace: o.legacyNamespace ?? false },
    servers: [{ server: o.tcp ? './servers/tcp' : './servers/udp', address: '127.0.0.1', port }],
    ...o.extra,
  };
  const file = join(dir, 'config.js');
  writeFileSync(file, `(${JSON.stringify(config)})`);
  let log = '';
  const child = spawn(process.execPath, ['--require', STATSD_UTIL_LOG_SHIM, STATSD_JS, file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const mgmt = (command: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.createConnection({ host: '127.0.0.1', port: mgmtPort });
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('END')) {
          s.end('quit\n');
          resolve(buf.slice(0, buf.indexOf('END')).trim());
        } else if (command === 'health' && buf.includes('health:')) {
          s.end('quit\n');
          resolve(buf.trim());
        }
      });
      s.on('error', reject);
      s.write(command + '\n');
    });
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`statsd exited (${child.exitCode}):\n${log}`);
    try {
      return (await mgmt('health')).includes('up');
    } catch {
      return false;
    }
  }, 15_000, 'statsd health: up');
  return {
    port,
    mgmtPort,
    child,
    log: () => log,
    mgmt,
    async stop() {
      await killAndWait(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// capture servers

export interface LineServer {
  port: number;
  lines: string[];
  connections: number;
  waitFor(predicate: (lines: string[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A TCP server that records newline-terminated lines (a stand-in for carbon where the bytes matter). */
export async function startLineServer(): Promise<LineServer> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const waiters = new Set<() => void>();
  const srv: LineServer = {
    port: 0,
    lines,
    connections: 0,
    waitFor(predicate, timeoutMs = 15_000) {
      if (predicate(lines)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(lines)) {
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`line server: condition not met within ${timeoutMs}ms (${lines.length} lines)`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((sock) => {
    srv.connections++;
    sockets.add(sock);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      for (const w of [...waiters]) w();
    });
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  srv.port = (server.address() as net.AddressInfo).port;
  return srv;
}

export interface UdpServer {
  port: number;
  datagrams: Buffer[];
  lines(): string[];
  waitFor(predicate: (s: UdpServer) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A UDP receiver with a large buffer that records datagrams (statsd wire checks). */
export async function startUdpServer(): Promise<UdpServer> {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  const datagrams: Buffer[] = [];
  const waiters = new Set<() => void>();
  const srv: UdpServer = {
    port: 0,
    datagrams,
    lines: () => datagrams.flatMap((d) => d.toString('utf8').split('\n').filter(Boolean)),
    waitFor(predicate, timeoutMs = 10_000) {
      if (predicate(srv)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(srv)) {
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`udp server: condition not met within ${timeoutMs}ms (${datagrams.length} datagrams)`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: () => new Promise((r) => sock.close(() => r())),
  };
  sock.on('message', (m) => {
    datagrams.push(m);
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  srv.port = sock.address().port;
  return srv;
}
