/**
 * A real supervisord (Debian `supervisor`) in a temp dir on a unix socket, for end-to-end tests.
 * Started in the foreground as our child, stopped with `supervisorctl shutdown` and then by PID
 * (SIGTERM, SIGKILL as the last resort); the directory is removed afterwards.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../../test/helpers/servers.js';

export interface Supervisord {
  dir: string;
  socket: string;
  conf: string;
  child: ChildProcess;
  /** Runs supervisorctl; resolves with its exit code and output (status exits 3 when not all RUNNING). */
  ctl(...args: string[]): Promise<{ code: number; out: string }>;
  log(): string;
  readFile(name: string): string;
  /** `supervisorctl shutdown`, then wait for the PID (SIGTERM, then SIGKILL as fallbacks). */
  shutdown(): Promise<void>;
  /** shutdown() and remove the directory. */
  stop(): Promise<void>;
}

/** `sections` is appended verbatim; `{dir}` is replaced by the temp dir. */
export async function startSupervisord(sections: string): Promise<Supervisord> {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-supervisord-'));
  const socket = join(dir, 's.sock');
  const conf = join(dir, 'supervisord.conf');
  writeFileSync(
    conf,
    `[unix_http_server]
file=${socket}

[supervisord]
logfile=${join(dir, 'supervisord.log')}
pidfile=${join(dir, 'supervisord.pid')}
childlogdir=${dir}
identifier=e2e
loglevel=debug
user=${process.getuid?.() === 0 ? 'root' : (process.env['USER'] ?? 'nobody')}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://${socket}

${sections.replaceAll('{dir}', dir)}
`,
  );
  const child = spawn('supervisord', ['-n', '-c', conf], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ctl = (...args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      execFile('supervisorctl', ['-c', conf, ...args], { timeout: 15_000 }, (err, stdout, serr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, out: stdout + serr });
      });
    });
  const sv: Supervisord = {
    dir,
    socket,
    conf,
    child,
    ctl,
    log: () => (existsSync(join(dir, 'supervisord.log')) ? readFileSync(join(dir, 'supervisord.log'), 'utf8') : '') + stderr,
    readFile: (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : ''),
    async shutdown() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        await ctl('shutdown');
        const t1 = setTimeout(() => child.kill('SIGTERM'), 10_000);
        const t2 = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t1);
        clearTimeout(t2);
      }
    },
    async stop() {
      await sv.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await until(() => existsSync(socket), 10_000, 'supervisord socket');
    await until(async () => (await ctl('pid')).code === 0, 10_000, 'supervisorctl pid');
  } catch (e) {
    await sv.stop().catch(() => undefined);
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  return sv;
}
