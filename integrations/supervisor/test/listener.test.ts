import { describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { testContext, type TestContext } from '../../../test/helpers/context.js';
import { supervisorSchema } from '../config.js';
import { supervisor } from '../index.js';
import { nodeName, sulphiteName } from '../names.js';
import { createProtocolParser } from '../protocol.js';
import { formatEnvelope } from './envelope.mjs';

type Settings = Parameters<typeof supervisor.create>[0];

function settings(raw: Record<string, unknown> = {}): Settings {
  const r = validate(supervisorSchema, { resync: false, ...raw });
  if ('issues' in r) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

/** A fake clock so timers (start_time, run_time…) are exact, not measured. */
function clock(start = 1_700_000_000_000): { now: () => number; set: (ms: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (ms) => void (t = ms), advance: (ms) => void (t += ms) };
}

interface Driver {
  t: TestContext;
  out: () => string;
  /** Sends one event and waits for its RESULT (the way supervisord does). */
  send(eventname: string, payload: string, opts?: { serial?: number; poolserial?: number; unit?: 'chars' | 'bytes' }): Promise<void>;
  acks: () => number;
}

async function startListener(
  raw: Record<string, unknown> = {},
  o: { now?: () => number; env?: Record<string, string> } = {},
): Promise<Driver & { done: Promise<void> }> {
  const t = testContext({ prefix: 'supervisor', type: 'supervisor', env: o.env ?? {}, ...(o.now ? { now: o.now } : {}) });
  let out = '';
  const waiters = new Set<() => void>();
  t.stdout.on('data', (d: Buffer) => {
    out += d.toString('latin1');
    for (const w of [...waiters]) w();
  });
  const integration = supervisor.create(settings(raw), t.ctx);
  const done = integration.once();
  let serial = 0;
  const acks = (): number => out.split('RESULT 2\nOK').length - 1;
  const waitAcks = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (acks() >= n) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no RESULT #${n} within 5s; stdout so far: ${JSON.stringify(out)}`));
      }, 5000);
      waiters.add(check);
      check();
    });
  return {
    t,
    out: () => out,
    acks,
    done,
    async send(eventname, payload, so = {}) {
      const s = so.serial ?? serial++;
      const before = acks();
      t.stdin.write(formatEnvelope({ serial: s, poolserial: so.poolserial ?? s, eventname }, payload, so.unit ?? 'chars'));
      await waitAcks(before + 1);
    },
  };
}

const state = (name: string, group: string, to: string, rest: string): [string, string] => [
  `PROCESS_STATE_${to}`,
  `processname:${name} groupname:${group} ${rest}`,
];

