/**
 * The per-line scanner: runs a compiled LineFormat over bytes [start, end) of a Buffer and fills a
 * reused ParsedLine. Pure, allocation-free on the hot path, never decodes text.
 */
import {
  ROLE_BYTES,
  ROLE_CACHE,
  ROLE_FIRST_BYTE,
  ROLE_METHOD,
  ROLE_PATH,
  ROLE_REQUEST,
  ROLE_STATUS,
  ROLE_TIME,
  SCAN_BRACKETED,
  SCAN_QUOTED,
  SCAN_TO_BYTE,
  RETRY_BUDGET,
  type LineFormat,
  type Token,
} from './format.js';

const QUOTE = 0x22;
/** Bytes scanned in JS before a quote search falls back to Buffer#indexOf. */
const NEAR = 4;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const DASH = 0x2d;
const DOT = 0x2e;
const QMARK = 0x3f;
const SLASH = 0x2f;
const ZERO = 0x30;

export interface ParsedLine {
  /** 100–599; 0 for a line that says `-` (varnishncsa's piped requests); -1 before it is seen. */
  status: number;
  bytes: number;
  /** Response time in microseconds, -1 when the line has none (`-` or no field). */
  timeUs: number;
  /** Time to first byte in microseconds, -1 when the line has none. */
  firstByteUs: number;
  /** How a cache handled it: one of the CACHE_* codes (CACHE_NONE without a cache field). */
  cache: number;
  /** Index into the MethodTable; `other` for unknown or missing methods. */
  method: number;
  /** URL path (no query) as a byte range, -1 when absent. */
  pathStart: number;
  pathEnd: number;
}

export function newParsedLine(): ParsedLine {
  return { status: -1, bytes: 0, timeUs: -1, firstByteUs: -1, cache: 0, method: 0, pathStart: -1, pathEnd: -1 };
}

/** varnishncsa's %{Varnish:handling}x words (hitmiss writes two of them), in metric order. */
export const CACHE_NONE = 0;
export const CACHE_HIT = 1;
export const CACHE_MISS = 2;
export const CACHE_PASS = 3;
export const CACHE_PIPE = 4;
export const CACHE_SYNTH = 5;
/** Any other word, `-` included: counted, never turned into a metric name. */
export const CACHE_OTHER = 6;
export const CACHE_NAMES: readonly string[] = ['none', 'hit', 'miss', 'pass', 'pipe', 'synth', 'other'];

/** The CACHE_* code of the word in [s, e), compared byte by byte (no string). */
export function cacheCode(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  const a = buf[s];
  if (n === 3) return a === 0x68 && buf[s + 1] === 0x69 && buf[s + 2] === 0x74 ? CACHE_HIT : CACHE_OTHER;
  if (n === 4) {
    const b = buf[s + 1];
    const c = buf[s + 2];
    const d = buf[s + 3];
    if (a === 0x6d && b === 0x69 && c === 0x73 && d === 0x73) return CACHE_MISS;
    if (a === 0x70 && b === 0x61 && c === 0x73 && d === 0x73) return CACHE_PASS;
    if (a === 0x70 && b === 0x69 && c === 0x70 && d === 0x65) return CACHE_PIPE;
    return CACHE_OTHER;
  }
  if (n === 5 && a === 0x73 && buf[s + 1] === 0x79 && buf[s + 2] === 0x6e && buf[s + 3] === 0x74 && buf[s + 4] === 0x68) return CACHE_SYNTH;
  return CACHE_OTHER;
}

/**
 * Methods are looked up by a number computed from their bytes (A–Z only, ≤ 10 letters), so a line
 * never becomes a string. Anything else — lower case, TLS handshakes, `-` — is `other`, which also
 * caps the metric names an attacker can create.
 */
export class MethodTable {
  readonly names: readonly string[];
  readonly other: number;
  readonly #ids = new Map<number, number>();
  readonly #get: number;

