import { describe, expect, it } from 'vitest';
import { parseHeaderLine } from '../header.js';
import { createProtocolParser, type ParseItem } from '../protocol.js';
import { codePointLength, formatEnvelope } from './envelope.mjs';
import { seededRandom } from '../../../test/helpers/random.js';

interface Ev {
  eventname: string;
  payload: string | Buffer;
}

/** Payloads as supervisord 4.2.5 sends them (shapes from the research recordings). */
const EVENTS: Ev[] = [
  { eventname: 'PROCESS_GROUP_ADDED', payload: 'groupname:web\n' },
  { eventname: 'SUPERVISOR_STATE_CHANGE_RUNNING', payload: '' },
  { eventname: 'PROCESS_STATE_STARTING', payload: 'processname:wörker|x#1@y,z.v2 groupname:wörker|x#1@y,z.v2 from_state:STOPPED tries:0' },
  { eventname: 'PROCESS_STATE_RUNNING', payload: 'processname:wa groupname:workers from_state:STARTING pid:1812' },
  { eventname: 'PROCESS_COMMUNICATION_STDOUT', payload: 'processname:talker groupname:talker pid:18640\nutf8: héllo wörld ✓ 🐍' },
  { eventname: 'PROCESS_LOG_STDERR', payload: 'processname:spew groupname:spew pid:19706 channel:stderr\nstderr line with CRLF\r\nver:3.0 fake header inside data\n' },
  { eventname: 'PROCESS_LOG_STDOUT', payload: "processname:spew groupname:spew pid:19706 channel:stdout\nUndecodable: b'\\xff\\xfe invalid utf8 bytes'" },
  { eventname: 'TICK_5', payload: 'when:1700000000' },
  { eventname: 'REMOTE_COMMUNICATION', payload: 'type:deploy\nv1.2.3 done ✓' },
  { eventname: 'PROCESS_STATE_EXITED', payload: 'processname:日本 groupname:日本 from_state:RUNNING expected:0 pid:7' },
  { eventname: 'PROCESS_STATE_FATAL', payload: 'processname:crasher groupname:crasher from_state:BACKOFF' },
  // Multi-byte characters right at the end: the code-point and byte readings differ in the tail.
  { eventname: 'PROCESS_COMMUNICATION_STDERR', payload: 'processname:e groupname:e pid:1\n🐍🐍' },
  { eventname: 'PROCESS_COMMUNICATION_STDERR', payload: 'processname:e groupname:e pid:1\nü v' },
];

function stream(unit: 'chars' | 'bytes', events = EVENTS): { bytes: Buffer; envelopes: Buffer[] } {
  const envelopes = events.map((e, i) => formatEnvelope({ serial: i, poolserial: i, eventname: e.eventname, server: 'research', pool: 'rec' }, e.payload, unit));
  return { bytes: Buffer.concat(envelopes), envelopes };
}

function expected(events = EVENTS): { eventname: string; payload: string }[] {
  return events.map((e) => ({ eventname: e.eventname, payload: Buffer.from(e.payload).toString('hex') }));
}

function collect(items: ParseItem[], into: { eventname: string; payload: string }[], junk: ParseItem[] = []): void {
  for (const it of items) {
    if (it.kind === 'event') into.push({ eventname: it.event.header.eventname, payload: it.event.payload.toString('hex') });
    else junk.push(it);
  }
}

/** Feeds the chunks, then ends the input (a replay); returns events and junk. */
function replay(chunks: Buffer[]): { events: { eventname: string; payload: string }[]; junk: ParseItem[] } {
  const p = createProtocolParser();
  const events: { eventname: string; payload: string }[] = [];
  const junk: ParseItem[] = [];
  for (const c of chunks) collect(p.feed(c), events, junk);
  collect(p.end(), events, junk);
  return { events, junk };
}

