/**
 * Sink addresses: `udp://host:port`, `tcp://host:port`, `unix:///path/to.sock`.
 * A bare `host:port` takes the sink's default transport (udp for statsd, tcp for graphite).
 */
export type Address =
  | { transport: 'udp' | 'tcp'; host: string; port: number }
  | { transport: 'unix'; path: string };

export function parseAddress(text: string, defaultTransport: 'udp' | 'tcp', allowed: readonly Address['transport'][]): Address | string {
  const m = /^(?:([a-z]+):\/\/)?(.*)$/.exec(text.trim());
  const scheme = (m?.[1] ?? defaultTransport) as string;
  const rest = m?.[2] ?? '';
  if (!(allowed as readonly string[]).includes(scheme)) {
    return `unsupported transport "${scheme}://" here; use ${allowed.map((a) => `${a}://`).join(', ')}`;
  }
  if (scheme === 'unix') {
    if (!rest.startsWith('/')) return `expected an absolute socket path like unix:///run/statsd.sock, got "${text}"`;
    return { transport: 'unix', path: rest };
  }
  // [v6]:port or host:port
  const hp = /^\[([^\]]+)\]:(\d+)$/.exec(rest) ?? /^([^:/\s]+):(\d+)$/.exec(rest);
  if (!hp) return `expected ${scheme}://HOST:PORT, got "${text}"`;
  const port = Number(hp[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port must be 1-65535, got "${hp[2]}"`;
  return { transport: scheme as 'udp' | 'tcp', host: hp[1]!, port };
}

export function formatAddress(a: Address): string {
  return a.transport === 'unix' ? `unix://${a.path}` : `${a.transport}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/**
 * The UDP socket type for a host: only an IPv6 literal (the bracketed form) has a colon, while
 * a name resolves through udp4 as before. Not net.isIPv6: its first call compiles Node's IPv6
 * pattern, ~8 ms of a one-shot's start.
 */
export function udpSocketType(host: string): 'udp4' | 'udp6' {
  return host.includes(':') ? 'udp6' : 'udp4';
}
