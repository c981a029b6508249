/**
 * The live page's HTTP server under idle and half-sent connections (issue 18, degraded): a
 * connection cap, header and idle timeouts, and on a non-loopback bind the token for the page
 * itself. Real sockets on 127.0.0.1 only; the non-loopback rule is checked on the gate function
 * (binding a public address in a test is not allowed here).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPage } from '../gate.js';
import { PAGE_CONNECTIONS, type LiveTuning } from '../hub.js';
import { startHub, until, type RunningHub } from './harness.js';

const TOKEN = 'a-test-token-of-enough-length';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface RawConn {
  socket: net.Socket;
  closed: boolean;
  data: string;
}

/** Opens a raw TCP connection and writes `text` (possibly half a request). */
function raw(port: number, text: string): Promise<RawConn> {
  return new Promise((resolve) => {
    const c: RawConn = { socket: net.connect(port, '127.0.0.1'), closed: false, data: '' };
    c.socket.on('error', () => undefined);
    c.socket.on('data', (d) => (c.data += d.toString()));
    c.socket.on('close', () => (c.closed = true));
    cleanups.push(() => c.socket.destroy());
    c.socket.on('connect', () => {
      if (text) c.socket.write(text);
      resolve(c);
    });
    // A connection dropped at accept may close before or instead of 'connect' completing here.
    c.socket.on('close', () => resolve(c));
  });
}

async function hub(over: Record<string, unknown>, tuning: LiveTuning): Promise<RunningHub> {
  const h = await startHub(over, { tuning });
  cleanups.push(() => h.stop());
  return h;
}

function fullGet(port: number): Promise<string> {
  return raw(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`).then(async (c) => {
    await until(() => c.closed, 5000, 'the response');
    return c.data;
  });
}

describe('live page HTTP server limits', () => {
  it('caps connections (the rest are dropped and counted) and closes half-sent requests at the header timeout', async () => {
    const h = await hub({ max_clients: 1 }, { headersTimeoutMs: 300, idleTimeoutMs: 60_000 });
    const cap = 1 + PAGE_CONNECTIONS;
    const conns: RawConn[] = [];
    for (let i = 0; i < cap + 60; i++) conns.push(await raw(h.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${h.port}\r\nX-Slow: `));
    await until(() => (h.hub.stats().rejected.connections ?? 0) >= 60, 5000, 'connections past the cap to be dropped');
    expect(h.hub.stats().rejected.connections).toBe(60);
    // Every half-sent request is closed by the server (408 or a plain close), none hangs on.
    await until(() => conns.every((c) => c.closed), 10_000, 'every half-sent request to be closed');
    // And the page still loads for a real client afterwards.
    expect(await fullGet(h.port)).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('closes a connection that sends nothing at the idle timeout', async () => {
    const h = await hub({}, { headersTimeoutMs: 60_000, idleTimeoutMs: 300 });
    const silent = await raw(h.port, '');
    await until(() => silent.closed, 10_000, 'the silent connection to be closed');
    expect(silent.data).toBe('');
  });

  it('on loopback the page stays open without the token (the socket still needs it)', async () => {
    const h = await hub({ token: TOKEN }, {});
    expect(await fullGet(h.port)).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('checkPage: the token guards the page on a non-loopback bind', () => {
  const cfg = { listenHost: '0.0.0.0', token: TOKEN, allowedHosts: ['telltale.example.com'] };
  const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const req = (headers: Record<string, string>): { url: string; headers: Record<string, string> } => ({ url: '/', headers });

  it('no credentials or a wrong password: 401 page_token; the token as the password: in', () => {
    expect(checkPage(req({ host: 'telltale.example.com:8089' }), cfg)).toEqual({ ok: false, status: 401, reason: 'page_token' });
    expect(checkPage(req({ host: 'telltale.example.com:8089', authorization: basic('x', 'wrong') }), cfg)).toEqual({ ok: false, status: 401, reason: 'page_token' });
    expect(checkPage(req({ host: 'telltale.example.com:8089', authorization: 'Bearer ' + TOKEN }), cfg)).toEqual({ ok: false, status: 401, reason: 'page_token' });
    expect(checkPage(req({ host: 'telltale.example.com:8089', authorization: basic('', TOKEN) }), cfg)).toEqual({ ok: true });
    expect(checkPage(req({ host: 'telltale.example.com:8089', authorization: basic('anyone', TOKEN) }), cfg)).toEqual({ ok: true });
  });

  it('the Host check comes first (403), and a loopback Host on a public bind still needs the token', () => {
    expect(checkPage(req({ host: 'evil.example', authorization: basic('', TOKEN) }), { ...cfg, allowedHosts: ['x'], listenHost: '192.0.2.10' })).toEqual({ ok: false, status: 403, reason: 'host' });
    expect(checkPage(req({ host: '127.0.0.1:8089' }), cfg)).toEqual({ ok: false, status: 401, reason: 'page_token' });
  });

  it('a loopback bind keeps the page open, token or not', () => {
    expect(checkPage(req({ host: '127.0.0.1:8089' }), { ...cfg, listenHost: '127.0.0.1' })).toEqual({ ok: true });
    expect(checkPage(req({ host: 'localhost:8089' }), { ...cfg, listenHost: '::1', token: undefined })).toEqual({ ok: true });
  });
});
