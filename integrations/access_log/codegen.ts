/**
 * Compiles a token format into a straight-line JavaScript function: the same steps parseLine
 * interprets, with literals, terminators and roles inlined as constants. The interpreter stays as
 * the reference, and a test checks both agree line for line.
 *
 * Where the time went before (1M nginx lines, profiled): about ten Buffer#indexOf calls per line,
 * each ~17 ns of call overhead for a field of a few bytes. So here:
 * - a field end is found four bytes per step: the line is read as 32-bit words (DataView) and a
 *   word holding the byte is recognised with the "has zero byte" bit trick (no native call, and
 *   no memo: the search never runs past the line's end);
 * - status, bytes and time are parsed while they are scanned (their terminator cannot be a
 *   digit), instead of finding their end first and reading the digits again.
 *
 * Only numbers from the compiled format reach the generated source (byte values, role and unit
 * constants); nothing from a log line or a config string is ever pasted into code.
 */
import {
  RETRY_BUDGET,
  SCAN_BRACKETED,
  SCAN_QUOTED,
  SCAN_TO_BYTE,
  ROLE_BYTES,
  ROLE_CACHE,
  ROLE_FIRST_BYTE,
  ROLE_REQUEST,
  ROLE_STATUS,
  ROLE_TIME,
  type LineFormat,
  type Token,
} from './line-format.js';
import { applyRole, MethodTable, newParsedLine, parseBytes, parseTime, setRequest, timeUs, type ParsedLine } from './fields.js';
import { parseLine } from './parse.js';
import { QuoteFinder } from './quotes.js';

export type LineParser = (
  buf: Buffer,
  s: number,
  e: number,
  out: ParsedLine,
  methods: MethodTable,
  quotes: QuoteFinder,
  wantPath: boolean,
) => boolean;

function int(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`codegen: not a finite number: ${n}`);
  return String(n);
}

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const DASH = 0x2d;
const DOT = 0x2e;

/**
 * Source that moves `p` to the first `byte` in [p, e), or to `e` when the line has none.
 *
 * Four bytes per step: `x = word ^ (byte × 0x01010101)` has a zero byte exactly where the word
 * holds `byte`, and `(x - 0x01010101) & ~x & 0x80808080` flags it. Flags above the first zero
 * byte can be false (the subtraction borrows), the lowest never is, and the lowest is the one
 * taken. Words are read little-endian, so the lowest flag is the first byte on any machine. A
 * word may reach past the line's end (not past the buffer's): a hit there counts as none. The
 * last three bytes of the buffer are read one at a time.
 */
function seek(byte: number): string {
  const b = int(byte);
  const word = `x = dv.getInt32(p, true) ^ ${int(Math.imul(byte, 0x01010101))}; t = (x - 0x01010101) & ~x & 0x80808080; if (t !== 0) break; p += 4;`;
  return [
    't = 0;',
    // Two words per turn: long fields (user agents) are the bulk of the bytes.
    `while (p < le) { ${word} if (p >= le) break; ${word} }`,
    'if (t !== 0) { p += (31 - Math.clz32(t & -t)) >> 3; if (p > e) p = e; }',
    `else { if (p > e) p = e; while (p < e && buf[p] !== ${b}) p++; }`,
  ].join('\n');
}

/** Source that moves `p` to the first `"` in [fs, e) not escaped by an odd run of backslashes; false if none. */
function seekQuote(): string {
  return [
    'for (;;) {',
    seek(0x22),
    '  if (p >= e) return false;',
    '  k = p - 1; while (k >= fs && buf[k] === 0x5c) k--;',
    '  if (((p - 1 - k) & 1) === 0) break;',
    '  p++;',
    '}',
  ].join('\n');
}

/** A terminator that cannot be part of a number, so a number's scan may stop at any non-digit. */
function numberSafe(term: number): boolean {
  return !(term >= DIGIT_0 && term <= DIGIT_9) && term !== DOT && term !== DASH;
}

/**
 * Status (three digits, 100–599) parsed where it stands: the field is valid only when the byte
 * after the digits is the terminator or the line's end, which is what finding the terminator
 * first and requiring a length of 3 amounts to when the terminator is not a digit. A lone `-`
 * (varnishncsa's piped requests) is status 0.
 */
