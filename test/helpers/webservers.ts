/**
 * Real web servers for tests: Debian's nginx and Apache, each in a directory of its own (config,
 * document root, logs, pid), on a free loopback port, started in the foreground without sleeping
 * (ready when the port answers) and stopped by PID. Plus real logrotate runs, htpasswd files and
 * raw HTTP requests (HTTP/0.9, raw spaces) that an HTTP client library would refuse to send.
 *
 * Unprivileged: when the tests run as root the servers run as nobody (spawn's uid/gid), so the
 * master process writes and reopens its logs with the rights a packaged server's workers have.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { canConnect, freePort, until } from './servers.js';

const execFileP = promisify(execFile);

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

/**
 * Pages every server serves, each a prefix: anything below it gets the same answer, so a test can
 * put a request id in the path (`/ok/17`): 200, 301, 404 (anything else), 500, and 200/401 behind
 * Basic auth.
 */
export const PAGES = { ok: '/ok/', redirect: '/old/', missing: '/nope/', error: '/boom/', auth: '/auth/' } as const;

export interface WebServer {
  readonly kind: 'nginx' | 'apache';
  readonly port: number;
  /** The server's own directory (config, html, logs, run). */
  readonly dir: string;
  readonly logDir: string;
  /** PID of the master (nginx) or parent (Apache) process. */
  readonly pid: number;
  /** Shell command for logrotate's postrotate: reopen the logs (nginx USR1, Apache graceful). */
  readonly reopenCommand: string;
  /** Ask the server to reopen its logs (same signal as reopenCommand). */
  reopen(): void;
  /** Everything the server wrote to its error log (for failure messages). */
  errors(): string;
  stop(): Promise<void>;
}

export interface WebServerOptions {
  /** Format definitions: nginx `log_format` lines / Apache `LogFormat` lines. */
  formats: string;
  /** nginx `access_log …;` / Apache `CustomLog …` lines; `LOGS` is replaced by the log directory. */
  logs: string;
  /** htpasswd users (name → password): Basic auth guards PAGES.auth. */
  users?: Readonly<Record<string, string>>;
  /** Apache only: `HostnameLookups On` (%h becomes a name from the resolver). */
  hostnameLookups?: boolean;
}

function prepareDir(prefix: string): { dir: string; logDir: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const d of ['logs', 'run', 'tmp', 'html', 'html/auth']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'html/ok.txt'), 'ok\n');
  writeFileSync(join(dir, 'html/auth/index.html'), 'secret\n');
  return { dir, logDir: join(dir, 'logs') };
}

/** Hand the directory to nobody when we are root (logrotate refuses group/world-writable log dirs). */
function handOver(dir: string): void {
  if (!asRoot) return;
  const walk = (p: string): void => {
    chownSync(p, NOBODY, NOBODY);
    if (statSync(p).isDirectory()) {
      chmodSync(p, 0o755);
      for (const n of readdirSync(p)) walk(join(p, n));
    }
  };
  walk(dir);
}