describe('supervisor protocol parser', () => {
  it('counts len as Python 3 does: code points, not UTF-16 units or bytes', () => {
    const b = Buffer.from('héllo ✓ 🐍');
    expect(codePointLength(b)).toBe(9);
    expect('héllo ✓ 🐍'.length).toBe(10); // why string.length must never be used
    expect(b.length).toBe(15);
  });

  it('reads the header tokens, tolerating unknown ones and reporting a damaged len', () => {
    const ok = parseHeaderLine('ver:3.0 server:research serial:21 pool:rec poolserial:10 eventname:PROCESS_STATE_RUNNING len:71 extra:x', 1000);
    expect(ok.problem).toBeUndefined();
    expect(ok.header).toMatchObject({ ver: '3.0', server: 'research', serial: 21, pool: 'rec', poolserial: 10, eventname: 'PROCESS_STATE_RUNNING', len: 71 });
    expect(ok.header.tokens['extra']).toBe('x');
    expect(parseHeaderLine('ver:3.0 eventname:X len:-1', 1000).problem).toMatch(/unusable len/);
    expect(parseHeaderLine('ver:3.0 eventname:X len:2000', 1000).problem).toMatch(/unusable len/);
    expect(parseHeaderLine('ver:3.0 eventname:X', 1000).problem).toMatch(/no len/);
    expect(parseHeaderLine('ver:3.0 len:1', 1000).problem).toMatch(/no eventname/);
  });

  for (const unit of ['chars', 'bytes'] as const) {
    const label = unit === 'chars' ? 'supervisor 4.x (len in code points)' : 'supervisor 3.x (len in bytes)';

    it(`${label}: a replayed stream split at every offset parses identically`, () => {
      const { bytes } = stream(unit);
      const want = expected();
      const whole = replay([bytes]);
      expect(whole.events).toEqual(want);
      expect(whole.junk).toEqual([]);
      for (let cut = 1; cut < bytes.length; cut++) {
        const r = replay([bytes.subarray(0, cut), bytes.subarray(cut)]);
        expect(r.junk, `cut at ${cut}`).toEqual([]);
        expect(r.events, `cut at ${cut}`).toEqual(want);
      }
    });

    it(`${label}: byte-by-byte and random chunkings parse identically`, () => {
      const { bytes } = stream(unit);
      const want = expected();
      const single: Buffer[] = [];
      for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
      expect(replay(single).events).toEqual(want);
      const rand = seededRandom(unit === 'chars' ? 1 : 2);
      for (let round = 0; round < 200; round++) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; ) {
          const n = 1 + Math.floor(rand() * 40);
          chunks.push(bytes.subarray(i, i + n));
          i += n;
        }
        expect(replay(chunks).events).toEqual(want);
      }
    });

    it(`${label}: live, each event split at every offset completes exactly once, never early`, () => {
      const { envelopes } = stream(unit);
      envelopes.forEach((env, idx) => {
        for (let cut = 1; cut < env.length; cut++) {
          const p = createProtocolParser();
          const got: { eventname: string; payload: string }[] = [];
          collect(p.feed(env.subarray(0, cut)), got);
          expect(got, `event ${idx} completed before its last byte (cut ${cut})`).toEqual([]);
          collect(p.feed(env.subarray(cut)), got);
          // Live, supervisord sends nothing more until we answer: the listener's grace timer
          // settles a payload that is only complete when len counts bytes.
          if (got.length === 0 && p.ambiguous) collect(p.settle(), got);
          expect(got, `event ${idx} cut ${cut}`).toEqual([expected()[idx]]);
          expect(p.pendingBytes).toBe(0);
        }
      });
    });
  }

  it('4.x: a payload complete by code points is taken at once, no grace period needed', () => {
    const env = formatEnvelope({ serial: 1, poolserial: 1, eventname: 'PROCESS_STATE_STARTING' }, 'processname:wörker groupname:wörker from_state:STOPPED tries:0', 'chars');
    const p = createProtocolParser();
    const items = p.feed(env);
    expect(items).toHaveLength(1);
    expect(items[0]!.kind === 'event' && items[0]!.event.unit).toBe('chars');
  });

  it('3.x: a non-ASCII payload complete by bytes waits for the grace period, then settles as bytes', () => {
    const env = formatEnvelope({ serial: 1, poolserial: 1, eventname: 'PROCESS_STATE_STARTING' }, 'processname:wörker groupname:wörker from_state:STOPPED tries:0', 'bytes');
    const p = createProtocolParser();
    expect(p.feed(env)).toEqual([]);
    expect(p.ambiguous).toBe(true);
    const items = p.settle();
    expect(items).toHaveLength(1);
    const ev = items[0]!.kind === 'event' ? items[0]!.event : undefined;
    expect(ev?.unit).toBe('bytes');
    expect(ev?.payload.toString()).toBe('processname:wörker groupname:wörker from_state:STOPPED tries:0');
  });

  it('reads a 262 KB PROCESS_LOG payload delivered in 64 KiB reads', () => {
    const data = 'x'.repeat(100) + '€'.repeat(87_400) + "Undecodable: b'\\xe2\\x82'";
    const payload = `processname:spew groupname:spew pid:1 channel:stdout\n${data}`;
    const env = formatEnvelope({ serial: 4, poolserial: 4, eventname: 'PROCESS_LOG_STDOUT' }, payload, 'chars');
    expect(env.length).toBeGreaterThan(262_000);
    const chunks: Buffer[] = [];
    for (let i = 0; i < env.length; i += 65_536) chunks.push(env.subarray(i, i + 65_536));
    const p = createProtocolParser();
    const got: { eventname: string; payload: string }[] = [];
    chunks.forEach((c, i) => {
      collect(p.feed(c), got);
      if (i < chunks.length - 1) expect(got).toEqual([]);
    });
    expect(got).toEqual([{ eventname: 'PROCESS_LOG_STDOUT', payload: Buffer.from(payload).toString('hex') }]);
  });

  it('len:0 completes with the header alone', () => {
    const p = createProtocolParser();
    const items = p.feed(Buffer.from('ver:3.0 server:s serial:1 pool:p poolserial:1 eventname:SUPERVISOR_STATE_CHANGE_STOPPING len:0\n'));
    expect(items).toHaveLength(1);
    expect(items[0]!.kind === 'event' && items[0]!.event.payload.length).toBe(0);
  });

  it('a damaged header is still an event (supervisord waits for its answer), with the problem named', () => {
    const p = createProtocolParser();
    const items = p.feed(Buffer.from('ver:3.0 server:s serial:1 pool:p poolserial:1 eventname:TICK_5 len:zz\n'));
    expect(items).toHaveLength(1);
    expect(items[0]!.kind === 'event' && items[0]!.event.problem).toMatch(/unusable len:zz/);
  });

  it('fuzz: junk between events is discarded and counted; every real event still parses', () => {
    const rand = seededRandom(42);
    const { envelopes } = stream('chars');
    for (let round = 0; round < 300; round++) {
      const parts: Buffer[] = [];
      const wantEvents: { eventname: string; payload: string }[] = [];
      let junkLines = 0;
      for (let k = 0; k < 6; k++) {
        if (rand() < 0.6) {
          // Arbitrary bytes (newlines included) that never spell a header start, then a newline
          // so the next header starts on a fresh line.
          const n = 1 + Math.floor(rand() * 300);
          const junk = Buffer.alloc(n);
          for (let j = 0; j < n; j++) junk[j] = Math.floor(rand() * 256);
          const cleaned = Buffer.from(junk.toString('latin1').replaceAll('ver:', 'VER:'), 'latin1');
          parts.push(cleaned, Buffer.from('\n'));
          junkLines++;
        }
        const idx = Math.floor(rand() * envelopes.length);
        parts.push(envelopes[idx]!);
        wantEvents.push(expected()[idx]!);
      }
      const bytes = Buffer.concat(parts);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(rand() * 64);
        chunks.push(bytes.subarray(i, i + n));
        i += n;
      }
      const r = replay(chunks);
      expect(r.events, `round ${round}`).toEqual(wantEvents);
      expect(r.junk.length >= (junkLines > 0 ? 1 : 0), `round ${round}`).toBe(true);
    }
  });

  it('fuzz: arbitrary bytes never throw, and every event reported has a consistent payload', () => {
    const rand = seededRandom(7);
    for (let round = 0; round < 500; round++) {
      const n = Math.floor(rand() * 2000);
      const bytes = Buffer.alloc(n);
      // Bias towards protocol-looking bytes so headers with odd lens actually occur.
      const alphabet = Buffer.from('ver:3.0 len:12 eventname:X\n\u00e9\u{1F40D}', 'utf8');
      for (let j = 0; j < n; j++) bytes[j] = rand() < 0.7 ? alphabet[Math.floor(rand() * alphabet.length)]! : Math.floor(rand() * 256);
      const p = createProtocolParser({ maxLen: 4096 });
      const items: ParseItem[] = [];
      for (let i = 0; i < n; ) {
        const k = 1 + Math.floor(rand() * 50);
        items.push(...p.feed(bytes.subarray(i, i + k)));
        i += k;
      }
      items.push(...p.end());
      for (const it of items) {
        if (it.kind !== 'event') continue;
        const e = it.event;
        if (e.problem) expect(e.payload.length).toBe(0);
        else if (e.unit === 'bytes' || e.unit === 'same') expect(e.payload.length).toBe(e.header.len);
        else expect(codePointLength(e.payload)).toBe(e.header.len);
      }
      expect(p.pendingBytes).toBe(0);
    }
  });

  it('resynchronises on a header glued behind stray bytes on the same line', () => {
    const env = formatEnvelope({ serial: 9, poolserial: 9, eventname: 'TICK_60' }, 'when:1700000040');
    const r = replay([Buffer.concat([Buffer.from('garbage without newline '), env])]);
    expect(r.events).toEqual([{ eventname: 'TICK_60', payload: Buffer.from('when:1700000040').toString('hex') }]);
    expect(r.junk).toEqual([{ kind: 'junk', reason: 'bytes before an event header', bytes: 24 }]);
  });

  it('an overlong line without a header is junk, and the parser recovers at the next line', () => {
    const p = createProtocolParser({ maxHeaderBytes: 100 });
    const junk = p.feed(Buffer.alloc(150, 0x41));
    expect(junk).toEqual([{ kind: 'junk', reason: 'header line longer than 100 bytes', bytes: 150 }]);
    expect(p.feed(Buffer.alloc(150, 0x41))).toEqual([]);
    const env = formatEnvelope({ serial: 1, poolserial: 1, eventname: 'TICK_5' }, 'when:1');
    const items = p.feed(Buffer.concat([Buffer.from('\n'), env]));
    expect(items.map((i) => i.kind)).toEqual(['event']);
  });

  it('keeps only maxKeepBytes of a long payload, marks it truncated, and stays in sync, in one read or many', () => {
    const long = 'processname:spew groupname:spew pid:1 channel:stdout\n' + 'x'.repeat(5000);
    const bytes = Buffer.concat([
      formatEnvelope({ serial: 1, poolserial: 1, eventname: 'PROCESS_LOG_STDOUT' }, long),
      formatEnvelope({ serial: 2, poolserial: 2, eventname: 'TICK_5' }, 'when:1700000000'),
    ]);
    for (const size of [bytes.length, 1000, 7]) {
      const p = createProtocolParser({ maxKeepBytes: 1024 });
      const items: ParseItem[] = [];
      for (let i = 0; i < bytes.length; i += size) items.push(...p.feed(bytes.subarray(i, i + size)));
      const events = items.flatMap((it) => (it.kind === 'event' ? [it.event] : []));
      expect(items.length, `read size ${size}`).toBe(2);
      expect(events[0]!.truncated, `read size ${size}`).toBe(true);
      expect(events[0]!.payload.toString()).toBe(long.slice(0, 1024));
      expect(events[1]!.truncated).toBeUndefined();
      expect(events[1]!.payload.toString()).toBe('when:1700000000');
    }
  });

  it('a repeated header key: the last one wins, for the fields read up front and those read on demand', () => {
    const { header, problem } = parseHeaderLine('ver:3.0 server:a serial:1 pool:p poolserial:1 eventname:TICK_5 len:3 server:b serial:2 len:4 ver:9', 1000);
    expect(problem).toBeUndefined();
    expect(header).toMatchObject({ ver: '9', server: 'b', serial: 2, pool: 'p', poolserial: 1, eventname: 'TICK_5', len: 4 });
    expect(header.tokens).toEqual({ ver: '9', server: 'b', serial: '2', pool: 'p', poolserial: '1', eventname: 'TICK_5', len: '4' });
  });

  it('end of input inside a payload is reported, not swallowed', () => {
    const env = formatEnvelope({ serial: 1, poolserial: 1, eventname: 'TICK_5' }, 'when:1700000000');
    const p = createProtocolParser();
    expect(p.feed(env.subarray(0, env.length - 3))).toEqual([]);
    const end = p.end();
    expect(end).toHaveLength(1);
    expect(end[0]!.kind === 'junk' && end[0]!.reason).toMatch(/input ended inside a payload/);
  });
});