function statusInPlace(term: number): string {
  return [
    `if (p < e && buf[p] === 0x2d && (p + 1 === e || buf[p + 1] === ${int(term)})) { out.status = 0; p++; fe = p; } else {`,
    'if (p + 3 > e) return false;',
    '{ const a = buf[p] - 48, b = buf[p + 1] - 48, c = buf[p + 2] - 48;',
    '  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return false;',
    `  if (p + 3 < e && buf[p + 3] !== ${int(term)}) return false;`,
    '  out.status = a * 100 + b * 10 + c; }',
    'p += 3; fe = p; }',
  ].join('\n');
}

/** parseBytes while scanning: digits up to the terminator (or the line's end), or a lone `-`. */
function bytesInPlace(term: number): string {
  const t = int(term);
  return [
    'v = 0;',
    'while (p < e) { b = buf[p] - 48; if (b < 0 || b > 9) break; v = v * 10 + b; p++; }',
    `if (p < e && buf[p] !== ${t}) {`,
    `  if (p === fs && buf[p] === 0x2d && (p + 1 === e || buf[p + 1] === ${t})) { v = 0; p++; } else return false;`,
    '} else if (p === fs || p - fs > 15) return false;',
    'fe = p; out.bytes = v;',
  ].join('\n');
}

/** parseTime while scanning: the same digits, one dot (not for µs) and `-`, into the same double, stored in `out[target]`. */
function timeInPlace(term: number, unitUs: number, target: 'timeUs' | 'firstByteUs'): string {
  const t = int(term);
  const dot = unitUs === 1 ? 'false' : 'b === 0x2e && d === 0';
  return [
    'v = 0; f = 0; fd = 0; d = 0;',
    'while (p < e) {',
    '  b = buf[p];',
    '  if (b >= 0x30 && b <= 0x39) { if (d === 0) v = v * 10 + (b - 48); else if (fd < 6) { f = f * 10 + (b - 48); fd++; } }',
    `  else if (${dot}) d = 1;`,
    '  else break;',
    '  p++;',
    '}',
    `if (p < e && buf[p] !== ${t}) {`,
    `  if (p === fs && buf[p] === 0x2d && (p + 1 === e || buf[p + 1] === ${t})) p++; else return false;`,
    '} else {',
    '  if (p === fs || p - fs > 20) return false;',
    `  out.${target} = timeUs(v, f, fd, ${int(unitUs)});`,
    '}',
    'fe = p;',
  ].join('\n');
}

/** Source for one field: find its end, apply its role. */
function field(t: Token): string[] {
  const last = t.scan !== SCAN_TO_BYTE && t.scan !== SCAN_QUOTED && t.scan !== SCAN_BRACKETED;
  // A last numeric field ends at a space (extra fields may follow); a last text field at the end.
  const term = last ? 0x20 : t.term;
  const src = ['fs = p;'];
  const inPlace = (t.scan === SCAN_TO_BYTE || last) && numberSafe(term);
  if (inPlace && t.role === ROLE_STATUS) src.push(statusInPlace(term));
  else if (inPlace && t.role === ROLE_BYTES) src.push(bytesInPlace(term));
  else if (inPlace && t.role === ROLE_TIME) src.push(timeInPlace(term, t.timeUnitUs, 'timeUs'));
  else if (inPlace && t.role === ROLE_FIRST_BYTE) src.push(timeInPlace(term, t.timeUnitUs, 'firstByteUs'));
  else {
    if (t.scan === SCAN_QUOTED) src.push(seekQuote(), 'fe = p;');
    else if (t.scan === SCAN_TO_BYTE) src.push(seek(t.term), 'fe = p;');
    else if (t.scan === SCAN_BRACKETED) src.push('if (buf[p] !== 0x5b) return false;', seek(0x5d), 'if (p >= e) return false;', 'p++; fe = p;');
    else if (last && t.role === ROLE_CACHE) src.push(seek(0x20), 'fe = p;'); // a last word ends at a space, like a last number
    else src.push('fe = e; p = e;'); // the last field, text: to the end of the line
    if (t.role === ROLE_STATUS) {
      src.push(
        'if (fe - fs === 1 && buf[fs] === 0x2d) out.status = 0;',
        'else { if (fe - fs !== 3) return false;',
        '{ const a = buf[fs] - 48, b = buf[fs + 1] - 48, c = buf[fs + 2] - 48;',
        '  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return false;',
        '  out.status = a * 100 + b * 10 + c; } }',
      );
    } else if (t.role === ROLE_BYTES) {
      src.push('v = parseBytes(buf, fs, fe); if (v < 0) return false; out.bytes = v;');
    } else if (t.role === ROLE_TIME || t.role === ROLE_FIRST_BYTE) {
      const target = t.role === ROLE_TIME ? 'timeUs' : 'firstByteUs';
      src.push(`v = parseTime(buf, fs, fe, ${int(t.timeUnitUs)}); if (v === -2) return false; out.${target} = v;`);
    }
  }
  if (t.role === ROLE_REQUEST) src.push('setRequest(buf, fs, fe, out, methods, wantPath);');
  else if (t.role !== ROLE_STATUS && t.role !== ROLE_BYTES && t.role !== ROLE_TIME && t.role !== ROLE_FIRST_BYTE && t.role !== 0) {
    src.push(`if (!applyRole(${int(t.role)}, ${int(t.timeUnitUs)}, buf, fs, fe, out, methods, wantPath)) return false;`);
  }
  if (last) src.push('p = e;');
  return src;
}

