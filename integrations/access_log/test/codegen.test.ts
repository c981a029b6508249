/**
 * The compiled parser must agree with the interpreter (parseLine) on every line: status, method,
 * bytes, time and path, for every preset and some custom formats, on real, tricky, synthetic,
 * probe (every branch) and fuzzed lines; whether it reads words or bytes, and whether a line sits
 * in the middle of a buffer or at its very end (where words cannot be read).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileParser, probeLines } from '../codegen.js';
import { DEFAULT_METHODS } from '../config.js';
import { compileFormat, PRESETS } from '../format.js';
import { MethodTable, newParsedLine, parseLine, QuoteFinder } from '../parse.js';
import { REAL_LOG, requireData, TRICKY } from './harness.js';
import { seededRandom } from '../../../test/helpers/random.js';

const methods = new MethodTable([...DEFAULT_METHODS]);

type Parse = (buf: Buffer, s: number, e: number, o: ReturnType<typeof newParsedLine>, q: QuoteFinder) => boolean;

function show(ok: boolean, out: ReturnType<typeof newParsedLine>): string {
  return ok ? `${out.status} ${out.method} ${out.bytes} ${out.timeUs} ${out.firstByteUs} ${out.cache} ${out.pathStart}-${out.pathEnd}` : '-';
}

/** Every `\n`-terminated line of `text`, parsed in place. */
function inPlace(text: Buffer, run: Parse, q: QuoteFinder): string[] {
  const out = newParsedLine();
  const res: string[] = [];
  for (let p = 0; ; ) {
    const nl = text.indexOf(10, p);
    if (nl < 0) break;
    res.push(show(run(text, p, nl, out, q), out));
    p = nl + 1;
  }
  return res;
}

/** Each line cut at every length, the rest of it still in the buffer: nothing past `e` may count. */
function cuts(lines: readonly string[], run: Parse, q: QuoteFinder): string[] {
  const out = newParsedLine();
  return lines.flatMap((l) => {
    const buf = Buffer.from(`${l}\n`, 'latin1');
    return Array.from({ length: l.length + 1 }, (_, e) => show(run(buf, 0, e, out, q), out));
  });
}

/** Each line alone in its own buffer, so it ends in the buffer's last bytes. */
function alone(lines: readonly string[], run: Parse, q: QuoteFinder): string[] {
  const out = newParsedLine();
  return lines.map((l) => {
    const buf = Buffer.from(`${l}\n`, 'latin1');
    return show(run(buf, 0, buf.length - 1, out, q), out);
  });
}

function parsers(format: string): { interp: Parse; compiled: Parse } {
  const fmt = compileFormat(format);
  const compiled = compileParser(fmt);
  return {
    interp: (b, s, e, o, q) => parseLine(b, s, e, fmt, o, methods, q, true),
    compiled: (b, s, e, o, q) => compiled(b, s, e, o, methods, q, true),
  };
}

/** Probe lines with random bytes replaced, inserted or deleted, from the bytes formats care about. */
function fuzz(lines: readonly string[], n: number, seed: number): string[] {
  const r = seededRandom(seed);
  const alphabet = ' "\\[]-.:0123456789GETPOSabc/?';
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let l = lines[Math.floor(r() * lines.length)]!;
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
      const at = Math.floor(r() * (l.length + 1));
      const c = alphabet[Math.floor(r() * alphabet.length)]!;
      const op = r();
      l = op < 0.4 ? l.slice(0, at) + c + l.slice(at + 1) : op < 0.7 ? l.slice(0, at) + c + l.slice(at) : l.slice(0, at) + l.slice(at + 1);
    }
    out.push(l);
  }
  return out;
}

const CUSTOM = [
  // bytes ends at '.', a byte a number can hold: found first, then parsed
  '%h [%>s] %b.%D %U',
  // status ends at a digit; time is the last field
  '%>s1%b %T',
  // nginx variables with ':' '-' ';' separators; the path is the last field
  '$remote_addr:$status:$body_bytes_sent-$request_time;$request_method $uri',
  // status is the last field
  '%h %>s',
  // varnishncsa: the cache word in the middle, the time to first byte last
  '%s %{Varnish:handling}x %{Varnish:time_firstbyte}x',
  // the cache word is the last field; Apache's %^FB (µs) in the middle
  '"%r" %s %^FB %{Varnish:hitmiss}x',
];

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
      '127.0.0.1 - - [07/Dec/2026:14:09:53 +0000] "GET http://127.0.0.1:6081/static/a HTTP/1.1" 200 16 "-" "curl/7.88.1" 72521 0.072389 miss miss',
      '127.0.0.1 - - [07/Dec/2026:14:09:55 +0000] "GET http://127.0.0.1:6081/pipe HTTP/1.1" - - "-" "curl/7.88.1" 19944 0.000044 pipe miss',
      '127.0.0.1 - - [07/Dec/2026:14:09:55 +0000] "GET http://localhost/static/a HTTP/1.1" 400 252 "-" "curl/7.88.1" 95 0.000059 synth miss',
    ].join('\n') + '\n',
  );
  const texts: [string, Buffer][] = [
    ['real', readFileSync(REAL_LOG)],
    ['tricky', readFileSync(TRICKY)],
    ['synthetic', synthetic],
  ];
  for (const format of Object.keys(PRESETS)) {
    it(`agrees for ${format} on the real, tricky and synthetic logs`, () => {
      const { interp, compiled } = parsers(format);
      for (const [name, text] of texts) {
        const want = inPlace(text, interp, new QuoteFinder());
        expect(inPlace(text, compiled, new QuoteFinder()), name).toEqual(want);
        expect(inPlace(text, compiled, new QuoteFinder({ words: false })), `${name}, bytewise`).toEqual(want);
        if (name === 'real' && (format === 'combined' || format === 'nginx_combined')) {
          expect(want.filter((x) => x !== '-')).toHaveLength(9999);
        }
      }
    });
  }

  for (const format of [...Object.keys(PRESETS), ...CUSTOM]) {
    it(`agrees for ${format} on probe and fuzzed lines, mid-buffer and at a buffer's end`, () => {
      const { interp, compiled } = parsers(format);
      const probes = probeLines(compileFormat(format));
      const lines = [...probes, ...fuzz(probes, 3000, 7)];
      const joined = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
      const want = inPlace(joined, interp, new QuoteFinder());
      // The probes parse both ways (a probe set that all fails would prove nothing).
      expect(want.slice(0, probes.length).filter((x) => x !== '-').length).toBeGreaterThan(1);
      expect(want.slice(0, probes.length)).toContain('-');
      expect(inPlace(joined, compiled, new QuoteFinder())).toEqual(want);
      expect(inPlace(joined, compiled, new QuoteFinder({ words: false }))).toEqual(want);
      expect(alone(lines, compiled, new QuoteFinder())).toEqual(alone(lines, interp, new QuoteFinder()));
      expect(cuts(probes, compiled, new QuoteFinder())).toEqual(cuts(probes, interp, new QuoteFinder()));
      // A word read at a line's end also holds the next line's first bytes: make those the
      // format's separators, which must not be taken for the end of a field.
      const seps = [...new Set(compileFormat(format).tokens.filter((t) => !t.isField).map((t) => String.fromCharCode(t.literal[0]!)))].join('');
      const straddle = Buffer.from(`${lines.flatMap((l) => [l, seps, seps.slice(1)]).join('\n')}\n`, 'latin1');
      expect(inPlace(straddle, compiled, new QuoteFinder())).toEqual(inPlace(straddle, interp, new QuoteFinder()));
    });
  }
});
