/**
 * The compiled parser must agree with the interpreter (parseLine) on every line: status, method,
 * bytes, time and path, for every preset and on real, tricky and synthetic lines.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileParser } from '../codegen.js';
import { DEFAULT_METHODS } from '../config.js';
import { compileFormat, PRESETS } from '../format.js';
import { MethodTable, newParsedLine, parseLine, QuoteFinder } from '../parse.js';
import { REAL_LOG, requireData, TRICKY } from './harness.js';

function both(format: string, text: Buffer): { interp: string[]; compiled: string[] } {
  const fmt = compileFormat(format);
  const methods = new MethodTable([...DEFAULT_METHODS]);
  const compiled = compileParser(fmt);
  const res = { interp: [] as string[], compiled: [] as string[] };
  for (const [key, run] of [
    ['interp', (s: number, e: number, o: ReturnType<typeof newParsedLine>, q: QuoteFinder) => parseLine(text, s, e, fmt, o, methods, q, true)],
    ['compiled', (s: number, e: number, o: ReturnType<typeof newParsedLine>, q: QuoteFinder) => compiled(text, s, e, o, methods, q, true)],
  ] as const) {
    const out = newParsedLine();
    const q = new QuoteFinder();
    let p = 0;
    for (;;) {
      const nl = text.indexOf(10, p);
      if (nl < 0) break;
      const ok = run(p, nl, out, q);
      res[key].push(ok ? `${out.status} ${out.method} ${out.bytes} ${out.timeUs} ${out.pathStart}-${out.pathEnd}` : '-');
      p = nl + 1;
    }
  }
  return res;
}

describe('compiled parser = interpreter', () => {
  requireData();
  const synthetic = Buffer.from(
    [
      '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 5 "-" "x" 0.010 "-"',
      '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /a?b HTTP/1.1" 200',
      '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /a?b HTTP/1.1" 20',
      '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 -',
      '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 5 "',
      'www:80 1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "POST / HTTP/1.1" 201 3 "-" "-"',
      '',
      '-',
      '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x" 1534',
    ].join('\n') + '\n',
  );
  const texts: [string, Buffer][] = [
    ['real', readFileSync(REAL_LOG)],
    ['tricky', readFileSync(TRICKY)],
    ['synthetic', synthetic],
  ];
  for (const format of Object.keys(PRESETS)) {
    it(`agrees for ${format}`, () => {
      for (const [name, text] of texts) {
        const r = both(format, text);
        expect(r.compiled, name).toEqual(r.interp);
        if (name === 'real' && (format === 'combined' || format === 'nginx_combined')) {
          expect(r.compiled.filter((x) => x !== '-')).toHaveLength(9999);
        }
      }
    });
  }
});
