/**
 * The real `telltale` command, spawned from dist/: flags, exit codes, config errors, `check`,
 * `run` with SIGTERM, `<type> --once --print`, and a statsd that is not there.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, runCli, type CliRun } from '../helpers/cli.js';
import { freePort, startLineServer, type LineServer } from '../helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'telltale-cli-'));
const runs: CliRun[] = [];
const servers: LineServer[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  for (const s of servers.splice(0)) await s.close();
});

function cli(args: string[], o: Parameters<typeof runCli>[1] = {}): CliRun {
  const r = runCli(args, o);
  runs.push(r);
  return r;
}

function config(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('telltale CLI', () => {
  it('--help lists every integration and exits 0; --version prints the version', async () => {
    const h = cli(['--help']);
    expect(await h.exited, h.stderr()).toBe(0);
    for (const t of ['supervisor', 'host', 'puppet_reports', 'cloudwatch_billing']) expect(h.stdout()).toContain(t);
    const v = cli(['--version']);
    expect(await v.exited, v.stderr()).toBe(0);
    expect(v.stdout()).toMatch(/^telltale \d+\.\d+\.\d+\n$/);
  });

  it('check writes its whole report into a pipe that is read late (nothing lost at exit)', async () => {
    // More than a pipe's 64 KiB of output: what the kernel cannot take yet waits in the process,
    // and exiting right after the last write would drop it.
    const hosts = Array.from({ length: 400 }, (_, i) => `  web${i}:\n    type: access_log\n    path: /var/log/nginx/web${i}.access.log\n`).join('');
    const f = config('many.yaml', `emitter:\n  sinks:\n    - type: console\nintegrations:\n${hosts}`);
    const r = cli(['check', '--config', f]);
    r.child.stdout!.pause();
    // Read nothing until the command has exited or has had a second to finish writing.
    await Promise.race([r.exited, new Promise((res) => setTimeout(res, 1000))]);
    r.child.stdout!.resume();
    expect(await r.exited, r.stderr()).toBe(0);
    expect(r.stdout().length).toBeGreaterThan(64 * 1024);
    expect(r.stdout().match(/^  web\d+ \(type access_log/gm)).toHaveLength(400);
    expect(r.stdout()).toMatch(/^sinks:$/m);
  });

  it('--print into a pipe that is read late loses no line: the same lines as into a file', async () => {
    // access_log with per-path names prints thousands of lines at exit, more than a pipe holds.
    const log = join(REPO_ROOT, 'integrations/access_log/test/fixtures/elastic-examples-apache_logs.log');
    const f = (n: string): string =>
      config(`print-${n}.yaml`, `emitter:\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:9\nstate_dir: ${join(dir, `print-state-${n}`)}\nintegrations:\n  web:\n    type: access_log\n    path: ${log}\n    format: combined\n    start_at: beginning\n    compat: mod_statsd\n    mod_statsd:\n      max_keys: 5000\n`);
    const lines = (text: string): string[] => text.split('\n').filter((l) => /^[A-Za-z0-9_.-]+ \S+ \d+$/.test(l)).map((l) => l.replace(/ \d+$/, ''));
    const file = join(dir, 'print-stderr.txt');
    const fd = openSync(file, 'w');
    const toFile = spawn(process.execPath, [CLI, 'access_log', '--once', '--print', '--config', f('file')], { stdio: ['ignore', 'ignore', fd] });
    const fileCode = await new Promise((res) => toFile.on('close', res));
    closeSync(fd);
    expect(fileCode).toBe(0);
    const want = lines(readFileSync(file, 'utf8'));
    expect(want.length).toBeGreaterThan(2000);
    const r = cli(['access_log', '--once', '--print', '--config', f('pipe')]);
    r.child.stderr!.pause();
    await Promise.race([r.exited, new Promise((res) => setTimeout(res, 1000))]);
    r.child.stderr!.resume();
    expect(await r.exited, r.stderr().slice(-2000)).toBe(0);
    expect(lines(r.stderr()).sort()).toEqual(want.sort());
  });

  it('the shipped integrations.yaml (what npm start runs) validates and runs on a fresh machine', async () => {
    const shipped = readFileSync(join(REPO_ROOT, 'integrations.yaml'), 'utf8');
    const c = cli(['check', '--config', join(REPO_ROOT, 'integrations.yaml')]);
    await c.exited;
    expect(c.stdout(), c.stderr()).toContain('(valid)');
    // Same file, but a free port for the live page and a private state dir.
    const f = config('shipped.yaml', shipped.replace('listen: 127.0.0.1:8089', 'listen: 127.0.0.1:0') + `\nstate_dir: ${join(dir, 'state')}\n`);
    const r = cli(['run', '--config', f]);
    await r.waitForStderr(/live page: http:\/\/127\.0\.0\.1:\d+/);
    await r.waitForStderr(/running host, nginx, puppet/);
    const url = /live page: (http:\/\/127\.0\.0\.1:\d+\/?)/.exec(r.stderr())![1]!;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    r.child.kill('SIGTERM');
    expect(await r.exited, r.stderr()).toBe(0);
    expect(r.stderr()).not.toMatch(/\berror\b/i);
  });

  it('an unknown flag is a usage error (64), never ignored, by every command', async () => {
    for (const args of [['run', '--frobnicate'], ['event', 'deploy', '--frobnicate'], ['dashboard', '--frobnicate']]) {
      const r = cli(args);
      expect(await r.exited, r.stderr()).toBe(64);
      expect(r.stderr()).toContain("telltale: Unknown option '--frobnicate'");
    }
  });

  it('an invalid config exits 78 and lists every problem with FILE:LINE:COL', async () => {
    const f = config('bad.yaml', 'emitter:\n  flush_interval: often\nintegrations:\n  host:\n    intervall: 1s\n');
    const r = cli(['run', '--config', f]);
    expect(await r.exited, r.stderr()).toBe(78);
    expect(r.stderr()).toContain(`${f}:2:19: emitter.flush_interval: expected a duration`);
    expect(r.stderr()).toContain(`${f}:5:5: integrations.host.intervall: unknown key (did you mean "interval"?)`);
    expect(r.stdout()).toBe('');
  });

  it('a problem found by an integration\'s create() is reported at its FILE:LINE:COL, by run and by check', async () => {
    const f = config('create.yaml', 'integrations:\n  host:\n    disks: ["/"]\n    thresholds:\n      disk.size.var.percent: 90\n');
    for (const cmd of ['check', 'run']) {
      const r = cli([cmd, '--config', f]);
      expect(await r.exited, r.stderr()).toBe(78);
      expect(r.stderr()).toContain(`${f}:5:7: integrations.host.thresholds.disk.size.var.percent: no configured disk is named "var"`);
      expect(r.stdout()).toBe('');
    }
  });

  it('every semantic problem (format, duplicate disks, a rule over several keys) gets FILE:LINE:COL', async () => {
    const f = config(
      'semantic.yaml',
      [
        'integrations:', //                                  1
        '  web:', //                                         2
        '    type: access_log', //                           3
        '    path: /var/log/nginx/access.log', //            4
        '    format: "%h %u"', //                            5  compiles, but has no status field
        '  host:', //                                        6
        '    disks: ["/", "/var/log", "/var_log"]', //       7  /var/log and /var_log are both var_log
        '  puppet:', //                                      8
        '    type: puppet_reports', //                       9  neither reportdir nor summary
        '',
      ].join('\n'),
    );
    const r = cli(['check', '--config', f]);
    expect(await r.exited, r.stderr()).toBe(78);
    expect(r.stderr()).toContain(`${f}:5:13: integrations.web.format: format "%h %u" has no status field`);
    expect(r.stderr()).toContain(`${f}:7:30: integrations.host.disks.2: two mount points map to the same metric node "var_log"`);
    expect(r.stderr()).toContain(`${f}:8:3: integrations.puppet: set reportdir (a Puppet reportdir) and/or summary`);
    expect(r.stderr()).not.toContain(`${f}: `); // no problem without a line and column
    expect(r.stdout()).toBe('');
  });

  it('a problem only create() can see (from the environment) is reported at the instance, with FILE:LINE:COL', async () => {
    const f = config('create-env.yaml', 'integrations:\n  supervisor:\n    compat: none\n');
    const r = cli(['supervisor', '--config', f], { input: '', env: { SUPERVISOR_SERVER_URL: 'ftp://127.0.0.1/x' } });
    expect(await r.exited, r.stderr()).toBe(78);
    expect(r.stderr()).toContain(`${f}:2:3: integrations.supervisor: SUPERVISOR_SERVER_URL: `);
    expect(r.stdout()).toBe('');
  });

  it('check prints effective settings and probes sinks: ok for a listener, FAIL (exit 1) for a dead port', async () => {
    const srv = await startLineServer();
    servers.push(srv);
    const dead = await freePort();
    const f = config('check.yaml', `emitter:\n  prefix: t.{host}\n  sinks:\n    - type: graphite\n      address: tcp://127.0.0.1:${srv.port}\n    - type: graphite\n      address: tcp://127.0.0.1:${dead}\nintegrations:\n  host: {}\n`);
    const r = cli(['check', '--config', f]);
    expect(await r.exited, r.stderr()).toBe(1);
    expect(r.stdout()).toContain(`config: ${f} (valid)`);
    expect(r.stdout()).toMatch(/host \(type host, poller\): prefix=host log_level=info interval=\d+ms/);
    expect(r.stdout()).toContain(`ok   graphite tcp://127.0.0.1:${srv.port}: connected`);
    expect(r.stdout()).toMatch(new RegExp(`FAIL graphite tcp://127\\.0\\.0\\.1:${dead}: .*ECONNREFUSED`));
  });

  it('run: host metrics reach carbon-style line receiver; SIGTERM flushes and exits 0', async () => {
    const srv = await startLineServer();
    servers.push(srv);
    const f = config('run.yaml', `emitter:\n  prefix: clitest\n  flush_interval: 200ms\n  sinks:\n    - type: graphite\n      address: tcp://127.0.0.1:${srv.port}\nintegrations:\n  host:\n    interval: 200ms\n`);
    const r = cli(['run', '--config', f]);
    await srv.waitFor((l) => l.some((x) => x.startsWith('stats.gauges.clitest.host.memory.percent ')), 20_000);
    await srv.waitFor((l) => l.some((x) => x.startsWith('stats.counters.clitest.telltale.host.host.emitted.count ')), 20_000);
    r.child.kill('SIGTERM');
    expect(await r.exited, r.stderr()).toBe(0);
    expect(r.stderr()).toMatch(/SIGTERM: flushing and exiting/);
    expect(r.stdout()).toBe('');
    const pct = srv.lines.find((x) => x.startsWith('stats.gauges.clitest.host.memory.percent '))!;
    const v = Number(pct.split(' ')[1]);
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThanOrEqual(100);
  });

  it('<type> --once --print: one poll, Graphite lines on stderr, nothing on stdout, exit 0', async () => {
    const f = config('once.yaml', `emitter:\n  prefix: once\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${await freePort()}\nintegrations:\n  host: {}\n`);
    const r = cli(['host', '--once', '--print', '--config', f]);
    expect(await r.exited, r.stderr()).toBe(0);
    expect(r.stdout()).toBe('');
    expect(r.stderr()).toMatch(/^stats\.gauges\.once\.host\.load\.1 \d+(\.\d+)? \d{10}$/m);
  });

  it('--statsd/--graphite replace the configured sinks; --prefix overrides emitter.prefix', async () => {
    const srv = await startLineServer();
    servers.push(srv);
    const r = cli(['host', '--once', '--graphite', `127.0.0.1:${srv.port}`, '--prefix', 'flagged.{host}'], { env: { TELLTALE_CONFIG: '' } });
    expect(await r.exited, r.stderr()).toBe(0);
    await srv.waitFor((l) => l.some((x) => /^stats\.gauges\.flagged\.[A-Za-z0-9_-]+\.host\.memory\.used /.test(x)), 10_000);
  });

  it('warns that statsd drops timestamps only when the instance really emits datapoints', async () => {
    const sink = ['emitter:', '  sinks:', '    - type: statsd', '      address: udp://127.0.0.1:9', 'integrations:', '  supervisor:'];
    const plain = cli(['supervisor', '--config', config('sup-plain.yaml', [...sink, '    compat: none', ''].join('\n'))], { input: '' });
    expect(await plain.exited, plain.stderr()).toBe(0);
    expect(plain.stderr()).not.toMatch(/timestamped datapoints/);
    const sulphite = cli(['supervisor', '--config', config('sup-sulphite.yaml', [...sink, '    compat: sulphite', ''].join('\n'))], { input: '' });
    expect(await sulphite.exited, sulphite.stderr()).toBe(0);
    expect(sulphite.stderr()).toMatch(/supervisor emit timestamped datapoints, but no graphite sink is configured/);
  });

  it('statsd absent: the program keeps running and counts its send errors', async () => {
    const srv = await startLineServer();
    servers.push(srv);
    const dead = await freePort();
    const f = config('nostatsd.yaml', `emitter:\n  prefix: nostatsd\n  flush_interval: 200ms\n  sinks:\n    - type: statsd\n      address: udp://127.0.0.1:${dead}\n    - type: graphite\n      address: tcp://127.0.0.1:${srv.port}\nintegrations:\n  host:\n    interval: 200ms\n`);
    const r = cli(['run', '--config', f]);
    await srv.waitFor((l) => l.some((x) => /^stats\.counters\.nostatsd\.telltale\.emitter\.statsd\.errors\.count [1-9]/.test(x)), 20_000);
    expect(r.child.exitCode).toBeNull();
    r.child.kill('SIGTERM');
    expect(await r.exited, r.stderr()).toBe(0);
  });
});