/** Source that matches a literal at `p` and moves past it. */
function literal(t: Token): string[] {
  const lit = [...t.literal];
  const n = lit.length;
  // The line may end inside or at this separator: accepted when what is left matches it.
  const partial = lit
    .slice(0, n - 1)
    .map((b, k) => `if (p + ${k} < e && buf[p + ${k}] !== ${int(b)}) return false;`)
    .join(' ');
  return [
    `if (p + ${n} > e) { ${partial} return out.status >= 0; }`,
    `if (${lit.map((b, k) => `(buf[p + ${k}] ^ ${int(b)})`).join(' | ')}) return false;`,
    `p += ${n};`,
  ];
}

/** Source that moves `p` to the first occurrence of all of `lit` in [p, e), or to `e`; `at` = -1 when none. */
function seekLiteral(lit: Uint8Array): string {
  const rest = [...lit.slice(1)].map((b, k) => `buf[p + ${k + 1}] === ${int(b)}`);
  return [
    'for (;;) {',
    seek(lit[0]!),
    `  if (p + ${lit.length} > e) { p = e; at = -1; break; }`,
    rest.length > 0 ? `  if (${rest.join(' && ')}) { at = p; break; }` : '  at = p; break;',
    '  p++;',
    '}',
  ].join('\n');
}

const PREAMBLE = [
  // Words are read at offsets below le: inside the line, and never past the buffer's last word.
  'const dv = quotes.view; const wl = quotes.wordLimit; const le = e < wl ? e : wl;',
  'let fs = 0; let fe = 0; let x = 0; let t = 0; let k = 0; let b = 0; let v = 0; let f = 0; let fd = 0; let d = 0; let at = 0;',
];

/**
 * The body of one segment: tokens from `from` to the end, or up to and including the first field
 * that retries. That field becomes a loop over the occurrences of its literal, each calling the
 * next segment (a function of its own: `seg<i>`) on the rest of the line.
 */
function segment(tokens: readonly Token[], from: number, segs: string[]): string[] {
  const src: string[] = [];
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!t.isField) {
      src.push(...literal(t));
      continue;
    }
    if (!t.retry) {
      src.push(...field(t));
      continue;
    }
    const next = `seg${i + 1}`;
    segs.push(
      `function ${next}(buf, p, e, out, methods, quotes, wantPath) {\n${[...PREAMBLE, ...segment(tokens, i + 1, segs), 'return out.status >= 0;'].join('\n')}\n}`,
    );
    const role =
      t.role === 0 ? 'true' : `applyRole(${int(t.role)}, ${int(t.timeUnitUs)}, buf, fs, fe, out, methods, wantPath)`;
    src.push(
      'fs = p;',
      '{ const s0 = out.status, b0 = out.bytes, t0 = out.timeUs, f0 = out.firstByteUs, c0 = out.cache, m0 = out.method, p0 = out.pathStart, q0 = out.pathEnd;',
      '  for (;;) {',
      seekLiteral(t.until),
      '    fe = p;',
      `    if (${role} && ${next}(buf, p, e, out, methods, quotes, wantPath)) return true;`,
      '    if (at < 0 || --quotes.tries < 0) return false;',
      '    out.status = s0; out.bytes = b0; out.timeUs = t0; out.firstByteUs = f0; out.cache = c0; out.method = m0; out.pathStart = p0; out.pathEnd = q0;',
      '    p = at + 1;',
      '  } }',
    );
    return src;
  }
  return src;
}

