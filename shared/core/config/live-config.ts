/**
 * The `live:` section of integrations.yaml: a local page that draws every emitted metric.
 * Off by default; loopback by default; a non-loopback bind needs a token (see README "Threat model").
 */
import { bool, duration, int, list, obj, str, type Infer } from './schema.js';

const LISTEN = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/;

export const liveSchema = obj({
  /** Serve the live page. Off unless asked for: it is an HTTP listener. */
  enabled: bool().default(false).describe('serve the live page'),
  /**
   * `host:port` to bind. Loopback (127.0.0.1, ::1, localhost) by default; reach it from another
   * machine through an SSH tunnel rather than binding publicly. Port 0 picks a free port.
   */
  listen: str({ pattern: LISTEN, patternHint: 'host:port like 127.0.0.1:8089 or [::1]:8089' })
    .refine((v) => {
      const port = Number(v.slice(v.lastIndexOf(':') + 1));
      return port <= 65_535 ? undefined : `port out of range (0..65535), got ${port}`;
    })
    .default('127.0.0.1:8089')
    .describe('host:port to bind (loopback by default)'),
  /**
   * Shared secret the page sends in Sec-WebSocket-Protocol (never in the URL). Required when
   * `listen` is not loopback. Use ${ENV_VAR} interpolation rather than writing it in the file.
   */
  token: str({ nonEmpty: true })
    .refine((v) => (v.length >= 16 ? undefined : 'token too short: use at least 16 characters'))
    .optional()
    .describe('shared secret for the page; required for a non-loopback listen'),
  /**
   * Extra Host header names the page may be reached by (for a non-loopback bind behind a DNS
   * name). Loopback names are always accepted; anything else is refused (DNS rebinding).
   */
  allowed_hosts: list(str({ nonEmpty: true })).default([]).describe('extra Host names accepted'),
  /** How much history a page receives on connect (and keeps). */
  history: duration({ minMs: 10_000, maxMs: 24 * 3_600_000 }).default(600_000).describe('history kept and sent on connect'),
  /** Bucket width: one batch per flush goes to every page. */
  flush: duration({ minMs: 50, maxMs: 60_000 }).default(1000).describe('bucket width and push interval'),
  /** Cardinality guard: series past this many are refused (and counted), never silently. */
  max_series: int({ min: 1, max: 100_000 }).default(500).describe('most series the page tracks'),
  /** Connection cap: the next page gets HTTP 503. */
  max_clients: int({ min: 1, max: 1000 }).default(20).describe('most pages connected at once'),
});

export type LiveConfig = Infer<typeof liveSchema>;

export interface ListenAddress {
  host: string;
  port: number;
}

/** Splits `host:port` / `[v6]:port`; the brackets are removed from the host. */
export function parseListen(listen: string): ListenAddress {
  const i = listen.lastIndexOf(':');
  let host = listen.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(listen.slice(i + 1)) };
}

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Cross-key rule the schema cannot express: a non-loopback bind without a token would publish
 * every metric to the network. Returns the message for the `live.listen` key, or undefined.
 */
export function checkLiveConfig(cfg: Pick<LiveConfig, 'listen' | 'token'>): string | undefined {
  const { host } = parseListen(cfg.listen);
  if (isLoopbackHost(host) || cfg.token !== undefined) return undefined;
  return (
    `listen ${cfg.listen} is not loopback and no token is set: set live.token (e.g. token: \${TELLTALE_LIVE_TOKEN}) ` +
    'or bind 127.0.0.1 and reach the page through an SSH tunnel (see shared/live/README.md)'
  );
}
