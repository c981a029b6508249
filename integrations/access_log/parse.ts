/**
 * The per-line scanner: runs a compiled LineFormat over bytes [start, end) of a Buffer and fills a
 * reused ParsedLine. Pure, allocation-free on the hot path, never decodes text.
 */
import {
  ROLE_BYTES,
  ROLE_CACHE,
  ROLE_FIRST_BYTE,
  ROLE_STATUS,
  ROLE_TIME,
  SCAN_BRACKETED,
  SCAN_QUOTED,
  SCAN_TO_BYTE,
  RETRY_BUDGET,
  type LineFormat,
  type Token,
} from './line-format.js';
import { applyRole, CACHE_NONE, MethodTable, type ParsedLine } from './fields.js';
import { QuoteFinder } from './quotes.js';

// What the tests (and the worker) take from the scanner's module.
export { CACHE_NAMES, MethodTable, newParsedLine, type ParsedLine } from './fields.js';
export { QuoteFinder } from './quotes.js';

const QUOTE = 0x22;
const SPACE = 0x20;

/**
 * Parse one line (without its `\n`/`\r\n`). True when it is a request (has a valid status).
 *
 * Lenient at the tail on purpose: a line may carry extra trailing fields (a `combined` format
 * reading lines with a response time appended), and a line may end at a field boundary before
 * optional trailing fields (the 408 lines Apache writes without them) as long as the status
 * was seen. A line that ends inside a quoted field is never accepted (line 8899 of the real log).
 */
export function parseLine(
  buf: Buffer,
  s: number,
  e: number,
  fmt: LineFormat,
  out: ParsedLine,
  methods: MethodTable,
  quotes: QuoteFinder,
  wantPath: boolean,
): boolean {
  out.status = -1;
  out.bytes = 0;
  out.timeUs = -1;
  out.firstByteUs = -1;
  out.cache = CACHE_NONE;
  out.method = methods.other;
  out.pathStart = -1;
  out.pathEnd = -1;
  if (fmt.kind === 'json') return parseJson(buf, s, e, fmt, out, methods, quotes, wantPath);
  quotes.tries = RETRY_BUDGET;
  return parseTokens(buf, fmt.tokens, 0, s, e, out, methods, quotes, wantPath);
}

/** Tokens [from, end) over bytes [p, e); recursion only at fields that retry (format.ts Token.retry). */
function parseTokens(
  buf: Buffer,
  tokens: readonly Token[],
  from: number,
  p: number,
  e: number,
  out: ParsedLine,
  methods: MethodTable,
  quotes: QuoteFinder,
  wantPath: boolean,
): boolean {
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!t.isField) {
      const lit = t.literal;
      const n = lit.length;
      if (p + n > e) {
        // The line ends inside or at this separator: accepted when what is left matches it.
        for (let k = 0; p + k < e; k++) if (buf[p + k] !== lit[k]) return false;
        return out.status >= 0;
      }
      if (buf[p] !== lit[0]) return false;
      for (let k = 1; k < n; k++) if (buf[p + k] !== lit[k]) return false;
      p += n;
      continue;
    }
    const fs = p;
    let fe: number;
    const scan = t.scan;
    if (t.retry) {
      // The value may hold the literal that ends it: the first occurrence from which the rest of
      // the line fits wins. What the failed tries set in `out` is put back before the next one.
      const { status, bytes, timeUs: time, firstByteUs, cache, method, pathStart, pathEnd } = out;
      for (let from = fs; ; ) {
        const at = quotes.literal(buf, from, e, t.until);
        fe = at < 0 ? e : at;
        if (t.role === 0 || applyRole(t.role, t.timeUnitUs, buf, fs, fe, out, methods, wantPath)) {
          if (parseTokens(buf, tokens, i + 1, fe, e, out, methods, quotes, wantPath)) return true;
        }
        if (at < 0 || --quotes.tries < 0) return false;
        out.status = status;
        out.bytes = bytes;
        out.timeUs = time;
        out.firstByteUs = firstByteUs;
        out.cache = cache;
        out.method = method;
        out.pathStart = pathStart;
        out.pathEnd = pathEnd;
        from = at + 1;
      }
    }
    if (scan === SCAN_QUOTED) {
      const q = quotes.find(buf, p, e);
      if (q < 0) return false;
      fe = q;
      p = q;
    } else if (scan === SCAN_TO_BYTE) {
      const at = quotes.byte(buf, p, e, t.term);
      p = at < 0 ? e : at;
      fe = p;
    } else if (scan === SCAN_BRACKETED) {
      if (buf[p] !== 0x5b) return false;
      const at = quotes.byte(buf, p, e, 0x5d);
      if (at < 0) return false;
      p = at + 1;
      fe = p;
    } else {
      // Last field: a number ends at a space (extra fields may follow); text runs to the end.
      if (t.role === ROLE_STATUS || t.role === ROLE_BYTES || t.role === ROLE_TIME || t.role === ROLE_FIRST_BYTE || t.role === ROLE_CACHE) {
        const at = quotes.byte(buf, p, e, SPACE);
        fe = at < 0 ? e : at;
      } else fe = e;
      p = e;
    }
    if (t.role !== 0 && !applyRole(t.role, t.timeUnitUs, buf, fs, fe, out, methods, wantPath)) return false;
  }
  return out.status >= 0;
}

