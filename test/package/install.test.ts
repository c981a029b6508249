/**
 * The package as users get it: `npm pack` of this tree (dist/ from the global setup), installed
 * from the tarball into an empty directory outside the repository with `--omit=dev`, so nothing
 * resolves through the repo's node_modules. Every command then runs from there, through the
 * `node_modules/.bin/telltale` link npm made, on the Node that runs the tests. npm installs from
 * its cache (--prefer-offline): after `npm ci` every dependency is in it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../integrations/index.js';
import { requireBinary } from '../helpers/binaries.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { recordLoadedModules } from '../helpers/loaded-modules.js';
import { freePort, startUdpServer, until, type UdpServer } from '../helpers/servers.js';

const npm = requireBinary('npm', 'npm comes with Node.js');
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
// `#!/usr/bin/env node` in the bin link must find the Node that runs this suite (Node 24 in CI).
const ENV = { ...process.env, PATH: dirname(process.execPath) + delimiter + (process.env['PATH'] ?? '') };

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], o: { cwd: string; input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: { ...ENV, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.stdin.end(o.input ?? '');
    // A bound against a hang, not a timing assertion: a loaded 2-core CI machine is slow.
    const t = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('close', (code, sig) => {
      clearTimeout(t);
      resolve({ code: code ?? sig ?? -1, stdout, stderr });
    });
  });
}

/** One recorded supervisord event (header line + payload) from the capture the supervisor tests replay. */
function recordedEvent(): Buffer {
  const capture = readFileSync(join(REPO_ROOT, 'integrations/supervisor/test/fixtures/capture.bin'));
  const text = capture.toString('latin1');
  const m = /ver:3\.0 [^\n]*eventname:PROCESS_STATE_RUNNING len:(\d+)\n/.exec(text);
  if (!m) throw new Error('capture.bin has no PROCESS_STATE_RUNNING event');
  return capture.subarray(m.index, m.index + m[0].length + Number(m[1]));
}

