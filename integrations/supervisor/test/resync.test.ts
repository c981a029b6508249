/**
 * Junk on the listener's stdin with no newline (issue 18, degraded): 8 KiB or more of it used to
 * swallow the next real event, which was then never answered, and supervisord waits for that
 * answer forever. The parser must resynchronise on the next header, however the bytes are cut.
 */
import { describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { seededRandom } from '../../../test/helpers/random.js';
import { testContext } from '../../../test/helpers/context.js';
import { supervisorSchema } from '../config.js';
import { supervisor } from '../index.js';
import { createProtocolParser, type ParseItem } from '../protocol.js';
import { formatEnvelope } from './envelope.mjs';

const EVENT = formatEnvelope({ serial: 7, poolserial: 7, eventname: 'PROCESS_STATE_RUNNING' }, 'processname:web groupname:web from_state:STARTING pid:42');

function eventsIn(items: ParseItem[]): string[] {
  return items.flatMap((i) => (i.kind === 'event' ? [`${i.event.header.eventname}:${i.event.payload.toString()}`] : []));
}

/** Feeds the chunks live (no end of input: supervisord waits for the answer). */
function live(chunks: Buffer[]): { events: string[]; junkBytes: number } {
  const p = createProtocolParser();
  const items = chunks.flatMap((c) => p.feed(c));
  return { events: eventsIn(items), junkBytes: items.reduce((n, i) => n + (i.kind === 'junk' ? i.bytes : 0), 0) };
}

/** Cuts `buf` at random points into pieces of 1 byte to 20 KiB. */
function randomChunks(buf: Buffer, rnd: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 16 : 20_480));
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

const WANT = ['PROCESS_STATE_RUNNING:processname:web groupname:web from_state:STARTING pid:42'];

describe('supervisor listener: resynchronise after junk without a newline', () => {
  for (const size of [8192, 8193, 9000, 65_536, 1024 * 1024]) {
    it(`${size} junk bytes, then the event in a separate read: the event is parsed`, () => {
      expect(live([Buffer.alloc(size, 0x78), EVENT]).events).toEqual(WANT);
    });
    it(`${size} junk bytes and the event in one read: the event is parsed`, () => {
      expect(live([Buffer.concat([Buffer.alloc(size, 0x78), EVENT])]).events).toEqual(WANT);
    });
  }

  it('the next header split inside `ver:` across reads, after overlong junk', () => {
    const all = Buffer.concat([Buffer.alloc(20_000, 0x78), EVENT]);
    for (const cut of [20_000 + 1, 20_000 + 2, 20_000 + 3]) {
      expect(live([all.subarray(0, cut), all.subarray(cut)]).events, `cut at ${cut}`).toEqual(WANT);
    }
  });

  it('any chunking of junk (with stray `ver` fragments) followed by two events yields both, and junk is counted', () => {
    const rnd = seededRandom(18);
    const second = formatEnvelope({ serial: 8, poolserial: 8, eventname: 'TICK_5' }, 'when:1700000000');
    for (let round = 0; round < 200; round++) {
      const junkLen = 8192 + Math.floor(rnd() * 40_000);
      const junk = Buffer.alloc(junkLen, 0x78);
      // Decoys that must not be taken for a header start: a bare "ver" and "ve r:".
      junk.write('ver', Math.floor(rnd() * (junkLen - 3)), 'latin1');
      const r = live(randomChunks(Buffer.concat([junk, EVENT, second]), rnd));
      expect(r.events, `round ${round}`).toEqual([...WANT, 'TICK_5:when:1700000000']);
      expect(r.junkBytes, `round ${round}`).toBeGreaterThan(0);
    }
  });

  it('the listener answers the event that follows 9,000 junk bytes (supervisord would wait forever)', async () => {
    const t = testContext({ prefix: 'supervisor', type: 'supervisor' });
    let out = '';
    t.stdout.on('data', (d: Buffer) => void (out += d.toString('latin1')));
    const r = validate(supervisorSchema, { resync: false });
    if ('issues' in r) throw new Error(JSON.stringify(r.issues));
    const integration = supervisor.create(r.value, t.ctx);
    const done = integration.once();
    t.stdin.write(Buffer.alloc(9000, 0x78));
    t.stdin.write(EVENT);
    const deadline = Date.now() + 5000;
    while (!out.includes('RESULT 2\nOK') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    t.stdin.end();
    await done;
    expect(out).toBe('READY\nRESULT 2\nOKREADY\n');
    expect(t.sink.counters().get('supervisor.listener.events') ?? 0).toBe(1);
  });
});
