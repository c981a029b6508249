/**
 * Real Varnish for tests (Debian `varnish`): a varnishd instance of its own (working directory
 * `-n` in a temp dir, a loopback port, a VCL the test writes, no management port) and
 * `varnishncsa` daemons writing its request log to a file, the way a service runs them. Readiness
 * is probed with a deadline, never slept for; every process is stopped by its PID.
 *
 * Started as root, varnishd drops to its own users (`-j unix`, the default: `varnish` for the
 * manager and the VCL compiler, `vcache` for the worker); started as anyone else it runs as that
 * user (`-j none`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, killAndWait, until } from './servers.js';

const execFileP = promisify(execFile);

export interface Varnish {
  port: number;
  /** The instance's working directory: `-n` for varnishncsa, varnishstat, varnishadm. */
  workDir: string;
  child: ChildProcess;
  log(): string;
  /** One request on a fresh connection; resolves to the status. Counted in `answered`. */
  request(path: string, o?: { method?: string }): Promise<number>;
  /** Responses received through request() so far. */
  readonly answered: number;
  /** `varnishstat -n … -j`: every counter's value by name (`MAIN.client_req`, …). */
  counters(): Promise<Record<string, number>>;
  /**
   * The counters once MAIN.client_req has reached `answered`: a worker adds its counts to the
   * shared ones after the response is out (and after varnishncsa may have logged it).
   */
  settled(): Promise<Record<string, number>>;
  /** Stop varnishd and remove its directory (after stopping any varnishncsa reading it). */
  stop(): Promise<void>;
}

/**
 * Start varnishd with `vcl` (the whole VCL text, `vcl 4.1;` included). Small on purpose: one
 * thread pool, 16 MB of malloc storage. `thread_stats_rate=1` makes each worker add its counters
 * to the shared ones after every task (by default only every 10th, when another holds the lock),
 * so varnishstat catches up right after each request; settled() waits for that.
 */
export async function startVarnish(vcl: string): Promise<Varnish> {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-varnish-'));
  // The unix jail runs the VCL compiler and the worker as other users: they must reach the VCL
  // and the working directory under this (mkdtemp: 0700) directory.
  chmodSync(dir, 0o755);
  const vclFile = join(dir, 'test.vcl');
  writeFileSync(vclFile, vcl, { mode: 0o644 });
  const workDir = join(dir, 'work');
  const port = await freePort();
  let log = '';
  const child = spawn(
    'varnishd',
    [
      '-F',
      '-n', workDir,
      '-a', `127.0.0.1:${port}`,
      '-T', 'none',
      '-f', vclFile,
      '-s', 'malloc,16m',
      '-p', 'thread_pools=1',
      '-p', 'thread_pool_min=10',
      '-p', 'thread_pool_max=100',
      '-p', 'thread_stats_rate=1',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const counters = async (): Promise<Record<string, number>> => {
    const { stdout } = await execFileP('varnishstat', ['-n', workDir, '-j', '-t', '0'], { maxBuffer: 1 << 24 });
    const parsed = JSON.parse(stdout) as { counters?: Record<string, { value: number }> };
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(parsed.counters ?? {})) out[k] = v.value;
    return out;
  };
  const stop = async (): Promise<void> => {
    await killAndWait(child);
    rmSync(dir, { recursive: true, force: true });
  };
  let answered = 0;
  const request = async (path: string, o: { method?: string } = {}): Promise<number> => {
    const status = await get(port, path, o);
    answered++;
    return status;
  };
  const settled = async (): Promise<Record<string, number>> => {
    let c: Record<string, number> = {};
    await until(async () => (c = await counters())['MAIN.client_req'] === answered, 10_000, `varnishstat MAIN.client_req to reach ${answered}`).catch(
      (e: Error) => {
        throw new Error(`${e.message}: it is ${c['MAIN.client_req']}`);
      },
    );
    return c;
  };
  try {
    // Ready: the worker has published its counters and the listen socket answers HTTP.
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`varnishd exited (${child.exitCode}):\n${log}`);
        try {
          return 'MAIN.uptime' in (await counters()) && (await request('/__varnish_ready')) > 0;
        } catch {
          return false;
        }
      },
      30_000,
      'varnishd to answer',
      100,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    port,
    workDir,
    child,
    log: () => log,
    request,
    get answered() {
      return answered;
    },
    counters,
    settled,
    stop,
  };
}

/** One request on a fresh connection (no keep-alive: a piped request must not take the socket along). Resolves to the status. */
function get(port: number, path: string, o: { method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: o.headers, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.once('error', reject);
    req.end();
  });
}

export interface Varnishncsa {
  /** The daemon's PID (from its -P file). */
  pid: number;
  file: string;
  /** SIGHUP: a daemon varnishncsa reopens its -w file (logrotate's postrotate). */
  hup(): void;
  stop(): Promise<void>;
}

/**
 * Run `varnishncsa -n … -a -w FILE -D -P PIDFILE [-F format]` as a service would, then make sure
 * it is attached: it reads the shared log from the moment it attaches, so requests sent before
 * are never logged. A probe request (`/__ncsa_ready`) is repeated until its line is in the file;
 * the probe lines stay in the file, every one of them logged before this returns.
 */
export async function startVarnishncsa(v: Varnish, file: string, format?: string): Promise<Varnishncsa> {
  const pidFile = `${file}.pid`;
  const args = ['-n', v.workDir, '-a', '-w', file, '-D', '-P', pidFile, '-t', '10'];
  if (format !== undefined) args.push('-F', format);
  // -D: the started process forks the daemon and exits 0 once it is running.
  await execFileP('varnishncsa', args);
  let pid = 0;
  await until(() => {
    try {
      pid = Number(readFileSync(pidFile, 'utf8').trim());
    } catch {
      return false;
    }
    return pid > 0;
  }, 10_000, `varnishncsa pid file ${pidFile}`);
  const ncsa: Varnishncsa = {
    pid,
    file,
    hup: () => process.kill(pid, 'SIGHUP'),
    stop: () => killPid(pid),
  };
  let probes = 0;
  const logged = (): boolean => {
    try {
      return readFileSync(file, 'latin1').includes('/__ncsa_ready');
    } catch {
      return false;
    }
  };
  try {
    await until(
      async () => {
        if (!alive(pid)) throw new Error(`varnishncsa (pid ${pid}) exited`);
        if (logged()) return true;
        probes++;
        await v.request(`/__ncsa_ready?${probes}`);
        return false;
      },
      15_000,
      'varnishncsa to log a probe request',
      100,
    );
  } catch (e) {
    await ncsa.stop();
    throw e;
  }
  return ncsa;
}

/** Running: it exists and is not a zombie waiting for init to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM a process that is not our child (a daemon), SIGKILL after 5 s, and wait until it is gone. */
export async function killPid(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  await until(
    () => {
      if (!alive(pid)) return true;
      if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
      return false;
    },
    10_000,
    `pid ${pid} to exit`,
    20,
  );
}