describe.skipIf(!npm)('the npm package installed from its tarball', () => {
  let dir: string;
  let packed: string[];
  let pkg: string;
  let telltale: string;
  let statsd: UdpServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'telltale-install-'));
    // dist/ was built by the global setup; a prepack build here would rewrite it under the feet
    // of other test files spawning the CLI.
    const pack = await run(npm!, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, timeoutMs: 120_000 });
    expect(pack.code, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
    packed = info.files.map((f) => f.path);
    const app = join(dir, 'app');
    mkdirSync(app);
    // A package.json of its own, or npm would install into the nearest ancestor project.
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const install = await run(npm!, ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', join(dir, info.filename)], {
      cwd: app,
      timeoutMs: 150_000,
    });
    expect(install.code, install.stderr).toBe(0);
    pkg = join(app, 'node_modules', 'telltale');
    telltale = join(app, 'node_modules', '.bin', 'telltale');
    statsd = await startUdpServer();
  }, 300_000);

  afterAll(async () => {
    await statsd?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const app = (): string => join(dir, 'app');
  const shippedConfig = (): string => join(pkg, 'integrations.yaml');
  // The shipped integrations.yaml reads its statsd address from the environment.
  const toStatsd = (): NodeJS.ProcessEnv => ({ STATSD_HOST: '127.0.0.1', STATSD_PORT: String(statsd.port) });

  it('ships the built code with its .d.ts, the config, the live page, contrib/ and docs, and no tests', () => {
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'integrations.yaml',
      'dist/cli/bin.js',
      'dist/cli/main.js',
      'dist/shared/library/index.js',
      'dist/shared/library/index.d.ts',
      'dist/shared/library/emitter.d.ts',
      'dist/shared/library/app/index.d.ts',
      'dist/shared/library/http/index.d.ts',
      'shared/live/static/index.html',
      'contrib/telltale.service',
      'contrib/telltale.logrotate',
      'contrib/statsd-util-log.cjs',
      'contrib/README.md',
      'integrations/access_log/README.md',
      'shared/library/app/README.md',
      'shared/live/README.md',
    ]) {
      expect(packed).toContain(f);
    }
    expect(packed.filter((f) => /(^|\/)(test|bench)\/|\.test\.|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('telltale --version and --help (every integration with its one-line summary)', async () => {
    const v = await run(telltale, ['--version'], { cwd: app() });
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(v).toMatchObject({ code: 0, stdout: `telltale ${version}\n` });
    const h = await run(telltale, ['--help'], { cwd: app() });
    expect(h.code).toBe(0);
    expect(registry.length).toBeGreaterThanOrEqual(5);
    for (const d of registry) expect(h.stdout).toMatch(new RegExp(`^  ${d.type} +${d.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
  });

  it('telltale check validates the shipped integrations.yaml and probes its statsd', async () => {
    const r = await run(telltale, ['check', '--config', shippedConfig()], { cwd: app(), env: toStatsd() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`config: ${shippedConfig()} (valid)`);
    for (const name of ['host', 'nginx', 'puppet', 'cloudwatch_billing', 'supervisor']) expect(r.stdout).toMatch(new RegExp(`^  ${name} \\(type `, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^  ok +statsd udp://127\\.0\\.0\\.1:${statsd.port}`, 'm'));
  });

  it('telltale host --once --print reads /proc and sends to statsd', async () => {
    statsd.datagrams.length = 0;
    const r = await run(telltale, ['host', '--once', '--print', '--prefix', 'pkgtest', '--config', shippedConfig()], { cwd: app(), env: toStatsd() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^stats\.gauges\.pkgtest\.host\.memory\.percent [\d.]+ \d+$/m);
    await statsd.waitFor((s) => s.lines().some((l) => /^pkgtest\.host\.memory\.percent:[\d.]+\|g$/.test(l)));
  });

  it('telltale supervisor answers one recorded event and counts it', async () => {
    statsd.datagrams.length = 0;
    const r = await run(telltale, ['supervisor', '--print', '--prefix', 'pkgtest', '--config', shippedConfig()], { cwd: app(), env: toStatsd(), input: recordedEvent() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('READY\nRESULT 2\nOKREADY\n');
    expect(r.stderr).toMatch(/^stats\.counters\.pkgtest\.supervisor\.telltale\.telltale\.state\.running\.count 1 \d+$/m);
    await statsd.waitFor((s) => s.lines().includes('pkgtest.supervisor.telltale.telltale.state.running:1|c'));
  });

  it('telltale run serves the live page, its script, styles and uPlot from the install', async () => {
    const port = await freePort();
    const yaml = join(app(), 'live.yaml');
    writeFileSync(yaml, `emitter:\n  sinks:\n    - type: console\nlive:\n  enabled: true\n  listen: 127.0.0.1:${port}\nintegrations: {}\n`);
    const child = spawn(telltale, ['run', '--config', yaml], { cwd: app(), env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<void>((r) => child.on('close', () => r()));
    try {
      await until(() => stderr.includes(`live page: http://127.0.0.1:${port}/`), 20_000, `the live page to listen (stderr: ${stderr})`);
      const want: [string, string, string][] = [
        ['/', 'text/html', join(pkg, 'shared/live/static/index.html')],
        ['/app.js', 'text/javascript', join(pkg, 'shared/live/static/app.js')],
        ['/style.css', 'text/css', join(pkg, 'shared/live/static/style.css')],
        ['/uplot.js', 'text/javascript', join(app(), 'node_modules/uplot/dist/uPlot.iife.min.js')],
        ['/uplot.css', 'text/css', join(app(), 'node_modules/uplot/dist/uPlot.min.css')],
      ];
      for (const [path, type, file] of want) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toContain(type);
        expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(file)), path).toBe(true);
      }
    } finally {
      child.kill('SIGTERM');
      await closed;
    }
  });

  it('an ESM and a CommonJS consumer type-check against the shipped .d.ts and run', async () => {
    const src = join(REPO_ROOT, 'test/package/consumers');
    for (const f of ['esm-consumer.mts', 'cjs-consumer.cts', 'misuse.mts']) copyFileSync(join(src, f), join(app(), f));
    // One program (tsc's cost is mostly @types/node, checked once): the two consumers must
    // compile cleanly, and misuse.mts must fail with exactly the errors it was written to cause,
    // proof that the shipped types are read and enforced. Emitted despite those errors, so the
    // consumers can run.
    writeFileSync(
      join(app(), 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2022',
          strict: true,
          // Check the shipped declarations themselves, not only their use: a .d.ts naming a type
          // from a devDependency would otherwise turn into `any` without a word.
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
          outDir: 'out',
          noEmitOnError: false,
        },
        files: ['esm-consumer.mts', 'cjs-consumer.cts', 'misuse.mts'],
      }),
    );
    const tsc = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app(), timeoutMs: 60_000 });
    const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.filter((l) => !l.startsWith('misuse.mts(')), tsc.stdout + tsc.stderr).toEqual([]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^misuse\.mts\(\d+,\d+\): error TS2305: Module '"telltale\/emitter"' has no exported member 'createApp'/);
    expect(errors[1]).toMatch(/^misuse\.mts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'Sink\[\]'/);

    for (const [script, kind] of [
      ['out/esm-consumer.mjs', 'esm'],
      ['out/cjs-consumer.cjs', 'cjs'],
    ] as const) {
      statsd.datagrams.length = 0;
      const r = await run(process.execPath, [script, '--stats', '--stats-host', '127.0.0.1', '--stats-port', String(statsd.port), '--stats-environment', 'pkgtest'], { cwd: app() });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ kind, counters: { [`${kind}.hits`]: 2 }, stats: `udp://127.0.0.1:${statsd.port}`, instrumentServer: 'function' });
      await statsd.waitFor((s) => s.lines().includes(`pkgtest.consumer_${kind}.runs:1|c`));
    }
  });

  it('import "telltale" loads nothing but telltale, though every dependency is installed beside it', async () => {
    const r = await recordLoadedModules(['--input-type=module', '-e', "await import('telltale')"], { cwd: app() });
    expect(r.status, r.stderr).toBe(0);
    expect(r.packages).toEqual(['telltale']);
    expect(r.files.some((f) => f.startsWith(join(pkg, 'dist/integrations')))).toBe(false);
    // The dependencies the CLI needs are there: the absence above is not an empty install.
    for (const dep of ['@aws-sdk/client-cloudwatch', 'chokidar', 'ws', 'uplot', 'yaml', 'js-yaml']) {
      expect(() => readFileSync(join(app(), 'node_modules', dep, 'package.json'))).not.toThrow();
    }
  });

  const systemdAnalyze = requireBinary('systemd-analyze', 'apt-get install systemd');
  it.skipIf(!systemdAnalyze)('contrib/telltale.service passes systemd-analyze verify', async () => {
    const r = await run(systemdAnalyze!, ['verify', join(pkg, 'contrib/telltale.service')], { cwd: app() });
    expect(r.code, r.stderr).toBe(0);
    // verify exits 0 on unknown keys and warns instead: nothing may be said about our unit.
    expect(r.stderr.split('\n').filter((l) => l.includes('telltale.service'))).toEqual([]);
  });

  const logrotate = requireBinary('logrotate', 'apt-get install logrotate');
  it.skipIf(!logrotate)('contrib/telltale.logrotate parses (logrotate --debug)', async () => {
    const r = await run(logrotate!, ['--debug', '--state', join(dir, 'logrotate.state'), join(pkg, 'contrib/telltale.logrotate')], { cwd: app() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/error|unknown/i);
    expect(r.stderr).toContain('/var/log/telltale/*.log');
  });
});
