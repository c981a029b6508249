/**
 * Field rules on lines real servers wrote (nginx 1.22.1 and Apache 2.4.71, Debian; captured by
 * fields.real.test.ts's requests, provenance in fixtures/SOURCE.md): user names with spaces,
 * brackets, quotes, backslashes and UTF-8 (valid logins, a failed login, nginx's user from an
 * Authorization header on an unprotected page), HTTP/0.9, raw spaces and quotes in the target,
 * hostile referer / user agent, an unquoted X-Forwarded-For list, %h from HostnameLookups, a TLS
 * handshake. Each line must give the status, bytes and time of the server's second log, written
 * in an unambiguous format (nginx escape=json, Apache tab-separated) for the same request.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileParser } from '../codegen.js';
import { DEFAULT_METHODS } from '../config.js';
import { compileFormat } from '../format.js';
import { MethodTable, newParsedLine, parseLine, QuoteFinder } from '../parse.js';
import { DATA_DIR } from './harness.js';

/** The formats the lines were written with (fields.real.test.ts uses the same). */
export const NGINX_FIELDS_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $http_x_forwarded_for';
export const APACHE_FIELDS_FORMAT = '%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" %D %{X-Forwarded-For}i';

const methods = new MethodTable([...DEFAULT_METHODS]);

export interface Truth {
  status: number;
  bytes: number;
  /** µs */
  timeUs: number;
}

export function nginxTruth(text: string): Truth[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const j = JSON.parse(l) as Record<string, string>;
      return { status: Number(j['status']), bytes: Number(j['bytes']), timeUs: Math.round(Number(j['rt']) * 1e6) };
    });
}

export function apacheTruth(text: string): Truth[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [s, b, d] = l.split('\t');
      return { status: Number(s), bytes: Number(b), timeUs: Number(d) };
    });
}

/** Each line through the interpreter and the compiled parser; both must agree. */
export function parseEach(format: string, text: Buffer): (Truth | 'unparsed')[] {
  const fmt = compileFormat(format);
  const compiled = compileParser(fmt);
  const out = newParsedLine();
  const res: (Truth | 'unparsed')[] = [];
  for (let p = 0; p < text.length; ) {
    const nl = text.indexOf(10, p);
    const a = parseLine(text, p, nl, fmt, out, methods, new QuoteFinder(), false) ? { status: out.status, bytes: out.bytes, timeUs: out.timeUs } : 'unparsed';
    const b = compiled(text, p, nl, out, methods, new QuoteFinder(), false) ? { status: out.status, bytes: out.bytes, timeUs: out.timeUs } : 'unparsed';
    expect(b, `line ${res.length + 1}: compiled vs interpreter`).toEqual(a);
    res.push(a);
    p = nl + 1;
  }
  return res;
}

describe('field rules on lines real servers wrote', () => {
  it('nginx: every line gives the status, bytes and time of its escape=json twin', () => {
    const got = parseEach(NGINX_FIELDS_FORMAT, readFileSync(join(DATA_DIR, 'real-fields-nginx.log')));
    expect(got).toEqual(nginxTruth(readFileSync(join(DATA_DIR, 'real-fields-nginx.truth.jsonl'), 'utf8')));
  });

  it('Apache: every line gives the status, bytes and time of its tab-separated twin', () => {
    const got = parseEach(APACHE_FIELDS_FORMAT, readFileSync(join(DATA_DIR, 'real-fields-apache.log')));
    expect(got).toEqual(apacheTruth(readFileSync(join(DATA_DIR, 'real-fields-apache.truth.tsv'), 'utf8')));
  });

  it('the combined presets read the same user names (the first 7 lines of each file, cut to combined)', () => {
    const cut = (file: string, fields: number): Buffer =>
      Buffer.from(
        readFileSync(join(DATA_DIR, file), 'latin1')
          .split('\n')
          .slice(0, 7)
          .map((l) => l.replace(new RegExp(`((?:"[^"]*" ){${fields}})\\S+.*$`), '$1').trimEnd())
          .join('\n') + '\n',
        'latin1',
      );
    const n = parseEach('nginx_combined', cut('real-fields-nginx.log', 3));
    const a = parseEach('combined', cut('real-fields-apache.log', 3));
    expect(n.map((x) => (x === 'unparsed' ? x : x.status))).toEqual([200, 200, 200, 200, 200, 401, 200]);
    expect(a.map((x) => (x === 'unparsed' ? x : x.status))).toEqual([200, 200, 200, 200, 200, 401, 200]);
  });

  it('a user name holding " [" and "] " is tried from each " [" until the rest fits, within a bound', () => {
    // Apache's %t is one bracketed field, so a user "a [b] c" first ends at "a", %t reads "[b]",
    // and the literal ' "' does not follow: the next " [" is tried. Neither server writes a raw
    // '"' in a user name (Apache \", nginx \x22), so the " [" after which the rest fits is unique.
    const line = (user: string): string => `127.0.0.1 - ${user} [07/Dec/2026:13:11:18 +0000] "GET /auth HTTP/1.1" 200 3 "-" "-"`;
    const one = (l: string): Truth | 'unparsed' => parseEach('combined', Buffer.from(`${l}\n`))[0]!;
    expect(one(line('user name'))).toEqual({ status: 200, bytes: 3, timeUs: -1 });
    expect(one(line('a [b] c [d] e'))).toEqual({ status: 200, bytes: 3, timeUs: -1 });
    // 40 " [x]" pieces: more tries than the budget, so the line is unparsed (and counted as such), quickly.
    expect(one(line('u [x]'.repeat(40)))).toBe('unparsed');
  });
});
