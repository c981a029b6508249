/**
 * The app base in real processes: the README example against real Etsy statsd, and
 * flush-on-exit proven by children that exit right after sending to a real UDP listener.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStatsd, startUdpServer, type Statsd, type UdpServer } from '../../../../test/helpers/servers.js';
import { buildPackage, REPO, type BuiltPackage } from './package-build.js';

let pkg: BuiltPackage;
const children = new Set<ChildProcess>();

beforeAll(() => {
  pkg = buildPackage();
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  pkg?.cleanup();
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(script: string, args: string[]): Run {
  // A clean environment: no TELLTALE_* or NODE_ENV from the developer's shell.
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  const child = spawn(process.execPath, [script, ...args], { cwd: pkg.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

function script(name: string, body: string): string {
  const file = join(pkg.dir, name);
  writeFileSync(file, body);
  return file;
}

/** Resolves once the child has printed `text` on stdout (bounded). */
async function waitForOutput(r: Run, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!r.stdout().includes(text)) {
    if (r.child.exitCode !== null) throw new Error(`child exited early: ${r.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" from child within ${timeoutMs}ms: ${r.stderr()}`);
    await new Promise((res) => r.child.stdout!.once('data', res));
  }
}

describe('README example', () => {
  let statsd: Statsd;
  beforeAll(async () => {
    // A long flush interval keeps counters in statsd's memory for the management query.
    statsd = await startStatsd({ flushIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await statsd?.stop();
  });

  it('is in the README verbatim', () => {
    const example = readFileSync(join(REPO, 'shared/library/app/example.mjs'), 'utf8');
    const readme = readFileSync(join(REPO, 'shared/library/app/README.md'), 'utf8');
    expect(readme).toContain('```js\n' + example + '```');
  });

  it('runs, exits on its own, and its metrics reach real Etsy statsd', async () => {
    const file = join(pkg.dir, 'example.mjs');
    writeFileSync(file, readFileSync(join(REPO, 'shared/library/app/example.mjs')));
    const r = run(file, ['--stats', '--stats-port', String(statsd.port), '--stats-environment', 'test', '--requests', '5']);
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
    expect(r.stderr()).toMatch(/info  \[hello\] done requests=5 stats=udp:\/\/127\.0\.0\.1:\d+\n$/);
    expect(r.stdout()).toBe('');
    let counters = '';
    let timers = '';
    const deadline = Date.now() + 10_000;
    // UDP delivery to statsd is asynchronous: poll its management port with a deadline.
    while (!/'test\.hello\.run': \[/.test(timers) || !counters.includes('test.hello.http.requests.users_id.get.2xx')) {
      if (Date.now() > deadline) throw new Error(`statsd never saw the example's metrics:\n${counters}\n${timers}\n${statsd.log()}`);
      await new Promise((res) => setTimeout(res, 50));
      counters = await statsd.mgmt('counters');
      timers = await statsd.mgmt('timers');
    }
    expect(counters).toMatch(/'test\.hello\.http\.requests\.users_id\.get\.2xx': 5\b/);
    const samples = /'test\.hello\.http\.response_time\.users_id\.get\.2xx': \[([^\]]*)\]/.exec(timers)?.[1]?.split(',') ?? [];
    expect(samples).toHaveLength(5);
    expect(timers).toMatch(/'test\.hello\.run': \[ [\d.]+ \]/);
    expect(counters).toMatch(/'statsd\.bad_lines_seen': 0\b/);
  });
});

describe('flush on exit (real UDP listener)', () => {
  let udp: UdpServer;
  beforeAll(async () => {
    udp = await startUdpServer();
  });
  afterAll(async () => {
    await udp?.close();
  });

  const sender = (name: string, opts: string, tail: string): string =>
    script(
      `${name}.mjs`,
      `import { createApp } from 'telltale';
const app = createApp({ name: ${JSON.stringify(name)}${opts} });
app.stats.counter('sent', 7);
app.stats.timing('took', 12);
${tail}
`,
    );

  it('a program that just ends: the last metrics are flushed before the process goes', async () => {
    const r = run(sender('ends', '', ''), ['--stats', '--stats-port', String(udp.port)]);
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
    await udp.waitFor((s) => s.lines().includes('development.ends.sent:7|c'));
    expect(udp.lines()).toContain('development.ends.took:12|ms');
  });

  it('control: the same program without the exit hook loses them (the hook is what delivers)', async () => {
    const r = run(sender('nohook', ', handleExit: false', ''), ['--stats', '--stats-port', String(udp.port)]);
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
    // Prove the listener is live and in order after the child is gone, then that nothing came.
    const probe = run(sender('probe', '', ''), ['--stats', '--stats-port', String(udp.port)]);
    await probe.exited;
    await udp.waitFor((s) => s.lines().includes('development.probe.sent:7|c'));
    expect(udp.lines().filter((l) => l.startsWith('development.nohook.'))).toEqual([]);
  });

  it('SIGTERM: flushed, then the process dies of SIGTERM as a supervisor expects', async () => {
    const r = run(sender('term', '', "setInterval(() => {}, 1000);\nprocess.stdout.write('ready\\n');"), ['--stats', '--stats-port', String(udp.port)]);
    await waitForOutput(r, 'ready');
    r.child.kill('SIGTERM');
    expect(await r.exited).toEqual({ code: null, signal: 'SIGTERM' });
    await udp.waitFor((s) => s.lines().includes('development.term.sent:7|c'));
    expect(udp.lines()).toContain('development.term.took:12|ms');
  });

  it("SIGINT with the program's own handler: flushed, and exiting is left to the program", async () => {
    const r = run(
      sender(
        'own',
        '',
        "const keep = setInterval(() => {}, 1000);\nprocess.on('SIGINT', () => { clearInterval(keep); process.exitCode = 3; });\nprocess.stdout.write('ready\\n');",
      ),
      ['--stats', '--stats-port', String(udp.port)],
    );
    await waitForOutput(r, 'ready');
    r.child.kill('SIGINT');
    expect(await r.exited, r.stderr()).toEqual({ code: 3, signal: null });
    await udp.waitFor((s) => s.lines().includes('development.own.sent:7|c'));
  });

  it('process.exit() after the first event-loop turn: the exit hook flushes synchronously', async () => {
    // The statsd socket connects during the first turn (IP literal: no DNS round trip); after
    // that a UDP send completes inside the call, which is all 'exit' allows. (In the very same
    // turn as createApp nothing can be sent: the README says to await app.close() instead.)
    const r = run(sender('exits', '', "setImmediate(() => { app.stats.counter('sent', 1); process.exit(0); });"), [
      '--stats',
      '--stats-port',
      String(udp.port),
    ]);
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
    await udp.waitFor((s) => s.lines().includes('development.exits.sent:8|c'));
  });

  // The HTTP recorder holds each series' count and times until the emitter flushes: these prove
  // the exit paths hand them over. The handler's own 'close' listener runs after the recorder's
  // (which instrumentServer registers first), so when it has seen N, all N are recorded.
  const server = (name: string, n: number, whenDone: string): string =>
    script(
      `${name}.mjs`,
      `import http from 'node:http';
import { createApp, instrumentServer } from 'telltale';
const app = createApp({ name: ${JSON.stringify(name)} });
let closed = 0;
const server = http.createServer((req, res) => {
  res.on('close', () => { if (++closed === ${n}) done(); });
  res.end('ok');
});
instrumentServer(server, { emitter: app.stats });
const done = () => { ${whenDone} };
server.listen(0, '127.0.0.1', async () => {
  for (let i = 0; i < ${n}; i++) await (await fetch(\`http://127.0.0.1:\${server.address().port}/items/\${i}\`)).text();
});
`,
    );
  /** Counter total and timer samples for one series, summed over every line that arrived. */
  const series = (prefix: string): { count: number; times: number } => {
    let count = 0;
    let times = 0;
    for (const l of udp.lines()) {
      const counter = `${prefix}.http.requests.items_id.get.2xx:`;
      if (l.startsWith(counter) && l.endsWith('|c')) count += Number(l.slice(counter.length, -2));
      if (l.startsWith(`${prefix}.http.response_time.items_id.get.2xx:`) && l.endsWith('|ms')) times++;
    }
    return { count, times };
  };
  const N = 40;
  const arrived = (s: { count: number; times: number }): boolean => s.count >= N && s.times >= N;

  it('SIGTERM right after serving: every request held by the HTTP recorder is delivered', async () => {
    const r = run(server('webterm', N, "process.stdout.write('ready\\n');"), ['--stats', '--stats-port', String(udp.port)]);
    await waitForOutput(r, 'ready');
    r.child.kill('SIGTERM');
    expect(await r.exited, r.stderr()).toEqual({ code: null, signal: 'SIGTERM' });
    await udp.waitFor(() => arrived(series('development.webterm')));
    expect(series('development.webterm')).toEqual({ count: N, times: N });
  });

  it('process.exit() right after serving: the exit hook hands over what the HTTP recorder holds', async () => {
    const r = run(server('webexit', N, 'process.exit(0);'), ['--stats', '--stats-port', String(udp.port)]);
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
    await udp.waitFor(() => arrived(series('development.webexit')));
    expect(series('development.webexit')).toEqual({ count: N, times: N });
  });

  it('without --stats nothing is sent and the program ends normally', async () => {
    const r = run(sender('off', '', ''), ['--stats-port', String(udp.port)]);
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
    const probe = run(sender('probe2', '', ''), ['--stats', '--stats-port', String(udp.port)]);
    await probe.exited;
    await udp.waitFor((s) => s.lines().includes('development.probe2.sent:7|c'));
    expect(udp.lines().filter((l) => l.startsWith('development.off.'))).toEqual([]);
  });
});

describe('--stats-host with a full address', () => {
  let statsd: Statsd;
  beforeAll(async () => {
    statsd = await startStatsd({ tcp: true, flushIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await statsd?.stop();
  });

  it('tcp://: a program that just ends delivers its metrics to real statsd over TCP', async () => {
    const file = script(
      'tcp.mjs',
      `import { createApp } from 'telltale';
const app = createApp({ name: 'tcpapp' });
app.stats.counter('sent', 5);
app.stats.timing('took', 3);
`,
    );
    const r = run(file, ['--stats', '--stats-host', `tcp://127.0.0.1:${statsd.port}`, '--stats-environment', 'test']);
    expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
    let counters = '';
    const deadline = Date.now() + 10_000;
    while (!counters.includes('test.tcpapp.sent')) {
      if (Date.now() > deadline) throw new Error(`statsd (tcp) never saw the counter:\n${counters}\n${statsd.log()}`);
      await new Promise((res) => setTimeout(res, 50));
      counters = await statsd.mgmt('counters');
    }
    expect(counters).toMatch(/'test\.tcpapp\.sent': 5\b/);
    expect(await statsd.mgmt('timers')).toMatch(/'test\.tcpapp\.took': \[ 3 \]/);
  });
});
