import { describe, expect, it } from 'vitest';
import { validate } from '../schema.js';
import { checkLiveConfig, isLoopbackHost, liveSchema, parseListen } from '../live-config.js';

describe('liveSchema', () => {
  it('defaults to off, loopback, 10 min of 1 s buckets, 500 series, 20 clients', () => {
    const r = validate(liveSchema, undefined);
    expect(r).toEqual({
      value: {
        enabled: false,
        listen: '127.0.0.1:8089',
        token: undefined,
        allowed_hosts: [],
        history: 600_000,
        flush: 1000,
        max_series: 500,
        max_clients: 20,
      },
    });
  });

  it('reports every bad key by path, unknown keys included', () => {
    const r = validate(liveSchema, { listen: 'localhost', history: 'ten', max_series: 0, tokn: 'x' }, ['live']);
    expect('issues' in r).toBe(true);
    if (!('issues' in r)) return;
    const byPath = Object.fromEntries(r.issues.map((i) => [i.path.join('.'), i.message]));
    expect(byPath['live.listen']).toMatch(/host:port/);
    expect(byPath['live.history']).toMatch(/duration/);
    expect(byPath['live.max_series']).toMatch(/integer >= 1|from 1/);
    expect(byPath['live.tokn']).toMatch(/did you mean "token"/);
  });

  it('rejects a port past 65535 and a short token', () => {
    const r = validate(liveSchema, { listen: '127.0.0.1:70000', token: 'short' });
    if (!('issues' in r)) throw new Error('expected issues');
    expect(r.issues.map((i) => i.path.join('.')).sort()).toEqual(['listen', 'token']);
  });
});

describe('checkLiveConfig', () => {
  it('accepts loopback binds without a token', () => {
    for (const listen of ['127.0.0.1:8089', 'localhost:1', '[::1]:8089', '127.1.2.3:0']) {
      expect(checkLiveConfig({ listen, token: undefined }), listen).toBeUndefined();
    }
  });

  it('refuses a non-loopback bind without a token, and explains the way out', () => {
    for (const listen of ['0.0.0.0:8089', '[::]:8089', '10.0.0.5:8089', 'myhost.example:8089']) {
      expect(checkLiveConfig({ listen, token: undefined }), listen).toMatch(/not loopback.*token.*SSH tunnel/);
    }
    expect(checkLiveConfig({ listen: '0.0.0.0:8089', token: 'a-long-enough-secret' })).toBeUndefined();
  });

  it('parses listen addresses and knows loopback names', () => {
    expect(parseListen('[::1]:8089')).toEqual({ host: '::1', port: 8089 });
    expect(parseListen('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.evil.example')).toBe(false);
    expect(isLoopbackHost('localhost.evil.example')).toBe(false);
  });
});