/**
 * The fast path: straight-line code that ends each retrying field at the first byte of its
 * literal, like any other field (what nearly every real line needs). From the first retrying field on, a failure does
 * not return false but hands the line to `slow`, which tries the later occurrences. So a line
 * that fits costs what it cost before retrying fields existed; only odd lines pay for the retry.
 */
function fastPath(tokens: readonly Token[]): string[] {
  const src: string[] = [];
  let retrying = false;
  const SLOW = 'slow(buf, s, e, out, methods, quotes, wantPath)';
  const fail = (lines: string[]): string[] =>
    retrying ? lines.map((l) => l.replaceAll('return false;', `return ${SLOW};`).replaceAll('return out.status >= 0;', `return out.status >= 0 || ${SLOW};`)) : lines;
  for (const t of tokens) {
    if (!t.isField) {
      src.push(...fail(literal(t)));
      continue;
    }
    if (!t.retry) {
      src.push(...fail(field(t)));
      continue;
    }
    retrying = true;
    // The first byte of the literal, as for any field: when the value holds that byte, the rest
    // of the literal does not follow, and the line goes to the slow path.
    src.push('fs = p;', seek(t.term), 'fe = p;');
    if (t.role !== 0) src.push(...fail([`if (!applyRole(${int(t.role)}, ${int(t.timeUnitUs)}, buf, fs, fe, out, methods, wantPath)) return false;`]));
  }
  src.push(...fail(['return out.status >= 0;']));
  return src;
}

export function compileParser(fmt: LineFormat): LineParser {
  if (fmt.kind !== 'tokens') {
    return (buf, s, e, out, methods, quotes, wantPath) => parseLine(buf, s, e, fmt, out, methods, quotes, wantPath);
  }
  const reset =
    'out.status = -1; out.bytes = 0; out.timeUs = -1; out.firstByteUs = -1; out.cache = 0; out.method = methods.other; out.pathStart = -1; out.pathEnd = -1;';
  const segs: string[] = [];
  // Every occurrence, tried in turn: the whole line again, for the lines the fast path gave up on.
  const slow = [reset, `quotes.tries = ${int(RETRY_BUDGET)};`, 'let p = s;', ...PREAMBLE, ...segment(fmt.tokens, 0, segs), 'return out.status >= 0;'];
  const fast = [reset, 'if (quotes.buf !== buf) quotes.reset(buf);', 'let p = s;', ...PREAMBLE, ...fastPath(fmt.tokens)];
  const factory = new Function(
    'applyRole',
    'parseBytes',
    'parseTime',
    'setRequest',
    'timeUs',
    [
      ...segs,
      `function slow(buf, s, e, out, methods, quotes, wantPath) {\n${slow.join('\n')}\n}`,
      `return function parseCompiled(buf, s, e, out, methods, quotes, wantPath) {\n${fast.join('\n')}\n};`,
    ].join('\n'),
  ) as (ar: typeof applyRole, pb: typeof parseBytes, pt: typeof parseTime, sr: typeof setRequest, tu: typeof timeUs) => LineParser;
  const parse = factory(applyRole, parseBytes, parseTime, setRequest, timeUs);
  warmUp(parse, fmt);
  return parse;
}