function skipWs(buf: Buffer, p: number, e: number): number {
  while (p < e) {
    const b = buf[p]!;
    if (b !== SPACE && b !== 0x09) break;
    p++;
  }
  return p;
}

function keyRole(buf: Buffer, ks: number, ke: number, fmt: LineFormat): { role: number; timeUnitUs: number } | undefined {
  // Keys are short ASCII; a latin1 slice is cheap next to the rest of a JSON line.
  return fmt.jsonKeys.get(buf.toString("latin1", ks, ke));
}

/** One flat JSON object per line (nginx `escape=json`); numbers may be bare or quoted. */
function parseJson(
  buf: Buffer,
  s: number,
  e: number,
  fmt: LineFormat,
  out: ParsedLine,
  methods: MethodTable,
  quotes: QuoteFinder,
  wantPath: boolean,
): boolean {
  let p = skipWs(buf, s, e);
  if (buf[p] !== 0x7b) return false;
  p = skipWs(buf, p + 1, e);
  if (buf[p] === 0x7d) return false;
  for (;;) {
    if (buf[p] !== QUOTE) return false;
    const ks = p + 1;
    const ke = quotes.find(buf, ks, e);
    if (ke < 0) return false;
    p = skipWs(buf, ke + 1, e);
    if (buf[p] !== 0x3a) return false;
    p = skipWs(buf, p + 1, e);
    let vs: number;
    let ve: number;
    if (buf[p] === QUOTE) {
      vs = p + 1;
      ve = quotes.find(buf, vs, e);
      if (ve < 0) return false;
      p = ve + 1;
    } else {
      vs = p;
      const first = buf[p];
      if (first === 0x7b || first === 0x5b) return false; // nested values: not an access-log line
      while (p < e && buf[p] !== 0x2c && buf[p] !== 0x7d && buf[p] !== SPACE) p++;
      ve = p;
      if (ve === vs) return false;
    }
    const r = keyRole(buf, ks, ke, fmt);
    if (r !== undefined) {
      // JSON null and "" mean "no value", like nginx's "-".
      const empty = ve === vs || (ve - vs === 4 && buf[vs] === 0x6e && buf[vs + 1] === 0x75);
      if (!empty && !applyRole(r.role, r.timeUnitUs, buf, vs, ve, out, methods, wantPath)) return false;
    }
    p = skipWs(buf, p, e);
    if (buf[p] === 0x2c) {
      p = skipWs(buf, p + 1, e);
      continue;
    }
    if (buf[p] === 0x7d) break;
    return false;
  }
  return out.status >= 0;
}
