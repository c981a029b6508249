import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { createEmitter } from '../../../shared/emitter/emitter.js';
import { createMemorySink } from '../../../shared/emitter/memory-sink.js';
import { testContext } from '../../../test/helpers/context.js';
import { supervisorSchema } from '../config.js';
import { supervisor } from '../index.js';
import { createModel } from '../model.js';
import type { ListenerEvent } from '../protocol.js';
import { formatEnvelope } from './envelope.mjs';
import { parseServerUrl, toProcessInfos } from '../rpc.js';
import { parseResponse, XmlRpcError } from '../xmlrpc.js';

/** Recorded from Debian supervisord 4.2.5 over its unix socket (curl --unix-socket … /RPC2). */
const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');
const ALL = fixture('getAllProcessInfo.xml');

describe('supervisor XML-RPC', () => {
  it('reads a real getAllProcessInfo answer, non-ASCII names and groups included', () => {
    const infos = toProcessInfos(parseResponse(ALL));
    const byName = Object.fromEntries(infos.map((i) => [`${i.group}:${i.name}`, i]));
    expect(Object.keys(byName).sort()).toEqual(['crasher:crasher', 'good:good', 'pool:wa', 'wörker.v2:wörker.v2']);
    expect(byName['crasher:crasher']!.statename).toBe('FATAL');
    expect(byName['good:good']!.statename).toBe('RUNNING');
    expect(byName['pool:wa']!.statename).toBe('RUNNING');
    expect(byName['wörker.v2:wörker.v2']!.statename).toBe('STOPPED');
    expect(byName['good:good']!.now).toBeGreaterThanOrEqual(byName['good:good']!.start);
  });

  it('turns a fault and malformed XML into readable errors', () => {
    expect(() => parseResponse(fixture('fault.xml'))).toThrow(/XML-RPC fault: UNKNOWN_METHOD \(code 1\)/);
    expect(() => parseResponse('<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>')).toThrow(XmlRpcError);
    expect(() => parseResponse('<html>502 Bad Gateway</html>')).toThrow(/expected <methodResponse>/);
    expect(() => toProcessInfos(parseResponse('<methodResponse><params><param><value><string>no</string></value></param></params></methodResponse>'))).toThrow(/not return a list/);
  });

  it('parses supervisord URLs as SUPERVISOR_SERVER_URL gives them', () => {
    expect(parseServerUrl('unix:///run/supervisor.sock')).toMatchObject({ socketPath: '/run/supervisor.sock' });
    expect(parseServerUrl('http://127.0.0.1:9001')).toMatchObject({ host: '127.0.0.1', port: 9001 });
    expect(parseServerUrl('unix://relative.sock')).toMatch(/absolute path/);
    expect(parseServerUrl('https://x')).toMatch(/unsupported/);
  });

  it('a snapshot never overwrites a process that had an event after the request was sent', () => {
    const sink = createMemorySink();
    const emitter = createEmitter({ sinks: [sink], selfMetrics: false });
    const m = createModel({ emitter, now: () => 1_000_000, compat: 'none', sulphiteSuffix: undefined, detectDrops: true, includeSelf: true, self: { process: undefined, group: undefined } });
    const since = m.seq;
    const env = formatEnvelope({ serial: 1, poolserial: 1, eventname: 'PROCESS_STATE_RUNNING' }, 'processname:good groupname:good from_state:STARTING pid:1');
    const nl = env.indexOf(10);
    const ev: ListenerEvent = {
      header: { ver: '3.0', server: 's', serial: 1, pool: 'p', poolserial: 1, eventname: 'PROCESS_STATE_RUNNING', len: env.length - nl - 1, tokens: {} },
      payload: env.subarray(nl + 1),
      unit: 'same',
    };
    m.handle(ev, 1_000_000);
    m.applySnapshot([
      { name: 'good', group: 'good', statename: 'STOPPED', start: 0, now: 1000 },
      { name: 'other', group: 'other', statename: 'FATAL', start: 0, now: 1000 },
    ], since);
    expect(m.processes()).toEqual([
      { group: 'good', name: 'good', state: 'RUNNING', tries: 0 },
      { group: 'other', name: 'other', state: 'FATAL', tries: 0 },
    ]);
  });

  describe('resync through a real HTTP server on a unix socket', () => {
    let server: Server | undefined;
    let dir: string | undefined;
    afterEach(async () => {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server = undefined;
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const serve = async (handler: (auth: string | undefined, body: string) => { status: number; body: string }, over: 'unix' | 'tcp' = 'unix'): Promise<string> => {
      dir = mkdtempSync(join(tmpdir(), 'telltale-sv-rpc-'));
      const sock = join(dir, 'rpc.sock');
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          const r = handler(req.headers.authorization, body);
          res.writeHead(r.status, { 'Content-Type': 'text/xml' });
          res.end(r.body);
        });
      });
      if (over === 'tcp') {
        await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
        const addr = server.address();
        return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      }
      await new Promise<void>((r) => server!.listen(sock, r));
      return `unix://${sock}`;
    };

    it('at start: gauges reflect supervisord even before any event arrives', async () => {
      const infos = toProcessInfos(parseResponse(ALL));
      const good = infos.find((i) => i.name === 'good')!;
      let called = '';
      const url = await serve((_a, body) => {
        called = body;
        return { status: 200, body: ALL };
      });
      const now = 1_800_000_000_000;
      const t = testContext({ prefix: 'supervisor', now: () => now });
      const r = validate(supervisorSchema, { server_url: url });
      if ('issues' in r) throw new Error('config');
      const i = supervisor.create(r.value, t.ctx);
      await i.start!();
      await t.sink.waitFor((s) => s.counters().get('supervisor.listener.resync.ok') === 1, 10_000);
      expect(called).toContain('<methodName>supervisor.getAllProcessInfo</methodName>');
      const g = t.sink.gauges();
      expect(g.get('supervisor.good.good.up')).toBe(1);
      expect(g.get('supervisor.good.good.uptime')).toBe(good.now - good.start);
      expect(g.get('supervisor.crasher.crasher.state')).toBe(200);
      expect(g.get('supervisor.w_rker_v2.w_rker_v2.state')).toBe(0);
      expect(g.get('supervisor.supervisord.processes.running')).toBe(2);
      expect(g.get('supervisor.supervisord.processes.fatal')).toBe(1);
      await i.stop();
    });

    it('over http:// ([inet_http_server]) as well', async () => {
      const url = await serve(() => ({ status: 200, body: ALL }), 'tcp');
      const t = testContext({ prefix: 'supervisor' });
      const r = validate(supervisorSchema, { server_url: url });
      if ('issues' in r) throw new Error('config');
      const i = supervisor.create(r.value, t.ctx);
      await i.start!();
      await t.sink.waitFor((s) => s.counters().get('supervisor.listener.resync.ok') === 1, 10_000);
      expect(t.sink.gauges().get('supervisor.pool.wa.up')).toBe(1);
      await i.stop();
    });

    it('a 401 is counted as a resync error with a hint, and the protocol carries on', async () => {
      const url = await serve((auth) => (auth ? { status: 200, body: ALL } : { status: 401, body: 'Unauthorized' }));
      const t = testContext({ prefix: 'supervisor' });
      let out = '';
      t.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const r = validate(supervisorSchema, { server_url: url });
      if ('issues' in r) throw new Error('config');
      const i = supervisor.create(r.value, t.ctx);
      const done = i.once();
      await t.sink.waitFor((s) => s.counters().get('supervisor.listener.resync.errors') === 1, 10_000);
      expect(t.logs.join('')).toMatch(/HTTP 401.*SUPERVISOR_USERNAME/);
      t.stdin.end(formatEnvelope({ serial: 0, poolserial: 0, eventname: 'TICK_5' }, 'when:1'));
      await done;
      expect(out).toBe('READY\nRESULT 2\nOKREADY\n');
      await i.stop();
    });
  });
});
