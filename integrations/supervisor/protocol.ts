/**
 * The eventlistener wire protocol, listener side, as a pure byte-level state machine (no IO,
 * no timers): bytes in, events out. The listener (listener.ts) owns stdin/stdout and the clock.
 *
 * Why byte-level: supervisord 4.x announces `len` in Unicode code points but writes UTF-8, while
 * 3.x (and the docs) count bytes. A parser working on decoded text, or trusting `len` as bytes,
 * desynchronises on the first non-ASCII process name and every later event is garbage.
 */
import { parseHeaderLine, type EventHeader } from './header.js';

export type { EventHeader } from './header.js';

/** What the listener writes once at start: it may now receive one event. */
export const READY = Buffer.from('READY\n', 'latin1');
/**
 * The acknowledgement plus the next READY in one write. Always OK: FAIL makes supervisord
 * re-send the same event at once, so a listener that FAILs while its backend is down spins.
 */
export const ACK_AND_READY = Buffer.from('RESULT 2\nOKREADY\n', 'latin1');

/**
 * How `len` was read: `same` when the payload is ASCII (both readings agree), `chars` for
 * supervisor 4.x (code points), `bytes` for supervisor 3.x (or the docs).
 */
export type LenUnit = 'same' | 'chars' | 'bytes';

export interface ListenerEvent {
  header: EventHeader;
  payload: Buffer;
  unit: LenUnit;
  /** Set when the header was damaged; the event is still acknowledged (supervisord waits for it). */
  problem?: string;
  /** The payload was longer than the in-memory cap; `payload` holds its start. */
  truncated?: boolean;
}

export type ParseItem =
  | { kind: 'event'; event: ListenerEvent }
  /** Bytes that cannot belong to the protocol; discarded without a reply, and counted. */
  | { kind: 'junk'; reason: string; bytes: number };

export interface ParserOptions {
  /** A header line longer than this is junk (real ones are ~120 bytes). Default 8 KiB. */
  maxHeaderBytes?: number;
  /** A `len` above this is treated as damage. Default 64 MiB (real PROCESS_LOG payloads reach ~262 KB). */
  maxLen?: number;
  /** Payload bytes kept in memory; the rest is consumed and dropped. Default 1 MiB. */
  maxKeepBytes?: number;
}

export interface ProtocolParser {
  /** Feed the next chunk of stdin; returns what became complete, in order. */
  feed(chunk: Buffer): ParseItem[];
  /**
   * True while a payload is complete if `len` counts bytes but not if it counts code points.
   * Supervisord sends nothing more until we answer, so if no byte arrives within a short grace
   * period the sender was a 3.x: call `settle()`.
   */
  readonly ambiguous: boolean;
  /** Accept the bytes reading of an ambiguous payload. */
  settle(): ParseItem[];
  /** End of input: settles, and reports a partial event as junk. */
  end(): ParseItem[];
  /** Bytes held for an incomplete header or payload (for diagnostics). */
  readonly pendingBytes: number;
}

const VER = Buffer.from('ver:', 'latin1');
const NL = 0x0a;

/** Continuation bytes a UTF-8 lead byte announces (0 for ASCII and invalid leads). */
function continuationCount(b: number): number {
  if (b < 0xc0) return 0;
  if (b < 0xe0) return 1;
  if (b < 0xf0) return 2;
  if (b < 0xf8) return 3;
  return 0;
}

interface PayloadState {
  header: EventHeader;
  problem: string | undefined;
  len: number;
  /** Bytes consumed for this payload so far. */
  bytes: number;
  /** Code points started (UTF-8 lead bytes) so far. */
  leads: number;
  /** Continuation bytes still expected for the last code point. */
  cont: number;
  parts: Buffer[];
  kept: number;
  truncated: boolean;
  /** Up to 4 bytes right after byte `len`, to spot a following header (3.x replay). */
  look: number[];
  /** Bytes at which `len` code points (and their continuation bytes) were complete. */
  cpEnd: number | undefined;
}

type ParsedLine = ReturnType<typeof parseHeaderLine>;