/** Write an htpasswd file with the real `htpasswd` (bcrypt), names with spaces included. */
export async function htpasswd(file: string, users: Readonly<Record<string, string>>): Promise<void> {
  let first = true;
  for (const [name, pass] of Object.entries(users)) {
    await execFileP('htpasswd', [first ? '-cbB' : '-bB', '-C', '4', file, name, pass]);
    first = false;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function launch(
  kind: 'nginx' | 'apache',
  dir: string,
  logDir: string,
  port: number,
  cmd: string,
  args: string[],
  reopenSignal: NodeJS.Signals,
): Promise<WebServer> {
  handOver(dir);
  let out = '';
  const child = spawn(cmd, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const errors = (): string => {
    let log = '';
    try {
      log = readFileSync(join(logDir, 'error.log'), 'utf8');
    } catch {
      /* not written yet */
    }
    return `${out}${log}`.slice(-4000);
  };
  await until(
    async () => {
      if (exited(child)) throw new Error(`${kind} exited (${child.exitCode ?? child.signalCode}):\n${errors()}`);
      return canConnect(port);
    },
    15_000,
    `${kind} on 127.0.0.1:${port}`,
  );
  const pid = child.pid!;
  return {
    kind,
    port,
    dir,
    logDir,
    pid,
    reopenCommand: `kill -${reopenSignal.replace(/^SIG/, '')} ${pid}`,
    reopen: () => void child.kill(reopenSignal),
    errors,
    async stop() {
      if (!exited(child)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          // nginx: TERM is a fast shutdown; Apache: TERM stops the parent and its children.
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** nginx 1.22 with a master process (USR1 = reopen logs), one worker, everything under its own prefix. */
export async function startNginx(o: WebServerOptions): Promise<WebServer> {
  const { dir, logDir } = prepareDir('telltale-nginx-');
  const port = await freePort();
  if (o.users) await htpasswd(join(dir, 'htpasswd'), o.users);
  const tmp = join(dir, 'tmp');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, 'run/nginx.pid')};
error_log ${join(logDir, 'error.log')} warn;
events { worker_connections 512; }
http {
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  default_type text/plain;
${o.formats}
  server {
    listen 127.0.0.1:${port};
    root ${join(dir, 'html')};
${o.logs.replaceAll('LOGS', logDir)}
    location ${PAGES.ok} { try_files /ok.txt =404; }
    location ${PAGES.redirect} { return 301 ${PAGES.ok}; }
    location ${PAGES.error} { return 500; }
    location ${PAGES.auth} { auth_basic "telltale"; auth_basic_user_file ${join(dir, 'htpasswd')}; try_files /auth/index.html =404; }
  }
}
`,
  );
  return launch('nginx', dir, logDir, port, 'nginx', ['-p', dir, '-e', join(logDir, 'error.log'), '-c', join(dir, 'nginx.conf')], 'SIGUSR1');
}

const MODULES = '/usr/lib/apache2/modules';

/** Apache 2.4 (Debian build, mpm_event) in the foreground; USR1 = graceful restart (reopens logs). */
export async function startApache(o: WebServerOptions): Promise<WebServer> {
  const { dir, logDir } = prepareDir('telltale-apache-');
  const port = await freePort();
  if (o.users) await htpasswd(join(dir, 'htpasswd'), o.users);
  const mods = ['mpm_event', 'dir', 'authn_core', 'authn_file', 'authz_core', 'authz_user', 'auth_basic', 'alias', 'rewrite'];
  writeFileSync(
    join(dir, 'apache2.conf'),
    `ServerRoot "${dir}"
${mods.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`).join('\n')}
Listen 127.0.0.1:${port}
ServerName localhost
PidFile ${join(dir, 'run/apache2.pid')}
DefaultRuntimeDir ${join(dir, 'run')}
Mutex file:${join(dir, 'run')} default
ErrorLog ${join(logDir, 'error.log')}
LogLevel warn
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MinSpareThreads 1
MaxSpareThreads 32
MaxRequestWorkers 32
HostnameLookups ${o.hostnameLookups ? 'On' : 'Off'}
DocumentRoot "${join(dir, 'html')}"
<Directory "${join(dir, 'html')}">
  Require all granted
</Directory>
AliasMatch "^${PAGES.ok}" "${join(dir, 'html/ok.txt')}"
AliasMatch "^${PAGES.auth}" "${join(dir, 'html/auth/index.html')}"
<LocationMatch "^${PAGES.auth}">
  AuthType Basic
  AuthName "telltale"
  AuthBasicProvider file
  AuthUserFile "${join(dir, 'htpasswd')}"
  Require valid-user
</LocationMatch>
RedirectMatch 301 "^${PAGES.redirect}" ${PAGES.ok}
RewriteEngine On
RewriteRule "^${PAGES.error}" - [R=500]
${o.formats}
${o.logs.replaceAll('LOGS', logDir)}
`,
  );
  return launch('apache', dir, logDir, port, 'apache2', ['-f', join(dir, 'apache2.conf'), '-DFOREGROUND'], 'SIGUSR1');
}

/**
 * One forced logrotate run over `files` with `directives` (create, copytruncate, compress,
 * delaycompress…), its own state file next to the config; `postrotate` runs once (sharedscripts).
 */
export async function logrotate(o: { dir: string; files: readonly string[]; directives: readonly string[]; postrotate?: string }): Promise<void> {
  const conf = join(o.dir, 'logrotate.conf');
  const body = [...o.directives, 'rotate 20', 'missingok', 'sharedscripts'];
  if (o.postrotate) body.push('postrotate', `  ${o.postrotate}`, 'endscript');
  writeFileSync(conf, `${o.files.join(' ')} {\n${body.map((l) => `  ${l}`).join('\n')}\n}\n`, { mode: 0o644 });
  chmodSync(conf, 0o644);
  const { stderr } = await execFileP('logrotate', ['-f', '-s', join(o.dir, 'logrotate.state'), conf]);
  if (stderr.trim()) throw new Error(`logrotate: ${stderr.trim()}`);
}

/** Every file logrotate and the server left for `base` (base, base.1, base.2.gz…), decompressed, oldest first. */
export function allGenerations(base: string): { name: string; text: string }[] {
  const dir = join(base, '..');
  const name = base.slice(dir.length + 1);
  const gen = (n: string): number => (n === name ? 0 : Number(/^\.(\d+)/.exec(n.slice(name.length))?.[1] ?? NaN));
  return readdirSync(dir)
    .filter((n) => n === name || (n.startsWith(`${name}.`) && !Number.isNaN(gen(n))))
    .sort((a, b) => gen(b) - gen(a))
    .map((n) => {
      const raw = readFileSync(join(dir, n));
      return { name: n, text: (n.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1') };
    });
}

/**
 * Send raw bytes as one request and read the reply (the server closes: send `Connection: close`
 * or an HTTP/0.9 line). For request lines no HTTP client library would send.
 */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, timeoutMs);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('end', () => {
      clearTimeout(t);
      s.destroy();
      resolve(got);
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.write(bytes);
  });
}
