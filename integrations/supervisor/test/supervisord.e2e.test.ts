/**
 * End to end with a real supervisord (Debian `supervisor`): the built `telltale supervisor`
 * runs as its eventlistener and sends to a UDP capture server speaking for statsd. We drive
 * processes with supervisorctl and assert on the statsd lines that arrive.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { CLI } from '../../../test/helpers/cli.js';
import { startUdpServer, until, type UdpServer } from '../../../test/helpers/servers.js';
import { startSupervisord, type Supervisord } from './supervisord.js';

const bin = requireBinary('supervisord', 'apt-get install supervisor (Debian package, 4.2.x)');
const ctlBin = bin ? requireBinary('supervisorctl', 'apt-get install supervisor') : undefined;

/** RECORD_CAPTURE=1 also tees the listener's stdin into test/fixtures/capture.bin. */
const RECORD = process.env['RECORD_CAPTURE'] === '1';
const FIXTURE = fileURLToPath(new URL('./fixtures/capture.bin', import.meta.url));

const P = 'e2e.supervisor';
const CODES: Record<string, number> = { STOPPED: 0, STARTING: 10, RUNNING: 20, BACKOFF: 30, STOPPING: 40, EXITED: 100, FATAL: 200, UNKNOWN: 1000 };

describe.skipIf(!bin || !ctlBin)('supervisor e2e: real supervisord → telltale supervisor → statsd wire', () => {
  let sv: Supervisord | undefined;
  let udp: UdpServer;
  let cfgDir: string;

  const parsed = (): { name: string; value: number; type: string }[] =>
    udp.lines().flatMap((l) => {
      const m = /^([^:]+):(-?[\d.]+)\|(c|g|ms)/.exec(l);
      return m ? [{ name: m[1]!, value: Number(m[2]), type: m[3]! }] : [];
    });
  const counter = (name: string): number => parsed().filter((x) => x.type === 'c' && x.name === `${P}.${name}`).reduce((a, x) => a + x.value, 0);
  const gauge = (name: string): number | undefined => parsed().filter((x) => x.type === 'g' && x.name === `${P}.${name}`).at(-1)?.value;
  const timings = (name: string): number[] => parsed().filter((x) => x.type === 'ms' && x.name === `${P}.${name}`).map((x) => x.value);
  /** The lines about one process, as a failure message. */
  const about = (proc: string): string => udp.lines().filter((l) => l.includes(`.${proc}.`)).join('\n');
  const waitCounter = async (name: string, atLeast: number, timeoutMs = 20_000): Promise<void> => {
    try {
      await udp.waitFor(() => counter(name) >= atLeast, timeoutMs);
    } catch {
      throw new Error(`${P}.${name} never reached ${atLeast} (got ${counter(name)}).\nlistener stderr:\n${sv?.readFile('listener.err.log').slice(-3000)}\nsupervisord log tail:\n${sv?.log().slice(-3000)}`);
    }
  };

  beforeAll(async () => {
    udp = await startUdpServer();
    cfgDir = mkdtempSync(join(tmpdir(), 'telltale-sv-cfg-'));
    const yaml = join(cfgDir, 'integrations.yaml');
    writeFileSync(
      yaml,
      `emitter:
  prefix: e2e
  flush_interval: 200ms
  sinks:
    - type: statsd
      address: udp://127.0.0.1:${udp.port}
integrations:
  supervisor:
    log_level: debug
`,
    );
    const cmd = `${process.execPath} ${CLI} supervisor --config ${yaml}`;
    sv = await startSupervisord(`
[program:good]
command=/bin/sleep 600
startsecs=1
stopsignal=KILL

[program:crasher]
command=/bin/sh -c "exit 3"
; generous: on a loaded machine a 1 s window can let an instant exit count as a run
startsecs=5
startretries=1

[program:oneshot]
command=/bin/sh -c "sleep 3; exit 0"
startsecs=1
autostart=false
autorestart=false

[program:bad]
command=/bin/sh -c "sleep 3; exit 7"
startsecs=1
autostart=false
autorestart=false

[program:wörker.v2]
command=/bin/sleep 600
startsecs=1
stopsignal=KILL

[program:wa]
command=/bin/sleep 600
startsecs=1
stopsignal=KILL

[program:wb]
command=/bin/sleep 600
startsecs=1
stopsignal=KILL

[group:pool]
programs=wa,wb

[eventlistener:telltale]
command=${RECORD ? `/bin/sh -c "exec tee {dir}/capture.bin | ${cmd}"` : cmd}
events=PROCESS_STATE,PROCESS_GROUP,SUPERVISOR_STATE_CHANGE,TICK_5
buffer_size=1024
autorestart=true
stdout_logfile=NONE
stderr_logfile={dir}/listener.err.log
${RECORD ? 'stopasgroup=true\n' : ''}`);
  });

  afterAll(async () => {
    if (sv) {
      const s = sv;
      sv = undefined;
      await s.shutdown();
      if (RECORD && existsSync(join(s.dir, 'capture.bin'))) copyFileSync(join(s.dir, 'capture.bin'), FIXTURE);
      // SV_E2E_DUMP=file keeps the statsd lines and the listener's stderr (README examples).
      const dump = process.env['SV_E2E_DUMP'];
      if (dump) {
        writeFileSync(dump, udp.lines().join('\n') + '\n');
        writeFileSync(`${dump}.stderr`, s.readFile('listener.err.log'));
      }
      await s.stop();
    }
    await udp?.close();
    if (cfgDir) rmSync(cfgDir, { recursive: true, force: true });
  });

  it('reports start/stop/restart, a crash loop to FATAL, expected and unexpected exits, odd names and a group', async () => {
    const s = sv!;
    // Startup: everything autostarted reaches RUNNING; the crasher backs off into FATAL by itself.
    await waitCounter('good.good.state.running', 1);
    await waitCounter('pool.wa.state.running', 1);
    await waitCounter('pool.wb.state.running', 1);
    await waitCounter('w_rker_v2.w_rker_v2.state.running', 1);
    await waitCounter('crasher.crasher.fatal', 1);
    expect(counter('crasher.crasher.backoff'), about('crasher')).toBe(2);
    expect(counter('crasher.crasher.restarts'), about('crasher')).toBe(1);
    expect(counter('crasher.crasher.starts'), about('crasher')).toBe(2);
    expect(counter('supervisord.groups.added')).toBeGreaterThanOrEqual(7);

    // Operator actions.
    expect((await s.ctl('stop', 'good')).code).toBe(0);
    await waitCounter('good.good.state.stopped', 1);
    expect((await s.ctl('start', 'good')).code).toBe(0);
    await waitCounter('good.good.state.running', 2);
    expect((await s.ctl('restart', 'good')).code).toBe(0);
    await waitCounter('good.good.state.running', 3);
    expect(counter('good.good.starts'), about('good')).toBe(3);
    // Operator stops are not crashes, and starts after STOPPED are not restarts.
    expect(counter('good.good.exits.unexpected')).toBe(0);
    expect(counter('good.good.restarts')).toBe(0);
    expect(timings('good.good.run_time').length, about('good')).toBe(2);
    expect(timings('good.good.start_time').length, about('good')).toBe(3);

    // Exits: code 0 is expected, code 7 is not.
    // Both sleep 3 s past startsecs=1: they reach RUNNING, then exit (0 and 7).
    const started = await s.ctl('start', 'oneshot', 'bad');
    expect(started.code, started.out).toBe(0);
    await waitCounter('oneshot.oneshot.exits.expected', 1);
    await waitCounter('bad.bad.exits.unexpected', 1);
    expect(counter('oneshot.oneshot.exits.unexpected')).toBe(0);
    expect(counter('bad.bad.exits.expected')).toBe(0);

    // A group member, by its namespec.
    expect((await s.ctl('restart', 'pool:wb')).code).toBe(0);
    await waitCounter('pool.wb.state.running', 2);
    expect(counter('pool.wa.state.running')).toBe(1);

    // The dotted non-ASCII name, by its namespec.
    expect((await s.ctl('stop', 'wörker.v2')).code).toBe(0);
    await waitCounter('w_rker_v2.w_rker_v2.state.stopped', 1);

    // The listener's own health: nothing lost with buffer_size=1024, nothing unparseable.
    expect(counter('listener.protocol_errors')).toBe(0);
    expect(counter('listener.dropped')).toBe(0);
    expect(counter('listener.unknown')).toBe(0);
    expect(counter('listener.events')).toBeGreaterThan(30);
  });

  it('stays RUNNING and in sync: every process gauge matches supervisorctl status after a TICK', async () => {
    const s = sv!;
    const status = await s.ctl('status');
    const table = new Map<string, string>();
    for (const line of status.out.split('\n')) {
      const m = /^(\S+)\s+(STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL|UNKNOWN)\b/.exec(line);
      if (m) table.set(m[1]!, m[2]!);
    }
    expect(table.get('telltale')).toBe('RUNNING');
    const node = (n: string): string => n.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/_{2,}/g, '_');
    const path = (namespec: string): string => {
      const [g, p] = namespec.includes(':') ? namespec.split(':') : [namespec, namespec];
      return `${node(g!)}.${node(p!)}`;
    };
    // A TICK re-sends every gauge; wait for one that arrives after the status snapshot.
    const before = parsed().filter((x) => x.name === `${P}.supervisord.processes.running`).length;
    await udp.waitFor(() => parsed().filter((x) => x.name === `${P}.supervisord.processes.running`).length > before, 15_000);
    for (const [namespec, st] of table) {
      if (namespec === 'telltale') continue;
      expect(gauge(`${path(namespec)}.state`), namespec).toBe(CODES[st]);
      expect(gauge(`${path(namespec)}.up`), namespec).toBe(st === 'RUNNING' ? 1 : 0);
    }
    const running = [...table.values()].filter((v) => v === 'RUNNING').length;
    expect(gauge('supervisord.processes.running')).toBe(running);
    expect(gauge('supervisord.processes.fatal')).toBe(1);
    expect(gauge('supervisord.up')).toBe(1);
    // Resync over the unix socket XML-RPC worked (SUPERVISOR_SERVER_URL is set by supervisord).
    expect(counter('listener.resync.ok')).toBeGreaterThanOrEqual(1);
    expect(counter('listener.resync.errors')).toBe(0);
    // Protocol hygiene as supervisord saw it.
    const log = s.log();
    expect(log).not.toMatch(/UNKNOWN state|bad result line|event was rejected|buffer overflowed/);
    const after = await s.ctl('status', 'telltale');
    expect(after.out).toMatch(/^telltale\s+RUNNING/m);
  });

  it('on supervisorctl stop (SIGTERM) the listener flushes and exits 0, and comes back on start', async () => {
    const s = sv!;
    const eventsBefore = counter('listener.events');
    expect((await s.ctl('stop', 'telltale')).code).toBe(0);
    await until(() => /stopped: telltale \((exit status \d+|terminated by \w+)\)/.test(s.log()), 15_000, 'the listener to stop');
    expect(s.log()).toMatch(/stopped: telltale \(exit status 0\)/);
    expect((await s.ctl('start', 'telltale')).code).toBe(0);
    // Its own STARTING/RUNNING reach the new listener process once it is RUNNING.
    await waitCounter('telltale.telltale.state.running', 2);
    expect(counter('listener.events')).toBeGreaterThan(eventsBefore);
    expect((await s.ctl('status', 'telltale')).out).toMatch(/^telltale\s+RUNNING/m);
  });
});
