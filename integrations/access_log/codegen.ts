/**
 * Compiles a token format into a straight-line JavaScript function: the same steps parseLine
 * interprets, with literals, terminators and roles inlined as constants. Measured ~1.3–1.5× faster
 * than the interpreter on nginx lines (no per-token object loads, no loop, no dispatch); the
 * interpreter stays as the reference, and a test checks both agree line for line.
 *
 * Only numbers from the compiled format reach the generated source (byte values, role and unit
 * constants); nothing from a log line or a config string is ever pasted into code.
 */
import { SCAN_BRACKETED, SCAN_QUOTED, SCAN_TO_BYTE, ROLE_BYTES, ROLE_STATUS, ROLE_TIME, type LineFormat } from './format.js';
import { applyRole, parseLine, type MethodTable, type ParsedLine, type QuoteFinder } from './parse.js';

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

export function compileParser(fmt: LineFormat): LineParser {
  if (fmt.kind !== 'tokens') {
    return (buf, s, e, out, methods, quotes, wantPath) => parseLine(buf, s, e, fmt, out, methods, quotes, wantPath);
  }
  const src: string[] = [
    'out.status = -1; out.bytes = 0; out.timeUs = -1; out.method = methods.other; out.pathStart = -1; out.pathEnd = -1;',
    'let p = s; let fs = 0; let fe = 0; let at = 0;',
  ];
  for (const t of fmt.tokens) {
    if (!t.isField) {
      const lit = [...t.literal];
      const n = lit.length;
      // The line may end inside or at this separator: accepted when what is left matches it.
      const partial = lit
        .slice(0, n - 1)
        .map((b, k) => `if (p + ${k} < e && buf[p + ${k}] !== ${int(b)}) return false;`)
        .join(' ');
      src.push(`if (p + ${n} > e) { ${partial} return out.status > 0; }`);
      src.push(lit.map((b, k) => `if (buf[p + ${k}] !== ${int(b)}) return false;`).join(' '));
      src.push(`p += ${n};`);
      continue;
    }
    src.push('fs = p;');
    if (t.scan === SCAN_QUOTED) {
      src.push('at = quotes.find(buf, p, e); if (at < 0) return false; fe = at; p = at;');
    } else if (t.scan === SCAN_TO_BYTE) {
      src.push(`at = quotes.byte(buf, p, e, ${int(t.term)}); p = at < 0 ? e : at; fe = p;`);
    } else if (t.scan === SCAN_BRACKETED) {
      src.push('if (buf[p] !== 0x5b) return false; at = quotes.byte(buf, p, e, 0x5d); if (at < 0) return false; p = at + 1; fe = p;');
    } else if (t.role === ROLE_STATUS || t.role === ROLE_BYTES || t.role === ROLE_TIME) {
      src.push('at = quotes.byte(buf, p, e, 0x20); fe = at < 0 ? e : at; p = e;');
    } else {
      src.push('fe = e; p = e;');
    }
    if (t.role === ROLE_STATUS) {
      // Inlined: three digits, 100–599.
      src.push(
        'if (fe - fs !== 3) return false;',
        '{ const a = buf[fs] - 48, b = buf[fs + 1] - 48, c = buf[fs + 2] - 48;',
        '  if (a < 1 || a > 5 || b < 0 || b > 9 || c < 0 || c > 9) return false;',
        '  out.status = a * 100 + b * 10 + c; }',
      );
    } else if (t.role !== 0) {
      src.push(`if (!applyRole(${int(t.role)}, ${int(t.timeUnitUs)}, buf, fs, fe, out, methods, wantPath)) return false;`);
    }
  }
  src.push('return out.status > 0;');
  const factory = new Function('applyRole', `return function parseCompiled(buf, s, e, out, methods, quotes, wantPath) {\n${src.join('\n')}\n};`) as (
    ar: typeof applyRole,
  ) => LineParser;
  return factory(applyRole);
}