function isAscii(buf: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (buf[k]! >= 0x80) return false;
  return true;
}

export function createProtocolParser(opts: ParserOptions = {}): ProtocolParser {
  const maxHeader = opts.maxHeaderBytes ?? 8192;
  const maxLen = opts.maxLen ?? 64 * 1024 * 1024;
  const maxKeep = opts.maxKeepBytes ?? 1024 * 1024;

  // Header mode: bytes of the current line so far. `overlong` = discarding until the next newline
  // or the next `ver:`, whichever comes first; `carry` keeps the last 3 discarded bytes so a
  // `ver:` split across two reads is still found.
  let line: Buffer[] = [];
  let lineBytes = 0;
  let overlong = false;
  let carry: Buffer = Buffer.alloc(0);
  let payload: PayloadState | undefined;

  /** The header line buf[start..end) (newline excluded), or undefined for junk (reported). */
  const readHeader = (buf: Buffer, start: number, end: number, out: ParseItem[]): ParsedLine | undefined => {
    let at = start;
    if (!(end - start >= 4 && buf[start] === 0x76 && buf[start + 1] === 0x65 && buf[start + 2] === 0x72 && buf[start + 3] === 0x3a)) {
      at = buf.subarray(start, end).indexOf(VER);
      if (at < 0) {
        out.push({ kind: 'junk', reason: end === start ? 'empty line' : 'line is not an event header', bytes: end - start + 1 });
        return undefined;
      }
      // Stray bytes before a header (e.g. the tail of a damaged payload): drop them, keep the header.
      out.push({ kind: 'junk', reason: 'bytes before an event header', bytes: at });
      at += start;
    }
    return parseHeaderLine(buf.toString('utf8', at, end), maxLen);
  };

  /** A complete line over maxHeader: junk, unless a header that fits starts inside it. */
  const overlongLine = (buf: Buffer, start: number, end: number, out: ParseItem[]): ParsedLine | undefined => {
    const at = buf.subarray(start, end).lastIndexOf(VER);
    if (at > 0 && end - start - at <= maxHeader) {
      out.push({ kind: 'junk', reason: `header line longer than ${maxHeader} bytes`, bytes: at });
      return parseHeaderLine(buf.toString('utf8', start + at, end), maxLen);
    }
    out.push({ kind: 'junk', reason: `header line longer than ${maxHeader} bytes`, bytes: end - start + 1 });
    return undefined;
  };

  const startPayload = ({ header, problem }: ParsedLine, out: ParseItem[]): void => {
    payload = { header, problem, len: header.len, bytes: 0, leads: 0, cont: 0, parts: [], kept: 0, truncated: false, look: [], cpEnd: undefined };
    if (header.len === 0) finish('same', 0, out);
  };

  /** Completes the current payload, taking its first `end` bytes; returns the bytes beyond. */
  const finish = (unit: LenUnit, end: number, out: ParseItem[]): Buffer | undefined => {
    const p = payload!;
    payload = undefined;
    const all = p.parts.length === 1 ? p.parts[0]! : Buffer.concat(p.parts, p.kept);
    const body = all.subarray(0, Math.min(end, all.length));
    const event: ListenerEvent = { header: p.header, payload: body, unit };
    if (p.problem !== undefined) event.problem = p.problem;
    if (p.truncated) event.truncated = true;
    out.push({ kind: 'event', event });
    return end < all.length ? all.subarray(end) : undefined;
  };

  const keep = (p: PayloadState, part: Buffer): void => {
    if (part.length === 0) return;
    if (p.kept + part.length <= maxKeep) {
      p.parts.push(part);
      p.kept += part.length;
    } else {
      const room = maxKeep - p.kept;
      if (room > 0) {
        p.parts.push(part.subarray(0, room));
        p.kept += room;
      }
      p.truncated = true;
    }
  };

  /**
   * Decides where the current payload ends, or 'wait'. `final`: no more bytes will come before
   * we answer (grace period over, or EOF), so whatever reading is complete wins.
   */
  const decide = (p: PayloadState, final: boolean): { unit: LenUnit; end: number } | 'wait' => {
    if (p.cpEnd !== undefined && p.cpEnd === p.len) return { unit: 'same', end: p.len };
    let look: 'none' | 'prefix' | 'match' | 'diverge' = 'none';
    if (p.look.length > 0) {
      look = 'prefix';
      for (let k = 0; k < p.look.length; k++) if (p.look[k] !== VER[k]) look = 'diverge';
      if (look === 'prefix' && p.look.length === 4) look = 'match';
    }
    // A header right after byte `len`: a 3.x stream replayed (live, nothing can follow a
    // payload before we answer, so this never fires on a 4.x payload except by a freak tail).
    if (look === 'match') return { unit: 'bytes', end: p.len };
    if (p.cpEnd !== undefined) {
      // The code-point reading is complete. If the bytes after `len` could still be the start
      // of a header, a 3.x replay is possible: wait unless nothing more can come.
      if (look === 'diverge' || final) return { unit: 'chars', end: p.cpEnd };
      return 'wait';
    }
    if (final && p.bytes >= p.len) return { unit: 'bytes', end: p.len };
    return 'wait';
  };

  /**
   * Consumes payload bytes from chunk[from..]. Returns where the next header starts (plus any
   * already-consumed bytes that belong to it), or undefined when the chunk was used up.
   */
  const scanPayload = (chunk: Buffer, from: number, out: ParseItem[]): { next: number; leftover?: Buffer } | undefined => {
    const p = payload!;
    let i = from;
    const n = chunk.length;
    // Fast path for the common case: an ASCII payload entirely in this chunk.
    if (p.bytes === 0 && n - i >= p.len) {
      let ascii = true;
      for (let k = i; k < i + p.len; k++) {
        if (chunk[k]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        keep(p, chunk.subarray(i, i + p.len));
        p.bytes = p.leads = p.len;
        finish('same', p.len, out);
        return { next: i + p.len };
      }
    }
    while (i < n) {
      const b = chunk[i]!;
      const isCont = (b & 0xc0) === 0x80;
      // All code points seen and a new one begins: the code-point reading ended before this
      // byte (with cont > 0 only on an invalid UTF-8 sequence; Python never sends one).
      if (p.cpEnd === undefined && p.leads === p.len && !isCont) p.cpEnd = p.bytes;
      if (p.bytes >= p.len && p.look.length < 4) p.look.push(b);
      p.bytes++;
      if (isCont) {
        if (p.cont > 0) p.cont--;
      } else {
        p.leads++;
        p.cont = continuationCount(b);
      }
      i++;
      if (p.cpEnd === undefined && p.leads === p.len && p.cont === 0) p.cpEnd = p.bytes;
      if (p.bytes >= p.len) {
        const d = decide(p, false);
        if (d !== 'wait') {
          keep(p, chunk.subarray(from, i));
          const leftover = finish(d.unit, d.end, out);
          return leftover ? { next: i, leftover } : { next: i };
        }
      }
    }
    keep(p, chunk.subarray(from, n));
    return undefined;
  };

  const feedFrom = (chunk: Buffer, out: ParseItem[]): void => {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (payload) {
        const r = scanPayload(chunk, i, out);
        if (!r) return;
        if (r.leftover) {
          // Bytes already stored in the payload that belong to the next header.
          feedFrom(Buffer.concat([r.leftover, chunk.subarray(r.next)]), out);
          return;
        }
        i = r.next;
        continue;
      }
      const nl = chunk.indexOf(NL, i);
      if (overlong) {
        // Junk with no newline must not swallow the next event: supervisord writes a header only
        // after its previous event was answered, so the header it sends next starts with `ver:`
        // somewhere in what looks like the same overlong line. Resynchronise there.
        const end = nl < 0 ? n : nl;
        const region = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(i, end)]) : chunk.subarray(i, end);
        const at = region.lastIndexOf(VER);
        if (at >= 0 && region.length - at <= maxHeader) {
          overlong = false;
          if (at < carry.length) {
            line = [Buffer.from(carry.subarray(at))];
            lineBytes = carry.length - at;
          } else i += at - carry.length;
          carry = Buffer.alloc(0);
          continue;
        }
        if (nl < 0) {
          carry = Buffer.from(region.subarray(Math.max(0, region.length - (VER.length - 1))));
          return;
        }
        overlong = false;
        carry = Buffer.alloc(0);
        i = nl + 1;
        continue;
      }
      if (nl < 0) {
        const rest = n - i;
        if (lineBytes + rest > maxHeader) {
          // Too long for a header. A header may still start inside it (junk glued in front of
          // the next event): keep from the last `ver:` if that fits, else discard as overlong.
          const region = line.length > 0 ? Buffer.concat([...line, chunk.subarray(i)]) : chunk.subarray(i);
          line = [];
          lineBytes = 0;
          const at = region.lastIndexOf(VER);
          if (at > 0 && region.length - at <= maxHeader) {
            out.push({ kind: 'junk', reason: `header line longer than ${maxHeader} bytes`, bytes: at });
            line = [Buffer.from(region.subarray(at))];
            lineBytes = region.length - at;
          } else {
            overlong = true;
            out.push({ kind: 'junk', reason: `header line longer than ${maxHeader} bytes`, bytes: region.length });
            carry = Buffer.from(region.subarray(Math.max(0, region.length - (VER.length - 1))));
          }
        } else {
          line.push(chunk.subarray(i));
          lineBytes += rest;
        }
        return;
      }
      let h: ParsedLine | undefined;
      if (line.length === 0) {
        // The whole line is in this chunk (nearly always): no copy, no array.
        h = nl - i > maxHeader ? overlongLine(chunk, i, nl, out) : readHeader(chunk, i, nl, out);
      } else {
        line.push(chunk.subarray(i, nl));
        const lineBuf = Buffer.concat(line);
        line = [];
        lineBytes = 0;
        h = lineBuf.length > maxHeader ? overlongLine(lineBuf, 0, lineBuf.length, out) : readHeader(lineBuf, 0, lineBuf.length, out);
      }
      i = nl + 1;
      if (!h) continue;
      const len = h.header.len;
      // Fast path: an ASCII payload already complete in this chunk, as nearly every event is
      // (supervisord writes header and payload at once). Both readings of len agree.
      if (n - i >= len && len <= maxKeep && isAscii(chunk, i, i + len)) {
        const event: ListenerEvent = { header: h.header, payload: chunk.subarray(i, i + len), unit: 'same' };
        if (h.problem !== undefined) event.problem = h.problem;
        out.push({ kind: 'event', event });
        i += len;
      } else startPayload(h, out);
    }
  };

  const settleInto = (out: ParseItem[]): boolean => {
    const p = payload;
    if (!p) return false;
    const d = decide(p, true);
    if (d === 'wait') return false;
    const leftover = finish(d.unit, d.end, out);
    if (leftover) feedFrom(leftover, out);
    return true;
  };

  return {
    feed(chunk: Buffer): ParseItem[] {
      const out: ParseItem[] = [];
      feedFrom(chunk, out);
      return out;
    },
    get ambiguous(): boolean {
      return payload !== undefined && decide(payload, true) !== 'wait';
    },
    settle(): ParseItem[] {
      const out: ParseItem[] = [];
      // Settling can expose another payload that is itself only complete by bytes: repeat.
      for (let guard = 0; guard < 1_000_000 && settleInto(out); guard++);
      return out;
    },
    end(): ParseItem[] {
      const out = this.settle();
      if (payload) {
        out.push({ kind: 'junk', reason: `input ended inside a payload (${payload.bytes} of ${payload.len})`, bytes: payload.bytes });
        payload = undefined;
      }
      if (lineBytes > 0 || overlong) out.push({ kind: 'junk', reason: 'input ended inside a header line', bytes: lineBytes });
      line = [];
      lineBytes = 0;
      overlong = false;
      carry = Buffer.alloc(0);
      return out;
    },
    get pendingBytes(): number {
      return payload ? payload.bytes : lineBytes;
    },
  };
}
