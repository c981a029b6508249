/**
 * supervisord's XML-RPC over its unix socket (`unix:///run/supervisor.sock`) or HTTP
 * (`http://127.0.0.1:9001`), as `SUPERVISOR_SERVER_URL` gives it to every child.
 */
import { request } from 'node:http';
import type { ProcessInfo } from './model.js';
import { buildCall, parseResponse, XmlRpcError, type XmlRpcValue } from './xmlrpc.js';

export interface RpcTarget {
  socketPath?: string;
  host?: string;
  port?: number;
  /** For messages. */
  url: string;
}

/** Parses `unix:///path` or `http://host[:port]`; returns a message for anything else. */
export function parseServerUrl(url: string): RpcTarget | string {
  if (url.startsWith('unix://')) {
    const path = url.slice('unix://'.length);
    return path.startsWith('/') ? { socketPath: path, url } : `unix socket URL needs an absolute path: ${url}`;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL: ${url}`;
  }
  if (u.protocol !== 'http:') return `unsupported supervisord URL scheme ${u.protocol} (use unix:// or http://): ${url}`;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 80, url };
}

export async function callRpc(
  target: RpcTarget,
  method: string,
  o: { username?: string | undefined; password?: string | undefined; timeoutMs: number; signal?: AbortSignal },
): Promise<XmlRpcValue> {
  const body = Buffer.from(buildCall(method), 'utf8');
  const headers: Record<string, string | number> = { 'Content-Type': 'text/xml', 'Content-Length': body.length };
  if (o.username !== undefined) headers['Authorization'] = `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}`;
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        ...(target.socketPath !== undefined ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
        path: '/RPC2',
        method: 'POST',
        headers,
        timeout: o.timeoutMs,
        ...(o.signal ? { signal: o.signal } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const t = Buffer.concat(parts).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`${target.url}: HTTP ${res.statusCode ?? '?'} for ${method}${res.statusCode === 401 ? ' (set SUPERVISOR_USERNAME/SUPERVISOR_PASSWORD with environment= in the [eventlistener] section)' : ''}`));
          else resolve(t);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${target.url}: no answer to ${method} within ${o.timeoutMs}ms`)));
    req.on('error', reject);
    req.end(body);
  });
  return parseResponse(text);
}

/** Reads `getAllProcessInfo`'s list into ProcessInfo, rejecting anything not shaped like it. */
export function toProcessInfos(v: XmlRpcValue): ProcessInfo[] {
  if (!Array.isArray(v)) throw new XmlRpcError('getAllProcessInfo did not return a list');
  return v.map((x, i) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new XmlRpcError(`getAllProcessInfo item ${i} is not a struct`);
    const name = x['name'];
    const group = x['group'];
    const statename = x['statename'];
    if (typeof name !== 'string' || typeof group !== 'string' || typeof statename !== 'string') {
      throw new XmlRpcError(`getAllProcessInfo item ${i} lacks name/group/statename`);
    }
    return {
      name,
      group,
      statename,
      start: typeof x['start'] === 'number' ? x['start'] : 0,
      now: typeof x['now'] === 'number' ? x['now'] : 0,
    };
  });
}
