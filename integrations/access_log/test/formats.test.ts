/**
 * Formats and the 24 tricky lines (../shared/data/accesslog/tricky-lines.log, research T19): which
 * lines each format parses, with what status, method and response time; and the custom format
 * compiler (Apache LogFormat, nginx log_format) with its error messages.
 */
import { isUtf8 } from 'node:buffer';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_METHODS } from '../config.js';
import { compileFormat } from '../format.js';
import { MethodTable, newParsedLine, parseLine, QuoteFinder } from '../parse.js';
import { instance, requireData, tempDir, totals, TRICKY } from './harness.js';

type Result = 'invalid' | 'unparsed' | [status: number, method: string, ms: number | null];

const methods = new MethodTable([...DEFAULT_METHODS]);

function parseAll(format: string, text: Buffer): Result[] {
  const fmt = compileFormat(format);
  const q = new QuoteFinder();
  const out = newParsedLine();
  const res: Result[] = [];
  let p = 0;
  for (;;) {
    const nl = text.indexOf(10, p);
    if (nl < 0) break;
    const e = text[nl - 1] === 13 ? nl - 1 : nl;
    const line = text.subarray(p, e);
    if (line.includes(0) || !isUtf8(line)) res.push('invalid');
    else if (parseLine(text, p, e, fmt, out, methods, q, false))
      res.push([out.status, methods.names[out.method]!, out.timeUs < 0 ? null : out.timeUs / 1000]);
    else res.push('unparsed');
    p = nl + 1;
  }
  return res;
}

function one(format: string, line: string): Result {
  return parseAll(format, Buffer.from(line + '\n'))[0]!;
}

describe('the 24 tricky lines', () => {
  requireData();
  const text = readFileSync(TRICKY);

  it('has 24 lines', () => {
    expect(text.toString('latin1').split('\n').length - 1).toBe(24);
  });

  it('nginx_combined_rt: every nginx shape parses, with ms times; broken lines do not', () => {
    const r = parseAll('nginx_combined_rt', text);
    expect(r).toEqual([
      [200, 'GET', null], // 1 Apache \" in %r, no time field
      [200, 'GET', null], // 2 \" and \\ in the user agent
      [200, 'GET', 4], // 3 nginx \x22 escapes
      [200, 'GET', 1], // 4 IPv6 client
      [200, 'HEAD', 0], // 5 IPv4-mapped IPv6
      'unparsed', // 6 vhost_combined line
      [400, 'OTHER', 1], // 7 TLS handshake on the HTTP port
      [408, 'OTHER', null], // 8 no request line, %b "-", no time
      [400, 'OTHER', 0], // 9 empty request
      [400, 'GET', 0], // 10 raw spaces in the target
      [400, 'OTHER', 0], // 11 PRI * HTTP/2.0
      [200, 'GET', 0], // 12 no protocol
      [207, 'PROPFIND', 20], // 13 WebDAV with a user
      [499, 'GET', 12345], // 14 client closed
      [504, 'GET', 60002], // 15 upstream list
      [200, 'GET', 17], // 16 upstream list with a colon
      [200, 'GET', 1534000], // 17 an Apache %D read as seconds: the format must say %D
      [200, 'GET', 1], // 18 CRLF
      'unparsed', // 19 user agent without its closing quote (real, elastic line 8899)
      'invalid', // 20 raw 0xff 0xfe and NUL bytes
      'invalid', // 21 NUL-filled line
      'unparsed', // 22 a JSON line
      [414, 'GET', 0], // 23 20 KB target
      [101, 'GET', 24388248], // 24 WebSocket: logged at close with the tunnel's lifetime
    ]);
  });

  it('combined: the same lines without times; trailing fields are allowed', () => {
    const r = parseAll('combined', text);
    const parsed = r.flatMap((x, i) => (Array.isArray(x) ? [i + 1] : []));
    // Line 6 is vhost_combined: %u is read up to " [" (a user name may hold spaces), so the
    // leading vhost shifts the fields by one and the user reads "- -"; the request still counts.
    expect(parsed).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 23, 24]);
    expect(r[5]).toEqual([201, 'POST', null]);
    expect(r.every((x) => !Array.isArray(x) || x[2] === null)).toBe(true);
  });

  it('vhost_combined parses line 6 only', () => {
    const r = parseAll('vhost_combined', text);
    expect(r[5]).toEqual([201, 'POST', null]);
    expect(r.filter(Array.isArray)).toHaveLength(1);
  });

  it('combined + %D (µs) parses line 17 as 1.534 ms and rejects decimal times', () => {
    const r = parseAll('%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" %D', text);
    expect(r[16]).toEqual([200, 'GET', 1.534]);
    expect(r[2]).toBe('unparsed');
    expect(r.flatMap((x, i) => (Array.isArray(x) ? [i + 1] : []))).toEqual([1, 2, 6, 8, 17]);
  });

  it('json (nginx escape=json) parses line 22 with its escaped quotes', () => {
    const r = parseAll('json', text);
    expect(r[21]).toEqual([200, 'GET', 12]);
    expect(r.filter(Array.isArray)).toHaveLength(1);
  });

  describe('through the integration (once) on the tricky file', () => {
    const tmp = tempDir();
    afterAll(() => tmp.cleanup());
    it('counts requests, unparsed and invalid lines and keeps 101 out of the timer', async () => {
      const path = join(tmp.dir, 'tricky.log');
      copyFileSync(TRICKY, path);
      const i = instance({ path, format: 'nginx_combined_rt', name: 'tricky' }, { stateDir: tmp.dir });
      await i.integ.once();
      const t = totals(i, 'tricky');
      expect(t['requests']).toBe(19);
      expect(t['unparsed']).toBe(5);
      expect(t['lines.invalid']).toBe(2);
      expect(t['status.1xx']).toBe(1);
      expect(t['status.101']).toBe(1);
      expect(t['good']).toBe(10);
      expect(t['bad']).toBe(8);
      expect(t['method.OTHER']).toBe(4);
      expect(t['method.PROPFIND']).toBe(1);
      const times = i.sink.timings().get('tricky.response_time')!;
      expect(times).toHaveLength(15); // 19 requests − 3 without a time − the 101
      expect(times).not.toContain(24388248);
    });
  });
});

