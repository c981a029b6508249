/**
 * capture.bin is the listener's stdin exactly as Debian's supervisord 4.2.5 wrote it during the
 * e2e scenario (recorded with RECORD_CAPTURE=1, which tees stdin to a file). It contains a
 * non-ASCII process name whose `len` counts code points.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/helpers/cli.js';
import { startLineServer } from '../../../test/helpers/servers.js';
import { createProtocolParser, type ListenerEvent } from '../protocol.js';
import { codePointLength, formatEnvelope } from './envelope.mjs';

const capture = readFileSync(fileURLToPath(new URL('./fixtures/capture.bin', import.meta.url)));

function parseAll(bytes: Buffer, chunk = bytes.length): ListenerEvent[] {
  const p = createProtocolParser();
  const events: ListenerEvent[] = [];
  const take = (items: ReturnType<typeof p.feed>): void => {
    for (const it of items) {
      if (it.kind === 'junk') throw new Error(`junk: ${it.reason}`);
      events.push(it.event);
    }
  };
  for (let i = 0; i < bytes.length; i += chunk) take(p.feed(bytes.subarray(i, i + chunk)));
  take(p.end());
  return events;
}

/** Header lines counted independently of the parser. */
const HEADERS = capture.toString('latin1').match(/ver:3\.0 server:\S+ serial:\d+ pool:\S+ poolserial:\d+ eventname:[A-Z_0-9]+ len:\d+\n/g) ?? [];