  constructor(methods: readonly string[]) {
    const names: string[] = [];
    for (const m of methods) {
      const key = methodKeyOfString(m);
      if (key < 0) throw new Error(`method "${m}" must be 1 to 10 upper-case letters A-Z`);
      if (this.#ids.has(key)) continue;
      this.#ids.set(key, names.length);
      names.push(m);
    }
    this.other = names.length;
    names.push('OTHER');
    this.names = names;
    this.#get = this.#ids.get(methodKeyOfString('GET')) ?? -1;
  }

  lookup(buf: Buffer, s: number, e: number): number {
    // GET is ~85 % of real traffic: skip the Map for it.
    if (e - s === 3 && buf[s] === 0x47 && buf[s + 1] === 0x45 && buf[s + 2] === 0x54 && this.#get >= 0) return this.#get;
    if (e - s > 10 || e <= s) return this.other;
    let key = 0;
    for (let i = s; i < e; i++) {
      const b = buf[i]!;
      if (b < 0x41 || b > 0x5a) return this.other;
      key = key * 27 + (b - 0x40);
    }
    return this.#ids.get(key) ?? this.other;
  }
}

function methodKeyOfString(m: string): number {
  if (m.length === 0 || m.length > 10) return -1;
  let key = 0;
  for (let i = 0; i < m.length; i++) {
    const b = m.charCodeAt(i);
    if (b < 0x41 || b > 0x5a) return -1;
    key = key * 27 + (b - 0x40);
  }
  return key;
}

/**
 * Finds field ends with Buffer#indexOf (memchr) after a few bytes of JS scanning: measured
 * faster than a JS byte loop for all but the shortest fields. Remembers the last indexOf answer
 * per byte value: when a line lacks the byte, indexOf runs on into the following lines, and
 * without the memo a block of such lines would rescan the same bytes again and again (quadratic).
 *
 * It also holds what the compiled parser (codegen.ts) searches with instead: a DataView on the
 * buffer, so a field end is found four bytes per step inside the line (no native call, and no
 * memo needed because the search stops at the line's end).
 */
export class QuoteFinder {
  /** The buffer the memo and the view describe. */
  buf: Buffer | undefined;
  readonly #from = new Float64Array(256).fill(-1);
  readonly #at = new Float64Array(256).fill(-1);
  readonly #words: boolean;
  view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  /** Words may be read at offsets below this: buf.length - 3, or 0 when words are off. */
  wordLimit = 0;
  /** Later literal occurrences the current line may still try (format.ts RETRY_BUDGET). */
  tries = 0;

  /** `words: false` makes the compiled parser go byte by byte (tests compare both paths). */
  constructor(o: { words?: boolean } = {}) {
    this.#words = o.words ?? true;
  }

  reset(buf: Buffer): void {
    this.buf = buf;
    this.#from.fill(-1);
    this.#at.fill(-1);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    this.wordLimit = this.#words ? Math.max(0, buf.length - 3) : 0;
  }

  /** First position of `byte` in [from, end), or -1. */
  byte(buf: Buffer, from: number, end: number, byte: number): number {
    const near = from + NEAR < end ? from + NEAR : end;
    for (let i = from; i < near; i++) if (buf[i] === byte) return i;
    if (near >= end) return -1;
    const q = this.#index(buf, near, byte);
    return q < end ? q : -1;
  }

  #index(buf: Buffer, p: number, byte: number): number {
    if (buf !== this.buf) this.reset(buf);
    if (p >= this.#from[byte]! && p <= this.#at[byte]!) return this.#at[byte]!;
    let q = buf.indexOf(byte, p);
    if (q === -1) q = buf.length;
    this.#from[byte] = p;
    this.#at[byte] = q;
    return q;
  }

  /** First position in [from, end) where all of `lit` (length ≥ 1) starts, or -1. */
  literal(buf: Buffer, from: number, end: number, lit: Uint8Array): number {
    const n = lit.length;
    for (let p = from; ; p++) {
      p = this.byte(buf, p, end, lit[0]!);
      if (p < 0 || p + n > end) return -1;
      let k = 1;
      while (k < n && buf[p + k] === lit[k]) k++;
      if (k === n) return p;
    }
  }

  /** The first unescaped `"` at or after `from`, or -1 if none before `end`. */
  find(buf: Buffer, from: number, end: number): number {
    const near = from + NEAR < end ? from + NEAR : end;
    let i = from;
    while (i < near) {
      const b = buf[i]!;
      if (b === QUOTE) return i;
      i += b === BACKSLASH ? 2 : 1;
    }
    if (i >= end) return -1;
    let p = i;
    for (;;) {
      const q = this.#index(buf, p, QUOTE);
      if (q >= end) return -1;
      // Apache writes `\"` inside a field and `\\` for a backslash: the quote is escaped when an
      // odd number of backslashes precede it.
      let bs = 0;
      for (let k = q - 1; k >= from && buf[k] === BACKSLASH; k--) bs++;
      if ((bs & 1) === 0) return q;
      p = q + 1;
    }
  }
}

/** 100–599, 0 for `-` (varnishncsa writes it for a piped request), -1 for anything else. */
function parseStatus(buf: Buffer, s: number, e: number): number {
  if (e - s === 1 && buf[s] === DASH) return 0;
  if (e - s !== 3) return -1;
  const a = buf[s]! - ZERO;
  const b = buf[s + 1]! - ZERO;
  const c = buf[s + 2]! - ZERO;
  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  return a * 100 + b * 10 + c;
}

/** Digits, or `-` for none (Apache %b). -1 for anything else. */
export function parseBytes(buf: Buffer, s: number, e: number): number {
  if (e - s === 1 && buf[s] === DASH) return 0;
  if (e <= s || e - s > 15) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * A decimal like `0.004`, `12`, `1534` in `unitUs` microseconds per unit → integer-exact µs.
 * `-` (no value) → -1; malformed → -2.
 */
export function parseTime(buf: Buffer, s: number, e: number, unitUs: number): number {
  if (e - s === 1 && buf[s] === DASH) return -1;
  if (e <= s || e - s > 20) return -2;
  let int = 0;
  let frac = 0;
  let fracDigits = 0;
  let seenDot = false;
  for (let i = s; i < e; i++) {
    const b = buf[i]!;
    // %D and %{us}T are integers: a decimal there means the format does not fit the line.
    if (b === DOT && !seenDot && unitUs !== 1) {
      seenDot = true;
      continue;
    }
    const d = b - ZERO;
    if (d < 0 || d > 9) return -2;
    if (!seenDot) int = int * 10 + d;
    else if (fracDigits < 6) {
      frac = frac * 10 + d;
      fracDigits++;
    }
  }
  return timeUs(int, frac, fracDigits, unitUs);
}

const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];

/**
 * The µs value of `int.frac` units (frac: its first `fracDigits` ≤ 6 decimals as an integer).
 * Shared with the compiled parser so both produce the same double.
 */
export function timeUs(int: number, frac: number, fracDigits: number, unitUs: number): number {
  // frac in millionths of a unit, then scaled: exact for s (×1e6) and ms with ≤ 3 decimals.
  const fracMillionths = frac * POW10[6 - fracDigits]!;
  return int * unitUs + (fracMillionths * unitUs) / 1e6;
}

/**
 * The request line: its method, and with `wantPath` the path of its target. A target in absolute
 * form (`http://host:port/a?q` — varnishncsa's %r is always so, as is a proxy request in Apache's)
 * gives the path after the authority, `/a`; one with no path after the authority gives an empty
 * path (mod_statsd's ROOT).
 */
export function setRequest(buf: Buffer, s: number, e: number, out: ParsedLine, methods: MethodTable, wantPath: boolean): void {
  let sp = s;
  while (sp < e && buf[sp] !== SPACE) sp++;
  out.method = methods.lookup(buf, s, sp);
  if (!wantPath || sp >= e) return;
  let ps = sp + 1;
  if (buf[ps] !== SLASH) ps = afterAuthority(buf, ps, e);
  let pe = ps;
  while (pe < e && buf[pe] !== SPACE && buf[pe] !== QMARK) pe++;
  out.pathStart = ps;
  out.pathEnd = pe;
}

/**
 * For `scheme://authority/…` at s: the position of the path's `/` (or where the target ends when
 * it has no path). Anything else is returned as it is: s.
 */
function afterAuthority(buf: Buffer, s: number, e: number): number {
  let i = s;
  // A scheme: a letter, then letters, digits, + - . (RFC 3986), then "://".
  while (i < e && i - s < 16) {
    const b = buf[i]! | 0x20;
    if ((b >= 0x61 && b <= 0x7a) || (i > s && ((buf[i]! >= 0x30 && buf[i]! <= 0x39) || buf[i] === 0x2b || buf[i] === DASH || buf[i] === DOT))) i++;
    else break;
  }
  if (i === s || buf[i] !== 0x3a || buf[i + 1] !== SLASH || buf[i + 2] !== SLASH) return s;
  i += 3;
  while (i < e && buf[i] !== SLASH && buf[i] !== SPACE && buf[i] !== QMARK) i++;
  return i;
}

function setPath(buf: Buffer, s: number, e: number, out: ParsedLine): void {
  let pe = s;
  while (pe < e && buf[pe] !== QMARK) pe++;
  out.pathStart = s;
  out.pathEnd = pe;
}

/** Applies one field's role. False when the field makes the line unusable. */
export function applyRole(
  role: number,
  unitUs: number,
  buf: Buffer,
  fs: number,
  fe: number,
  out: ParsedLine,
  methods: MethodTable,
  wantPath: boolean,
): boolean {
  switch (role) {
    case ROLE_STATUS:
      out.status = parseStatus(buf, fs, fe);
      return out.status >= 0;
    case ROLE_BYTES:
      out.bytes = parseBytes(buf, fs, fe);
      return out.bytes >= 0;
    case ROLE_TIME: {
      const t = parseTime(buf, fs, fe, unitUs);
      if (t === -2) return false;
      out.timeUs = t;
      return true;
    }
    case ROLE_FIRST_BYTE: {
      const t = parseTime(buf, fs, fe, unitUs);
      if (t === -2) return false;
      out.firstByteUs = t;
      return true;
    }
    case ROLE_CACHE:
      out.cache = cacheCode(buf, fs, fe);
      return true;
    case ROLE_REQUEST:
      setRequest(buf, fs, fe, out, methods, wantPath);
      return true;
    case ROLE_METHOD:
      out.method = methods.lookup(buf, fs, fe);
      return true;
    case ROLE_PATH:
      if (wantPath) setPath(buf, fs, fe, out);
      return true;
    default:
      return true;
  }
}

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
