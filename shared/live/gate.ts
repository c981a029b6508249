/**
 * Who may open the live socket, decided from the upgrade request alone, before any WebSocket
 * state exists (ws README, "Client authentication"). Pure, so every rule has a unit test.
 *
 * Order: path, Host, Origin, token, then the client cap, so a stranger cannot learn whether the
 * page is full.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../core/config/live-config.js';

/** The one application protocol; the page always offers it next to the token. */
export const LIVE_PROTOCOL = 'telltale-live.v1';
/** Prefix of the subprotocol carrying base64url(token): browsers cannot set Authorization on a WebSocket. */
export const TOKEN_PROTOCOL_PREFIX = 'token.';
export const LIVE_PATH = '/live';

export interface GateConfig {
  /** The bind host as configured (brackets removed). */
  listenHost: string;
  token: string | undefined;
  allowedHosts: readonly string[];
  maxClients: number;
}

/**
 * `page_token`: a page request on a non-loopback bind without the token; `connections`: the
 * HTTP server's connection cap (counted by the hub, not decided here).
 */
export type RejectReason = 'path' | 'host' | 'origin' | 'token' | 'clients' | 'page_token' | 'connections';

export type GateResult = { ok: true } | { ok: false; status: number; reason: RejectReason };

export type UpgradeRequest = Pick<IncomingMessage, 'url' | 'headers'>;

function header(req: UpgradeRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The name part of a Host header: `a:80` → `a`, `[::1]:80` → `::1`. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const i = h.lastIndexOf(':');
  return i >= 0 && h.indexOf(':') === i ? h.slice(0, i) : h;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * DNS rebinding defence: a page on evil.example that resolves to 127.0.0.1 still sends
 * `Host: evil.example`. Loopback names are fine on any port (SSH tunnels change the port).
 */
export function hostAllowed(host: string | undefined, cfg: Pick<GateConfig, 'listenHost' | 'token' | 'allowedHosts'>): boolean {
  if (!host) return false;
  const name = hostName(host);
  if (isLoopbackHost(name)) return true;
  if (!isWildcard(cfg.listenHost) && name === cfg.listenHost.toLowerCase()) return true;
  if (cfg.allowedHosts.some((h) => h.toLowerCase() === name)) return true;
  // A wildcard bind with a token and no names listed: the token is the gate (documented).
  return isWildcard(cfg.listenHost) && cfg.token !== undefined && cfg.allowedHosts.length === 0;
}

/** The subprotocols a client offered, in order. */
export function offeredProtocols(req: UpgradeRequest): string[] {
  const raw = header(req, 'sec-websocket-protocol');
  return raw ? raw.split(',').map((p) => p.trim()).filter(Boolean) : [];
}

export function encodeTokenProtocol(token: string): string {
  return TOKEN_PROTOCOL_PREFIX + Buffer.from(token, 'utf8').toString('base64url');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time on equal-length digests, so neither content nor length leaks through timing. */
export function tokenMatches(offered: readonly string[], token: string): boolean {
  const want = digest(token);
  let ok = false;
  for (const p of offered) {
    if (!p.startsWith(TOKEN_PROTOCOL_PREFIX)) continue;
    const got = Buffer.from(p.slice(TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
    if (timingSafeEqual(digest(got), want)) ok = true;
  }
  return ok;
}

export function checkHandshake(req: UpgradeRequest, clients: number, cfg: GateConfig): GateResult {
  const path = (req.url ?? '').split('?')[0];
  if (path !== LIVE_PATH) return { ok: false, status: 404, reason: 'path' };
  const host = header(req, 'host');
  if (!hostAllowed(host, cfg)) return { ok: false, status: 403, reason: 'host' };
  // Browsers do not apply CORS to WebSockets: only a same-origin page may connect. No Origin at
  // all means a non-browser client (curl, a script), which a cross-site page cannot be.
  const origin = header(req, 'origin');
  if (origin !== undefined) {
    const o = origin.toLowerCase();
    const h = (host ?? '').toLowerCase();
    if (o !== `http://${h}` && o !== `https://${h}`) return { ok: false, status: 403, reason: 'origin' };
  }
  if (cfg.token !== undefined && !tokenMatches(offeredProtocols(req), cfg.token)) return { ok: false, status: 403, reason: 'token' };
  if (clients >= cfg.maxClients) return { ok: false, status: 503, reason: 'clients' };
  return { ok: true };
}

/** Realm of the Basic challenge a browser shows for the page on a non-loopback bind. */
export const PAGE_REALM = 'telltale live';

/** The password of an `Authorization: Basic` header (the user name is ignored). */
function basicPassword(req: UpgradeRequest): string | undefined {
  const auth = header(req, 'authorization');
  if (!auth || !/^basic\s+/i.test(auth)) return undefined;
  const decoded = Buffer.from(auth.replace(/^basic\s+/i, '').trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/**
 * Who may fetch the page itself (HTML, script, info.json). Host first (DNS rebinding), then, on a
 * non-loopback bind, the token as the password of HTTP Basic auth: the browser asks for it with
 * its own dialog, scripts send `-u :TOKEN`. Loopback binds are reached only from this machine (or
 * an SSH tunnel) and keep the page open; the socket still needs the token when one is set.
 */
export function checkPage(req: UpgradeRequest, cfg: Pick<GateConfig, 'listenHost' | 'token' | 'allowedHosts'>): GateResult {
  if (!hostAllowed(header(req, 'host'), cfg)) return { ok: false, status: 403, reason: 'host' };
  if (cfg.token === undefined || isLoopbackHost(cfg.listenHost)) return { ok: true };
  const password = basicPassword(req);
  if (password === undefined || !timingSafeEqual(digest(password), digest(cfg.token))) return { ok: false, status: 401, reason: 'page_token' };
  return { ok: true };
}