describe('supervisor capture replay', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('the recorded stream parses into exactly its headers, and includes a code-point len', () => {
    const events = parseAll(capture);
    expect(HEADERS.length).toBeGreaterThan(40);
    expect(events.length).toBe(HEADERS.length);
    const nonAscii = events.filter((e) => e.unit === 'chars');
    expect(nonAscii.length).toBeGreaterThan(0);
    for (const e of nonAscii) {
      expect(codePointLength(e.payload)).toBe(e.header.len);
      expect(e.payload.length).toBeGreaterThan(e.header.len);
    }
    expect(events.map((e) => e.header.serial)).toEqual(events.map((_, i) => events[0]!.header.serial! + i));
  });

  it('parses identically when split at every offset, and byte by byte', () => {
    const want = parseAll(capture).map((e) => e.header.eventname + e.payload.toString('hex'));
    for (let cut = 1; cut < capture.length; cut += 1) {
      const p = createProtocolParser();
      const got: string[] = [];
      for (const part of [capture.subarray(0, cut), capture.subarray(cut)]) {
        for (const it of p.feed(part)) if (it.kind === 'event') got.push(it.event.header.eventname + it.event.payload.toString('hex'));
      }
      for (const it of p.end()) if (it.kind === 'event') got.push(it.event.header.eventname + it.event.payload.toString('hex'));
      if (got.length !== want.length || got.some((g, i) => g !== want[i])) expect({ cut, got }).toEqual({ cut, got: want });
    }
    expect(parseAll(capture, 1).map((e) => e.header.eventname + e.payload.toString('hex'))).toEqual(want);
  });

  it('the same events re-encoded as supervisor 3.x (len in bytes) replay identically', () => {
    const events = parseAll(capture);
    const v3 = Buffer.concat(
      events.map((e) => formatEnvelope({ serial: e.header.serial!, poolserial: e.header.poolserial!, eventname: e.header.eventname, server: e.header.server, pool: e.header.pool }, e.payload, 'bytes')),
    );
    const again = parseAll(v3, 97);
    expect(again.map((e) => e.payload.toString('hex'))).toEqual(events.map((e) => e.payload.toString('hex')));
  });

  it('`telltale supervisor --print < capture.bin` answers every event and prints the metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telltale-sv-replay-'));
    dirs.push(dir);
    const yaml = join(dir, 'integrations.yaml');
    writeFileSync(yaml, 'emitter:\n  prefix: replay\n  sinks:\n    - type: console\nintegrations:\n  supervisor:\n    resync: false\n');
    const run = runCli(['supervisor', '--print', '--config', yaml], { input: capture });
    const code = await run.exited;
    expect(code, run.stderr()).toBe(0);
    expect(run.stdout()).toBe('READY\n' + 'RESULT 2\nOKREADY\n'.repeat(HEADERS.length));
    const err = run.stderr();
    expect(err).toMatch(/^stats\.counters\.replay\.supervisor\.crasher\.crasher\.fatal\.count 1 \d+$/m);
    expect(err).toMatch(/^stats\.counters\.replay\.supervisor\.crasher\.crasher\.backoff\.count 2 \d+$/m);
    expect(err).toMatch(/^stats\.counters\.replay\.supervisor\.oneshot\.oneshot\.exits\.expected\.count 1 \d+$/m);
    expect(err).toMatch(/^stats\.counters\.replay\.supervisor\.bad\.bad\.exits\.unexpected\.count 1 \d+$/m);
    expect(err).toMatch(/^stats\.counters\.replay\.supervisor\.pool\.wb\.starts\.count 2 \d+$/m);
    expect(err).toMatch(/^stats\.counters\.replay\.supervisor\.w_rker_v2\.w_rker_v2\.starts\.count 1 \d+$/m);
    expect(err).toMatch(/^stats\.gauges\.replay\.supervisor\.supervisord\.processes\.fatal 1 \d+$/m);
    expect(err).toMatch(new RegExp(`^stats\\.counters\\.replay\\.supervisor\\.listener\\.events\\.count ${HEADERS.length} \\d+$`, 'm'));
    expect(err).not.toMatch(/protocol_errors/);
  });

  it('compat sulphite through the real Graphite sink: one Sulphite line per PROCESS_STATE event', async () => {
    // Expected names derived here independently: Sulphite's rule, then telltale's node sanitising.
    const want = parseAll(capture)
      .filter((e) => e.header.eventname.startsWith('PROCESS_STATE_'))
      .map((e) => {
        const tok = Object.fromEntries(e.payload.toString('utf8').split(' ').map((t) => [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)]));
        const name = tok['processname'] === tok['groupname'] ? tok['processname']! : `${tok['processname']}_${tok['groupname']}`;
        const node = name.replace(/[. ]/g, '_').replace(/[^A-Za-z0-9_-]+/g, '_').replace(/_{2,}/g, '_');
        return `events.${node}.${tok['from_state']!.toLowerCase()}.${e.header.eventname.toLowerCase()}.web01 1`;
      });
    expect(want).toContain('events.crasher.backoff.process_state_fatal.web01 1');
    expect(want).toContain('events.w_rker_v2.stopped.process_state_starting.web01 1');
    expect(want).toContain('events.wa_pool.stopped.process_state_starting.web01 1');
    const srv = await startLineServer();
    try {
      const dir = mkdtempSync(join(tmpdir(), 'telltale-sv-sulphite-'));
      dirs.push(dir);
      const yaml = join(dir, 'integrations.yaml');
      writeFileSync(yaml, 'emitter:\n  prefix: ""\nintegrations:\n  supervisor:\n    prefix: events\n    compat: sulphite\n    sulphite_suffix: web01\n    resync: false\n');
      const run = runCli(['supervisor', '--config', yaml, '--graphite', `127.0.0.1:${srv.port}`], { input: capture });
      expect(await run.exited, run.stderr()).toBe(0);
      const lines = srv.lines.filter((l) => l.startsWith('events.')).map((l) => l.replace(/ \d+$/, ''));
      expect(lines).toEqual(want);
      // Sulphite mode sends nothing of telltale's own scheme under the instance prefix.
      expect(srv.lines.some((l) => l.includes('.listener.') || l.includes('.starts'))).toBe(false);
    } finally {
      await srv.close();
    }
  });
});