describe('supervisor listener (create + testContext)', () => {
  it('speaks only READY/RESULT on stdout and resolves once() at EOF', async () => {
    const d = await startListener();
    await d.send(...state('web', 'web', 'STARTING', 'from_state:STOPPED tries:0'));
    await d.send('SOME_FUTURE_EVENT', 'x:y');
    d.t.stdin.end();
    await d.done;
    expect(d.out()).toBe('READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\n');
  });

  it('turns a lifecycle into counters, gauges and timers with exact durations', async () => {
    const c = clock();
    const d = await startListener({}, { now: c.now });
    const send = async (to: string, rest: string, advance = 0): Promise<void> => {
      c.advance(advance);
      await d.send(...state('web', 'app.servers', to, rest));
    };
    await send('STARTING', 'from_state:STOPPED tries:0');
    await send('RUNNING', 'from_state:STARTING pid:10', 1000);
    await send('EXITED', 'from_state:RUNNING expected:0 pid:10', 60_000);
    await send('STARTING', 'from_state:EXITED tries:0', 5);
    await send('BACKOFF', 'from_state:STARTING tries:1', 200);
    await send('STARTING', 'from_state:BACKOFF tries:1', 1000);
    await send('RUNNING', 'from_state:STARTING pid:11', 1000);
    await send('STOPPING', 'from_state:RUNNING pid:11', 30_000);
    await send('STOPPED', 'from_state:STOPPING pid:11', 100);
    await send('STARTING', 'from_state:STOPPED tries:0', 100);
    await send('RUNNING', 'from_state:STARTING pid:12', 1000);
    await send('EXITED', 'from_state:RUNNING expected:1 pid:12', 2000);
    d.t.stdin.end();
    await d.done;

    const p = 'supervisor.app_servers.web';
    const counters = d.t.sink.counters();
    expect(counters.get(`${p}.starts`)).toBe(4);
    expect(counters.get(`${p}.restarts`)).toBe(2); // after EXITED and after BACKOFF
    expect(counters.get(`${p}.exits.unexpected`)).toBe(1);
    expect(counters.get(`${p}.exits.expected`)).toBe(1);
    expect(counters.get(`${p}.backoff`)).toBe(1);
    expect(counters.get(`${p}.state.starting`)).toBe(4);
    expect(counters.get(`${p}.state.running`)).toBe(3);
    expect(counters.get(`${p}.state.stopped`)).toBe(1);
    expect(counters.get(`${p}.fatal`)).toBeUndefined();
    expect(counters.get('supervisor.listener.events')).toBe(12);

    const timings = d.t.sink.timings();
    expect(timings.get(`${p}.start_time`)).toEqual([1000, 1000, 1000]);
    expect(timings.get(`${p}.run_time`)).toEqual([60_000, 30_000, 2000]);
    // First STARTING of the failing sequence (after the EXITED) to RUNNING.
    expect(timings.get(`${p}.backoff_time`)).toEqual([5 - 5 + 200 + 1000 + 1000]);

    const gauges = d.t.sink.gauges();
    expect(gauges.get(`${p}.up`)).toBe(0);
    expect(gauges.get(`${p}.state`)).toBe(100);
    expect(gauges.get(`${p}.backoff.tries`)).toBe(0);
  });

  it('a crash loop to FATAL: backoff counts, tries gauge, fatal, backoff_time', async () => {
    const c = clock();
    const d = await startListener({}, { now: c.now });
    const s = (to: string, rest: string, adv = 0): Promise<void> => {
      c.advance(adv);
      return d.send(...state('crasher', 'crasher', to, rest));
    };
    await s('STARTING', 'from_state:STOPPED tries:0');
    await s('BACKOFF', 'from_state:STARTING tries:1', 100);
    await s('STARTING', 'from_state:BACKOFF tries:1', 1000);
    await s('BACKOFF', 'from_state:STARTING tries:2', 100);
    expect(d.t.sink.gauges().get('supervisor.crasher.crasher.backoff.tries')).toBe(2);
    await s('STARTING', 'from_state:BACKOFF tries:2', 2000);
    await s('BACKOFF', 'from_state:STARTING tries:3', 100);
    await s('FATAL', 'from_state:BACKOFF', 0);
    d.t.stdin.end();
    await d.done;
    const counters = d.t.sink.counters();
    expect(counters.get('supervisor.crasher.crasher.backoff')).toBe(3);
    expect(counters.get('supervisor.crasher.crasher.fatal')).toBe(1);
    expect(counters.get('supervisor.crasher.crasher.restarts')).toBe(2);
    expect(d.t.sink.timings().get('supervisor.crasher.crasher.backoff_time')).toEqual([3300]);
    expect(d.t.sink.gauges().get('supervisor.crasher.crasher.state')).toBe(200);
    expect(d.t.sink.gauges().get('supervisor.crasher.crasher.up')).toBe(0);
  });

  it('TICK re-sends every gauge, counts processes per state, and measures lag', async () => {
    const c = clock(1_700_000_010_250);
    const d = await startListener({}, { now: c.now });
    await d.send(...state('a', 'g', 'STARTING', 'from_state:STOPPED tries:0'));
    await d.send(...state('a', 'g', 'RUNNING', 'from_state:STARTING pid:1'));
    await d.send(...state('b', 'g', 'STARTING', 'from_state:STOPPED tries:0'));
    await d.send(...state('b', 'g', 'BACKOFF', 'from_state:STARTING tries:1'));
    d.t.sink.clear();
    c.advance(42_000);
    await d.send('TICK_60', 'when:1700000040');
    const g = d.t.sink.gauges();
    expect(g.get('supervisor.g.a.up')).toBe(1);
    expect(g.get('supervisor.g.a.uptime')).toBe(42);
    expect(g.get('supervisor.g.b.up')).toBe(0);
    expect(g.get('supervisor.g.b.state')).toBe(30);
    expect(g.get('supervisor.supervisord.processes.running')).toBe(1);
    expect(g.get('supervisor.supervisord.processes.backoff')).toBe(1);
    expect(g.get('supervisor.supervisord.processes.fatal')).toBe(0);
    expect(d.t.sink.timings().get('supervisor.listener.lag')).toEqual([1_700_000_052_250 - 1_700_000_040_000]);
    d.t.stdin.end();
    await d.done;
  });

  it('unknown events are counted and acknowledged; damaged headers too, and junk is never answered', async () => {
    const d = await startListener();
    await d.send('BRAND_NEW_EVENT_TYPE', 'a:b');
    const before = d.acks();
    d.t.stdin.write('this is junk\n');
    d.t.stdin.write('ver:3.0 server:s serial:77 pool:p poolserial:77 eventname:TICK_5 len:nope\n');
    await d.send('TICK_5', 'when:1700000000');
    d.t.stdin.end();
    await d.done;
    expect(d.acks()).toBe(before + 2); // the damaged header and the TICK; never the junk line
    const counters = d.t.sink.counters();
    expect(counters.get('supervisor.listener.unknown')).toBe(1);
    expect(counters.get('supervisor.listener.protocol_errors')).toBe(2);
    expect(d.out()).toMatch(/^READY\n(RESULT 2\nOKREADY\n)+$/);
    expect(d.t.logs.some((l) => l.includes('BRAND_NEW_EVENT_TYPE'))).toBe(true);
  });

  it('fuzz: whatever arrives on stdin, stdout only ever carries READY and one RESULT per event', async () => {
    let seed = 99;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = Buffer.from('ver:3.0 server:s serial:1 pool:p poolserial:2 eventname:TICK_5 PROCESS_STATE_RUNNING len:7 processname:a groupname:b from_state:STARTING\n\u00fc\u{1F40D}', 'utf8');
    for (let round = 0; round < 40; round++) {
      const parts: Buffer[] = [];
      for (let k = 0; k < 8; k++) {
        const n = Math.floor(rand() * 120);
        const junk = Buffer.alloc(n);
        for (let j = 0; j < n; j++) junk[j] = rand() < 0.8 ? alphabet[Math.floor(rand() * alphabet.length)]! : Math.floor(rand() * 256);
        parts.push(junk);
        if (rand() < 0.5) parts.push(formatEnvelope({ serial: k, poolserial: k, eventname: 'PROCESS_STATE_RUNNING' }, 'processname:ü groupname:ü from_state:STARTING pid:1'));
      }
      const bytes = Buffer.concat(parts);
      // How many events the same bytes hold, by a separate parser instance.
      const ref = createProtocolParser();
      const expectedEvents = [...ref.feed(bytes), ...ref.end()].filter((i) => i.kind === 'event').length;
      const t = testContext({ prefix: 'supervisor' });
      let out = '';
      t.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
      const i = supervisor.create(settings({ len_grace: '10ms' }), t.ctx);
      const done = i.once();
      for (let off = 0; off < bytes.length; off += 37) t.stdin.write(bytes.subarray(off, off + 37));
      t.stdin.end();
      await done;
      expect(out, `round ${round}`).toBe('READY\n' + 'RESULT 2\nOKREADY\n'.repeat(expectedEvents));
    }
  });

  it('counts poolserial gaps as dropped and a redelivered serial once', async () => {
    const d = await startListener({ detect_drops: 'on' });
    await d.send(...state('a', 'a', 'STARTING', 'from_state:STOPPED tries:0'), { serial: 20, poolserial: 5 });
    await d.send(...state('a', 'a', 'RUNNING', 'from_state:STARTING pid:1'), { serial: 27, poolserial: 11 });
    await d.send(...state('a', 'a', 'RUNNING', 'from_state:STARTING pid:1'), { serial: 27, poolserial: 11 });
    await d.send('TICK_5', 'when:1', { serial: 28, poolserial: 12 });
    d.t.stdin.end();
    await d.done;
    const counters = d.t.sink.counters();
    expect(counters.get('supervisor.listener.dropped')).toBe(5);
    expect(counters.get('supervisor.listener.redelivered')).toBe(1);
    expect(counters.get('supervisor.a.a.state.running')).toBe(1);
  });

  it('detect_drops auto is off in a pool with numprocs > 1; include_self: false skips our own process', async () => {
    // What supervisord sets for member 0 of [eventlistener:telltale] numprocs=2; the listener reads ctx.env.
    const d = await startListener({ include_self: false }, { env: { SUPERVISOR_PROCESS_NAME: 'telltale_0', SUPERVISOR_GROUP_NAME: 'telltale' } });
    await d.send(...state('telltale_0', 'telltale', 'RUNNING', 'from_state:STARTING pid:1'), { serial: 3, poolserial: 1 });
    await d.send(...state('telltale_1', 'telltale', 'RUNNING', 'from_state:STARTING pid:2'), { serial: 9, poolserial: 4 });
    d.t.stdin.end();
    await d.done;
    const counters = d.t.sink.counters();
    expect(counters.get('supervisor.listener.dropped')).toBeUndefined();
    expect(counters.get('supervisor.telltale.telltale_0.state.running')).toBeUndefined();
    expect(counters.get('supervisor.telltale.telltale_1.state.running')).toBe(1);
  });

  it('names: dots and punctuation become _, non-ASCII-only names keep their depth', async () => {
    expect(nodeName('wörker|x#1@y,z.v2')).toBe('w_rker_x_1_y_z_v2');
    expect(nodeName('日本')).toBe('xe697a5e69cac');
    const d = await startListener();
    await d.send(...state('wörker|x#1@y,z.v2', 'grp.one', 'STARTING', 'from_state:STOPPED tries:0'));
    await d.send(...state('日本', '日本', 'STARTING', 'from_state:STOPPED tries:0'));
    d.t.stdin.end();
    await d.done;
    const counters = d.t.sink.counters();
    expect(counters.get('supervisor.grp_one.w_rker_x_1_y_z_v2.starts')).toBe(1);
    expect(counters.get('supervisor.xe697a5e69cac.xe697a5e69cac.starts')).toBe(1);
  });

  it('a supervisor 3.x payload (len in bytes) is settled after the grace period and parsed right', async () => {
    const d = await startListener({ len_grace: '20ms' });
    await d.send(...state('wörker', 'wörker', 'STARTING', 'from_state:STOPPED tries:0'), { unit: 'bytes' });
    await d.send(...state('wörker', 'wörker', 'RUNNING', 'from_state:STARTING pid:3'), { unit: 'bytes' });
    d.t.stdin.end();
    await d.done;
    expect(d.t.sink.gauges().get('supervisor.w_rker.w_rker.up')).toBe(1);
    expect(d.t.sink.counters().get('supervisor.listener.protocol_errors')).toBeUndefined();
  });

  it('compat sulphite emits only Sulphite names as datapoints stamped with the event time', async () => {
    expect(sulphiteName('wörker|x#1@y,z.v2', 'wörker|x#1@y,z.v2')).toBe('wörker|x#1@y,z_v2');
    expect(sulphiteName('sample_service', 'proj')).toBe('sample_service_proj');
    const c = clock(1_355_269_824_500);
    const d = await startListener({ compat: 'sulphite', sulphite_suffix: 'my_hostname' }, { now: c.now });
    await d.send(...state('sample_service', 'sample_service', 'STOPPING', 'from_state:RUNNING pid:1'));
    await d.send(...state('sample.service', 'proj', 'STARTING', 'from_state:STOPPED tries:0'));
    await d.send('PROCESS_LOG_STDERR', 'processname:spew groupname:spew pid:1 channel:stderr\nboom');
    await d.send('TICK_60', 'when:1355269800');
    d.t.stdin.end();
    await d.done;
    // The standard self-metrics (telltale.supervisor.*) are not ours to shape; the rest must be Sulphite's.
    const samples = d.t.sink.samples.filter((s) => !s.name.startsWith('telltale.'));
    expect(samples.every((s) => s.kind === 'datapoint')).toBe(true);
    expect(samples.map((s) => (s.kind === 'datapoint' ? `${s.name} ${s.value} ${s.ts}` : ''))).toEqual([
      'supervisor.sample_service.running.process_state_stopping.my_hostname 1 1355269824',
      'supervisor.sample_service_proj.stopped.process_state_starting.my_hostname 1 1355269824',
      'supervisor.spew.process_log_stderr.my_hostname 1 1355269824',
    ]);
  });

  it('compat both emits the default scheme and the Sulphite names', async () => {
    const d = await startListener({ compat: 'both' });
    await d.send(...state('web', 'web', 'STARTING', 'from_state:STOPPED tries:0'));
    d.t.stdin.end();
    await d.done;
    expect(d.t.sink.counters().get('supervisor.web.web.starts')).toBe(1);
    expect(d.t.sink.datapoints().map((s) => s.name)).toEqual(['supervisor.web.stopped.process_state_starting']);
  });

  it('PROCESS_GROUP_REMOVED forgets the group so its gauges stop', async () => {
    const d = await startListener();
    await d.send(...state('a', 'old', 'STARTING', 'from_state:STOPPED tries:0'));
    await d.send('PROCESS_GROUP_REMOVED', 'groupname:old\n');
    d.t.sink.clear();
    await d.send('TICK_5', 'when:1');
    d.t.stdin.end();
    await d.done;
    expect([...d.t.sink.gauges().keys()].some((k) => k.includes('.old.'))).toBe(false);
    expect(d.t.sink.gauges().get('supervisor.supervisord.processes.starting')).toBe(0);
  });

  it('stop() before any input resolves once() and leaves stdout with only READY', async () => {
    const t = testContext({ prefix: 'supervisor' });
    let out = '';
    t.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const i = supervisor.create(settings(), t.ctx);
    const done = i.once();
    await i.stop();
    await done;
    await i.stop();
    expect(out).toBe('READY\n');
  });

  it('rejects a bad server_url with the key named', () => {
    const r = validate(supervisorSchema, { server_url: 'ftp://x' });
    expect('issues' in r && r.issues[0]?.path).toEqual(['server_url']);
  });
});