/** Ordinary and odd contents for one field: enough to take each branch its code has. */
function samples(t: Token): { usual: string; odd: string[] } {
  if (t.scan === SCAN_BRACKETED) return { usual: '[10/Oct/2023:13:55:36 +0000]', odd: ['x', '[x', '[]'] };
  if (t.role === ROLE_STATUS) return { usual: '200', odd: ['20', '2000', 'abc', '600', '', '-'] };
  if (t.role === ROLE_BYTES) return { usual: '1234', odd: ['-', '-5', '12a', '', '1234567890123456', '0'] };
  if (t.role === ROLE_TIME || t.role === ROLE_FIRST_BYTE) {
    return { usual: t.timeUnitUs === 1 ? '1234' : '0.123', odd: ['-', '.', '1.2.3', '1a', '', '12', '1.1234567', '-1', `0.${'1'.repeat(18)}`, '1'.repeat(21)] };
  }
  if (t.role === ROLE_CACHE) return { usual: 'hit', odd: ['miss', 'pass', 'pipe', 'synth', '-', '', 'hits', 'x'.repeat(40)] };
  if (t.scan === SCAN_QUOTED) {
    return {
      usual: t.role === ROLE_REQUEST ? 'GET /a/b?c=1 HTTP/1.1' : 'Mozilla/5.0 (X11; Linux x86_64)',
      odd: ['', '-', 'a\\"b', 'a\\\\', 'x'.repeat(40), 'POST /x HTTP/1.1', 'get / HTTP/1.0'],
    };
  }
  // Anything else: text that does not hold the byte ending the field; a field that may hold its
  // own literal also gets values that do (a user name with a space, ` [`, ` [x] `).
  const usual = 'abc.def'.replaceAll(String.fromCharCode(t.term), '');
  if (!t.retry) return { usual, odd: ['', '-', 'x'.repeat(40)] };
  const lit = Buffer.from(t.until).toString('latin1');
  return { usual, odd: ['', '-', 'x'.repeat(40), `a${lit}b`, `a${lit}${lit}b`, `a ${lit[0] ?? ''}b`, `${lit}`, `a [b] c${lit}d`] };
}

/**
 * Lines that take every branch of a compiled parser: the format with ordinary values, then each
 * field in turn with each odd value, then the ordinary line cut at every length.
 */
export function probeLines(fmt: LineFormat): string[] {
  const parts = fmt.tokens.map((t) => (t.isField ? samples(t) : { usual: Buffer.from(t.literal).toString('latin1'), odd: [] }));
  const usual = parts.map((p) => p.usual);
  const whole = usual.join('');
  const lines: string[] = [whole, `${whole} extra`];
  parts.forEach((p, i) => {
    for (const odd of p.odd) lines.push([...usual.slice(0, i), odd, ...usual.slice(i + 1)].join(''));
  });
  for (let n = 0; n < whole.length; n++) lines.push(whole.slice(0, n));
  return lines;
}

/**
 * Run a new parser over probeLines() once, before it sees a log.
 *
 * Why: V8 compiles the parser with what it has seen so far, and code no line has reached yet
 * (an escaped quote, a line cut short, a `-` for a time, the last bytes of a buffer) carries no
 * type feedback. The first log line that reaches it throws the compiled parser away, and the next
 * ~20–30 ms of lines run in the interpreter at ~20× the cost while it is compiled again: three
 * times in the bench's million lines (--trace-deopt), ~50 ms of a ~300 ms run. These few hundred
 * lines cost a few ms once. The results are discarded; the parser is pure apart from `out`.
 */
function warmUp(parse: LineParser, fmt: LineFormat): void {
  const lines = probeLines(fmt);
  // Each line once in the middle of a buffer and once at its very end (the last bytes of a buffer
  // are read one at a time: that is code too).
  const joined = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
  const methods = new MethodTable(['GET', 'POST']);
  const quotes = new QuoteFinder();
  const out = newParsedLine();
  for (const wantPath of [false, true]) {
    for (let s = 0; s < joined.length; ) {
      const e = joined.indexOf(0x0a, s);
      parse(joined, s, e, out, methods, quotes, wantPath);
      s = e + 1;
    }
    for (const line of lines) {
      const alone = Buffer.from(`${line}\n`, 'latin1');
      parse(alone, 0, alone.length - 1, out, methods, quotes, wantPath);
    }
  }
}
