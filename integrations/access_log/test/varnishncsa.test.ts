/**
 * varnishncsa formats on lines real varnishncsa wrote (fixtures/SOURCE.md): the presets, the
 * `%{…}x` fields, the absolute URL in `%r`, the `-` status of a piped request, and the metrics
 * they make. The real-server test (varnish.real.test.ts) checks the same against varnishstat.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileParser } from '../codegen.js';
import { DEFAULT_METHODS } from '../config.js';
import { compileFormat, PRESETS } from '../format.js';
import { CACHE_NAMES, MethodTable, newParsedLine, QuoteFinder } from '../parse.js';
import { DATA_DIR, instance, tempDir, totals } from './harness.js';

const EXTENDED = join(DATA_DIR, 'varnishncsa-extended.log');
const DEFAULT = join(DATA_DIR, 'varnishncsa.log');
const methods = new MethodTable([...DEFAULT_METHODS]);

/** One line through the compiled parser: status, method, ms, first-byte ms, cache word, path. */
function parse(format: string, line: string): unknown[] | 'unparsed' {
  const parser = compileParser(compileFormat(format));
  const buf = Buffer.from(`${line}\n`, 'latin1');
  const out = newParsedLine();
  if (!parser(buf, 0, buf.length - 1, out, methods, new QuoteFinder(), true)) return 'unparsed';
  return [
    out.status,
    methods.names[out.method],
    out.timeUs < 0 ? null : out.timeUs / 1000,
    out.firstByteUs < 0 ? null : out.firstByteUs / 1000,
    CACHE_NAMES[out.cache],
    out.pathStart < 0 ? null : buf.toString('latin1', out.pathStart, out.pathEnd),
  ];
}

describe('varnishncsa presets', () => {
  it('are the strings the README tells varnishncsa to use', () => {
    expect(PRESETS['varnishncsa']).toBe('%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i"');
    expect(PRESETS['varnishncsa_extended']).toBe(
      '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i" %D %{Varnish:time_firstbyte}x %{Varnish:handling}x %{Varnish:hitmiss}x',
    );
  });

  it('varnishncsa_extended: %D in µs, time to first byte in s, handling over hitmiss, the path of the absolute URL', () => {
    const l = (rest: string): string => `127.0.0.1 - - [07/Dec/2026:14:09:53 +0000] ${rest}`;
    const f = 'varnishncsa_extended';
    expect(parse(f, l('"GET http://127.0.0.1:6081/static/b?x=1 HTTP/1.1" 200 20 "-" "curl/7.88.1" 2370 0.002128 miss miss'))).toEqual([
      200, 'GET', 2.37, 2.128, 'miss', '/static/b',
    ]);
    expect(parse(f, l('"GET http://127.0.0.1:6081/api/x HTTP/1.1" 200 8 "-" "curl/7.88.1" 7103 0.007018 pass miss'))).toEqual([
      200, 'GET', 7.103, 7.018, 'pass', '/api/x',
    ]);
    // A piped request: no status, no bytes.
    expect(parse(f, l('"GET http://127.0.0.1:6081/pipe HTTP/1.1" - - "-" "curl/7.88.1" 19944 0.000044 pipe miss'))).toEqual([
      0, 'GET', 19.944, 0.044, 'pipe', '/pipe',
    ]);
    // A word varnishncsa does not write today is counted as other, never named after.
    expect(parse(f, l('"GET http://h/a HTTP/1.1" 200 1 "-" "-" 1 0.000001 restart miss'))).toEqual([200, 'GET', 0.001, 0.001, 'other', '/a']);
    expect(parse(f, l('"GET http://h/a HTTP/1.1" 200 1 "-" "-" 1 0.000001 - -'))).toEqual([200, 'GET', 0.001, 0.001, 'other', '/a']);
    // A decimal where %D has µs: the format does not fit.
    expect(parse(f, l('"GET http://h/a HTTP/1.1" 200 1 "-" "-" 1.5 0.000001 hit hit'))).toBe('unparsed');
  });

  it('absolute-form targets give the path after the authority; other targets stay as they are', () => {
    const f = '"%r" %s';
    expect(parse(f, '"GET https://www.example.com:8443/a/b?c=1 HTTP/1.1" 200')?.[5]).toBe('/a/b');
    expect(parse(f, '"GET http://localhost HTTP/1.0" 200')?.[5]).toBe('');
    expect(parse(f, '"GET http://h?x HTTP/1.0" 200')?.[5]).toBe('');
    expect(parse(f, '"OPTIONS * HTTP/1.1" 200')?.[5]).toBe('*');
    expect(parse(f, '"GET /plain?q HTTP/1.1" 200')?.[5]).toBe('/plain');
    expect(parse(f, '"GET http:/not-absolute HTTP/1.1" 200')?.[5]).toBe('http:/not-absolute');
    expect(parse(f, '"CONNECT example.com:443 HTTP/1.1" 200')?.[5]).toBe('example.com:443');
  });

  it('other %{…}x fields are read and ignored; hitmiss alone gives hit or miss', () => {
    const f = '%{Varnish:side}x %{Varnish:vxid}x "%{VCL_Log:key}x" %{VSL:Timestamp:Resp[2]}x %s %{Varnish:hitmiss}x';
    expect(parse(f, 'c 32770 "a value with spaces" 1733580593.123456 503 miss')).toEqual([503, 'OTHER', null, null, 'miss', null]);
    expect(compileFormat(f).cache).toBe('hitmiss');
    expect(compileFormat('varnishncsa_extended').cache).toBe('handling');
    expect(compileFormat('varnishncsa').cache).toBe('none');
  });

  it('varnishncsa -j (JSON) with json_keys for the time to first byte and the handling', () => {
    const fmt = compileFormat('json', { status: 'status', request_time_us: 'us', first_byte_time: 'ttfb', handling: 'handling' });
    expect(fmt.cache).toBe('handling');
    const parser = compileParser(fmt);
    const line = Buffer.from('{"status": 200, "request": "GET http://h:6081/a/b?x HTTP/1.1", "us": 2370, "ttfb": 0.002128, "handling": "pass"}');
    const out = newParsedLine();
    expect(parser(line, 0, line.length, out, methods, new QuoteFinder(), true)).toBe(true);
    const path = line.toString('latin1', out.pathStart, out.pathEnd);
    expect([out.status, out.timeUs, out.firstByteUs, CACHE_NAMES[out.cache], path]).toEqual([200, 2370, 2128, 'pass', '/a/b']);
  });

  it('Apache %^FB is a time to first byte in µs', () => {
    expect(parse('\\"%r\\" %>s %D %^FB', '"GET / HTTP/1.1" 200 2500 1200')).toEqual([200, 'GET', 2.5, 1.2, 'none', '/']);
  });
});