describe('custom formats', () => {
  it('Apache LogFormat with %{ms}T, %>s over %s, %O when %b is absent', () => {
    const f = '%v %h %l %u %t \\"%r\\" %s %>s %O %{ms}T';
    expect(one(f, 'www 192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "POST /x HTTP/1.1" 302 200 512 37')).toEqual([200, 'POST', 37]);
  });

  it('Apache %T is seconds, %{us}T microseconds', () => {
    expect(one('%h \\"%r\\" %>s %T', '::1 "GET / HTTP/1.1" 200 2')).toEqual([200, 'GET', 2000]);
    expect(one('%h \\"%r\\" %>s %{us}T', '::1 "GET / HTTP/1.1" 200 2500')).toEqual([200, 'GET', 2.5]);
  });

  it('nginx log_format with $request_method, $status and ${request_time}', () => {
    const f = '$remote_addr [$time_local] $request_method $status ${request_time}s "$http_user_agent"';
    expect(one(f, '2001:db8::1 [10/Oct/2023:13:55:36 +0000] DELETE 204 0.250s "curl/8"')).toEqual([204, 'DELETE', 250]);
  });

  it('json with bare numbers, nulls and custom key names', () => {
    const fmt = compileFormat('json', { status: 'code', request_time_ms: 'dur' });
    const q = new QuoteFinder();
    const out = newParsedLine();
    const line = Buffer.from('{"code": 503, "request_method":"PUT", "dur": 12.5, "x": null}');
    expect(parseLine(line, 0, line.length, fmt, out, methods, q, false)).toBe(true);
    expect([out.status, methods.names[out.method], out.timeUs]).toEqual([503, 'PUT', 12_500]);
  });

  it('rejects formats that cannot work, with a message naming the problem', () => {
    expect(() => compileFormat('%h%l %>s')).toThrow(/%h and %l are adjacent/);
    expect(() => compileFormat('%h %l %u')).toThrow(/no status field/);
    expect(() => compileFormat('combined_typo')).toThrow(/unknown format "combined_typo": expected one of common, combined/);
    expect(() => compileFormat('%h %>s %{min}T')).toThrow(/unknown time unit "min"/);
    expect(() => compileFormat('json', { nope: 'x' })).toThrow(/json_keys.nope: unknown role/);
  });

  it('a bad format fails create() with the key named', () => {
    expect(() => instance({ path: '/tmp/x.log', format: '%h %u' })).toThrow(/^format: format "%h %u" has no status field/);
  });

  it('a status outside 100–599 makes the line unparsed', () => {
    expect(one('combined', '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 000 0 "-" "-"')).toBe('unparsed');
    expect(one('combined', '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 444 0 "-" "-"')).toEqual([444, 'GET', null]);
  });

  it('a block of lines without any closing quote stays linear (quote search memo)', () => {
    // 20,000 lines whose request quote never closes: without the memo each line rescans the rest.
    const bad = '1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /' + 'x'.repeat(50) + '\n';
    const text = Buffer.from(bad.repeat(20_000));
    const r = parseAll('combined', text);
    expect(r).toHaveLength(20_000);
    expect(r.every((x) => x === 'unparsed')).toBe(true);
  });
});

describe('mod_statsd compatibility', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  it('emits <prefix.><path.key>.<METHOD>.<STATUS><.suffix> counters and integer timers, capped', async () => {
    const path = join(tmp.dir, 'm.log');
    const l = (target: string, method = 'GET', status = 200, t = '0.012'): string =>
      `1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "${method} ${target} HTTP/1.1" ${status} 5 "-" "-" ${t} "-"\n`;
    writeFileSync(
      path,
      l('/foo/bar?baz=42') + l('/foo/bar', 'GET', 200, '0.0199') + l('/') + l('/a.b/c:d', 'POST', 201) + l('/123/x', 'GET', 404) + l('/y', 'BREW') + l('/z') + l('/w'),
    );
    const i = instance(
      {
        path,
        format: 'nginx_combined_rt',
        name: 'site',
        compat: 'mod_statsd',
        mod_statsd: { prefix: 'web', suffix: 'prod', exclude: ['^[0-9]+$'], max_keys: 5 },
      },
      { stateDir: tmp.dir },
    );
    await i.integ.once();
    const c = i.sink.counters();
    expect(c.get('web.foo.bar.GET.200.prod')).toBe(2);
    expect(c.get('web.ROOT.GET.200.prod')).toBe(1);
    expect(c.get('web.a_b.c_d.POST.201.prod')).toBe(1);
    expect(c.get('web.x.GET.404.prod')).toBe(1);
    expect(c.get('web.y.OtherVerbs.200.prod')).toBe(1);
    // Sixth distinct key and later: _other.
    expect(c.get('web._other.GET.200.prod')).toBe(2);
    expect(i.sink.timings().get('web.foo.bar.GET.200.prod')).toEqual([12, 19]);
    // The standard names are there too.
    expect(c.get('site.requests')).toBe(8);
  });
});
