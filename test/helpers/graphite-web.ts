/**
 * A real graphite-web (Debian `graphite-web` 1.1, a Django 3.2 app) for tests, on a free loopback
 * port, reading one or several whisper directories and, through CARBONLINK_HOSTS, the points
 * still in carbon-caches' memory.
 *
 * Debian installs Django for its own interpreter, so this always runs `/usr/bin/python3`, never
 * whatever `python3` comes first on PATH (pyenv shims find no Django). Settings come from a
 * generated module in a temp dir that graphite.settings imports through GRAPHITE_SETTINGS_MODULE,
 * so nothing under /etc/graphite is read or written. Start-up: `migrate --run-syncdb` (a few
 * seconds: events and dashboards live in sqlite), then `runserver --noreload` (one process, so
 * one PID to stop), ready when GET /events/get_data answers 200.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killAndWait, until } from './servers.js';

/** Debian's interpreter: the one its python3-django and graphite-web are installed for. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const GRAPHITE_SETTINGS = '/usr/lib/python3/dist-packages/graphite/settings.py';

/**
 * True when Debian's graphite-web is installed. Otherwise prints a loud skip reason, or throws
 * under CI=true (a missing server is a failure there, never a skip), like requireBinary.
 */
export function requireGraphiteWeb(): boolean {
  if (existsSync(SYSTEM_PYTHON) && existsSync(GRAPHITE_SETTINGS)) return true;
  const msg = `graphite-web not found (${GRAPHITE_SETTINGS}): apt-get install graphite-web`;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and ${msg}`);
  process.stderr.write(`\n!!! SKIPPING tests that need ${msg}\n\n`);
  return false;
}

export interface GraphiteWebOptions {
  /** Whisper trees to read (graphite-web's STANDARD_DIRS). Default: one empty dir of its own. */
  whisperDirs?: string[];
  /** carbon-cache query ports, `host:port[:instance]` (CARBONLINK_HOSTS). Default: none. */
  carbonlinkHosts?: string[];
  /** Other graphite-webs to federate (`host:port`, CLUSTER_SERVERS). Default: none. */
  clusterServers?: string[];
  /** Extra Python lines appended to the generated settings module. */
  extraSettings?: string;
  /**
   * Listen here instead of a fresh free port: lets a federating graphite-web be configured with
   * its CLUSTER_SERVERS' ports and start alongside them rather than after them.
   */
  port?: number;
  /**
   * Start from a copy of this already migrated sqlite file (another instance's `database`)
   * instead of running `migrate`: several graphite-webs in one test pay for migrate once.
   */
  migratedDatabase?: string;
}

export interface GraphiteWeb {
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  dir: string;
  child: ChildProcess;
  /** graphite-web's stdout + stderr so far (request log, tracebacks). */
  log(): string;
  /** GET a path; rejects on a non-2xx answer with the body in the message. */
  get(path: string): Promise<Response>;
  /** GET a path and parse JSON. */
  getJson<T = unknown>(path: string): Promise<T>;
  /** `/render?format=json` of one or more targets. */
  render(targets: string[], params?: Record<string, string>): Promise<RenderSeries[]>;
  /** `/events/get_data` with the given query (e.g. `{ tags: 'deploy', from: '-1h' }`). */
  events(query?: Record<string, string>): Promise<GraphiteEvent[]>;
  /** Stop by PID (SIGTERM, then SIGKILL) and delete the temp dir. */
  stop(): Promise<void>;
}

export interface RenderSeries {
  target: string;
  tags?: Record<string, string>;
  datapoints: [number | null, number][];
}

export interface GraphiteEvent {
  id: number;
  when: number;
  what: string;
  data: string;
  tags: string[];
}

const py = (s: string): string => JSON.stringify(s); // a JSON string is a valid Python str literal

export async function startGraphiteWeb(o: GraphiteWebOptions = {}): Promise<GraphiteWeb> {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-graphite-web-'));
  const storage = join(dir, 'storage');
  const logDir = join(storage, 'log');
  const ownWhisper = join(storage, 'whisper');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(ownWhisper, { recursive: true });
  const whisperDirs = o.whisperDirs?.length ? o.whisperDirs : [ownWhisper];
  const port = o.port ?? (await freePort());
  const module = 'telltale_graphite_local_settings';
  writeFileSync(
    join(dir, `${module}.py`),
    [
      `SECRET_KEY = ${py(`telltale-test-${process.pid}-${port}`)}`,
      `STORAGE_DIR = ${py(storage)}`,
      `WHISPER_DIR = ${py(whisperDirs[0]!)}`,
      // Several dirs are read by the standard finder, merged per series.
      `STANDARD_DIRS = [${whisperDirs.map(py).join(', ')}]`,
      `LOG_DIR = ${py(logDir)}`,
      `INDEX_FILE = ${py(join(storage, 'index'))}`,
      `DATABASES = {'default': {'NAME': ${py(join(dir, 'graphite.db'))}, 'ENGINE': 'django.db.backends.sqlite3'}}`,
      `CARBONLINK_HOSTS = [${(o.carbonlinkHosts ?? []).map(py).join(', ')}]`,
      `CLUSTER_SERVERS = [${(o.clusterServers ?? []).map(py).join(', ')}]`,
      // Fail fast rather than hang a test when a carbonlink/cluster peer is gone.
      'CARBONLINK_TIMEOUT = 2.0',
      'FIND_TIMEOUT = 5.0',
      'FETCH_TIMEOUT = 10.0',
      "TIME_ZONE = 'UTC'",
      o.extraSettings ?? '',
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    HOME: dir,
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    PYTHONPATH: dir,
    PYTHONWARNINGS: 'ignore',
    PYTHONDONTWRITEBYTECODE: '1',
    DJANGO_SETTINGS_MODULE: 'graphite.settings',
    GRAPHITE_SETTINGS_MODULE: module,
  };
  let out = '';
  const run = (args: string[]): ChildProcess => {
    const c = spawn(SYSTEM_PYTHON, ['-m', 'django', ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
    c.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
    return c;
  };
  try {
    if (o.migratedDatabase) copyFileSync(o.migratedDatabase, join(dir, 'graphite.db'));
    else {
      const migrate = run(['migrate', '--run-syncdb', '--verbosity', '0']);
      const code = await new Promise<number | null>((resolve) => migrate.once('exit', (c) => resolve(c)));
      if (code !== 0) throw new Error(`graphite-web migrate exited ${code}:\n${out}`);
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const child = run(['runserver', `127.0.0.1:${port}`, '--noreload', '--nothreading']);
  const url = `http://127.0.0.1:${port}`;
  const get = async (path: string): Promise<Response> => {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`graphite-web GET ${path}: HTTP ${res.status}\n${(await res.text()).slice(0, 2000)}`);
    return res;
  };
  const stop = async (): Promise<void> => {
    await killAndWait(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`graphite-web exited (${child.exitCode}):\n${out}`);
      try {
        const r = await fetch(`${url}/events/get_data`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        return r.status === 200;
      } catch {
        return false;
      }
    }, 45_000, 'graphite-web /events/get_data to answer 200', 100);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    port,
    url,
    dir,
    child,
    log: () => out,
    get,
    async getJson<T>(path: string): Promise<T> {
      return (await (await get(path)).json()) as T;
    },
    async render(targets, params = {}) {
      const q = new URLSearchParams({ from: '-1h', ...params, format: 'json' });
      for (const t of targets) q.append('target', t);
      return (await (await get(`/render?${q}`)).json()) as RenderSeries[];
    },
    async events(query = {}) {
      return (await (await get(`/events/get_data?${new URLSearchParams(query)}`)).json()) as GraphiteEvent[];
    },
    stop,
  };
}