describe('varnishncsa logs through the integration', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('the extended log: the cache counters varnishstat had, a first-byte timer, pipes without a status', async () => {
    const path = join(tmp.dir, 'ext.log');
    copyFileSync(EXTENDED, path);
    const i = instance({ path, format: 'varnishncsa_extended', name: 'v', compat: 'mod_statsd' }, { stateDir: tmp.dir });
    await i.integ.once();
    const t = totals(i, 'v');
    // varnishstat after these 17 requests: client_req 17, cache_hit 2, cache_miss 7, s_pass 5, s_pipe 1, s_synth 2.
    expect([t['requests'], t['unparsed']]).toEqual([17, 0]);
    expect([t['cache.hit'], t['cache.miss'], t['cache.pass'], t['cache.pipe'], t['cache.synth'], t['cache.other']]).toEqual([2, 7, 5, 1, 2, undefined]);
    expect([t['status.200'], t['status.400'], t['status.403'], t['status.404'], t['status.500'], t['status.none']]).toEqual([7, 1, 1, 5, 2, 1]);
    expect([t['good'], t['bad'], t['status.2xx'], t['status.4xx'], t['status.5xx']]).toEqual([7, 9, 7, 7, 2]);
    // 16 timed: the piped request's time is the tunnel's lifetime.
    const times = i.sink.timings();
    expect(times.get('v.response_time')).toHaveLength(16);
    expect(times.get('v.response_time')).not.toContain(19.944);
    expect(times.get('v.first_byte_time')).toHaveLength(16);
    expect(times.get('v.first_byte_time')![0]).toBe(72.389);
    // mod_statsd keys from the absolute URLs: the path only, with Host or without.
    const c = i.sink.counters();
    expect(c.get('static.a.GET.200')).toBe(4);
    expect(c.get('static.b.GET.200')).toBe(1);
    expect(c.get('pipe.GET.none')).toBe(1);
    expect([...c.keys()].filter((k) => k.includes('http') || k.includes('127_0_0_1'))).toEqual([]);
  });

  it('the default log: requests, statuses and methods; no timers and no cache counters', async () => {
    const path = join(tmp.dir, 'default.log');
    copyFileSync(DEFAULT, path);
    const i = instance({ path, format: 'varnishncsa', name: 'd' }, { stateDir: tmp.dir });
    await i.integ.once();
    const t = totals(i, 'd');
    expect([t['requests'], t['unparsed'], t['status.none'], t['method.GET']]).toEqual([17, 0, 1, 17]);
    expect(Object.keys(t).filter((k) => k.startsWith('cache.'))).toEqual([]);
    expect(i.sink.timings().size).toBe(0);
  });

  it('hitmiss alone: cache.hit and cache.miss every flush, zeros included', async () => {
    const path = join(tmp.dir, 'hm.log');
    copyFileSync(EXTENDED, path);
    const i = instance({ path, format: '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i" %D %{Varnish:time_firstbyte}x %{Varnish:side}x %{Varnish:hitmiss}x', name: 'h' }, { stateDir: tmp.dir });
    await i.integ.once();
    const t = totals(i, 'h');
    expect(Object.fromEntries(Object.entries(t).filter(([k]) => k.startsWith('cache.')))).toEqual({ 'cache.hit': 2, 'cache.miss': 15 });
  });
});
