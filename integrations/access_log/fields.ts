/**
 * What one line yields (ParsedLine) and how each field's bytes become it: status, bytes, times,
 * the request line (method table, path), Varnish's cache handling. Pure and allocation-free.
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
} from './line-format.js';

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
