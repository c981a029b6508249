import { describe, expect, it } from 'vitest';
import { checkHandshake, encodeTokenProtocol, hostAllowed, hostName, LIVE_PROTOCOL, type GateConfig } from '../gate.js';

const open: GateConfig = { listenHost: '127.0.0.1', token: undefined, allowedHosts: [], maxClients: 2 };
const TOKEN = 'correct horse battery staple';
const guarded: GateConfig = { ...open, token: TOKEN };

function req(headers: Record<string, string>, url = '/live') {
  return { url, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) };
}

describe('checkHandshake', () => {
  const h = { Host: '127.0.0.1:8089', Origin: 'http://127.0.0.1:8089' };

  it('lets a same-origin page in', () => {
    expect(checkHandshake(req(h), 0, open)).toEqual({ ok: true });
    expect(checkHandshake(req({ Host: 'localhost:9000', Origin: 'http://localhost:9000' }), 0, open)).toEqual({ ok: true });
  });

  it('lets a non-browser client (no Origin) in', () => {
    expect(checkHandshake(req({ Host: '127.0.0.1:8089' }), 0, open)).toEqual({ ok: true });
  });

  it('refuses other paths with 404', () => {
    expect(checkHandshake(req(h, '/other'), 0, open)).toEqual({ ok: false, status: 404, reason: 'path' });
  });

  it('refuses a cross-site Origin with 403', () => {
    const r = checkHandshake(req({ ...h, Origin: 'http://evil.example' }), 0, open);
    expect(r).toEqual({ ok: false, status: 403, reason: 'origin' });
    // Same host, other port: another origin.
    expect(checkHandshake(req({ ...h, Origin: 'http://127.0.0.1:9999' }), 0, open)).toMatchObject({ reason: 'origin' });
    expect(checkHandshake(req({ ...h, Origin: 'null' }), 0, open)).toMatchObject({ reason: 'origin' });
  });

  it('refuses a rebound DNS name (Host not loopback) with 403, even when Origin matches it', () => {
    const r = checkHandshake(req({ Host: 'evil.example:8089', Origin: 'http://evil.example:8089' }), 0, open);
    expect(r).toEqual({ ok: false, status: 403, reason: 'host' });
    expect(checkHandshake(req({}), 0, open)).toMatchObject({ reason: 'host' });
  });

  it('needs the token when one is set: missing or wrong is 403, right is in', () => {
    expect(checkHandshake(req({ ...h, 'Sec-WebSocket-Protocol': LIVE_PROTOCOL }), 0, guarded)).toEqual({ ok: false, status: 403, reason: 'token' });
    const wrong = `${LIVE_PROTOCOL}, ${encodeTokenProtocol('wrong horse battery staple')}`;
    expect(checkHandshake(req({ ...h, 'Sec-WebSocket-Protocol': wrong }), 0, guarded)).toMatchObject({ reason: 'token' });
    const prefix = `${LIVE_PROTOCOL}, ${encodeTokenProtocol(TOKEN.slice(0, -1))}`;
    expect(checkHandshake(req({ ...h, 'Sec-WebSocket-Protocol': prefix }), 0, guarded)).toMatchObject({ reason: 'token' });
    const right = `${LIVE_PROTOCOL}, ${encodeTokenProtocol(TOKEN)}`;
    expect(checkHandshake(req({ ...h, 'Sec-WebSocket-Protocol': right }), 0, guarded)).toEqual({ ok: true });
  });

  it('applies the client cap last, with 503, so strangers learn nothing', () => {
    expect(checkHandshake(req(h), 2, open)).toEqual({ ok: false, status: 503, reason: 'clients' });
    expect(checkHandshake(req({ ...h, Origin: 'http://evil.example' }), 2, open)).toMatchObject({ status: 403 });
  });
});

describe('hostAllowed', () => {
  it('accepts loopback names on any port (SSH tunnels move the port) and the bind host', () => {
    expect(hostAllowed('[::1]:8089', open)).toBe(true);
    expect(hostAllowed('LOCALHOST:1234', open)).toBe(true);
    expect(hostAllowed('10.0.0.5:8089', { ...guarded, listenHost: '10.0.0.5' })).toBe(true);
    expect(hostAllowed('10.0.0.6:8089', { ...guarded, listenHost: '10.0.0.5' })).toBe(false);
  });

  it('accepts allowed_hosts, and on a wildcard bind with a token and no list lets the token decide', () => {
    expect(hostAllowed('metrics.example:8089', { ...guarded, listenHost: '0.0.0.0', allowedHosts: ['metrics.example'] })).toBe(true);
    expect(hostAllowed('other.example:8089', { ...guarded, listenHost: '0.0.0.0', allowedHosts: ['metrics.example'] })).toBe(false);
    expect(hostAllowed('any.example:8089', { ...guarded, listenHost: '0.0.0.0' })).toBe(true);
    expect(hostAllowed('any.example:8089', { ...open, listenHost: '0.0.0.0' })).toBe(false);
  });

  it('splits host names from ports', () => {
    expect(hostName('[::1]:80')).toBe('::1');
    expect(hostName('example.com')).toBe('example.com');
    expect(hostName('Example.com:80')).toBe('example.com');
  });
});
