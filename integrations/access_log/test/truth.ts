/**
 * What the field-rule tests share: the formats the real servers wrote with, readers for their
 * second, unambiguous logs (nginx escape=json, Apache tab-separated), and a parse of each line
 * through both the interpreter and the compiled parser (which must agree).
 */
import { expect } from 'vitest';
import { compileParser } from '../codegen.js';
import { DEFAULT_METHODS } from '../config.js';
import { compileFormat } from '../format.js';
import { MethodTable, newParsedLine, parseLine, QuoteFinder } from '../parse.js';

/** The formats the lines were written with (real-servers.test.ts uses the same). */
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
