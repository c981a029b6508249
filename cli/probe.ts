/**
 * `telltale check` sink probes: a TCP/unix connect for stream sinks; for UDP a probe line and a
 * short wait for ICMP port-unreachable (UDP can never confirm delivery, and the output says so).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { SinkConfig } from '../shared/core/config/emitter-config.js';
import { formatAddress, udpSocketType, type Address } from '../shared/emitter/address.js';
import { sinkLabel } from '../shared/core/runtime/sinks.js';

export interface ProbeResult {
  label: string;
  ok: boolean;
  detail: string;
}

function probeStream(a: Exclude<Address, { transport: 'udp' }>, timeoutMs: number): Promise<ProbeResult['detail'] | undefined> {
  return new Promise((resolve) => {
    const s = a.transport === 'unix' ? net.createConnection({ path: a.path }) : net.createConnection({ host: a.host, port: a.port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(`no answer within ${timeoutMs}ms`);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.end();
      resolve(undefined);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      resolve(e.message);
    });
  });
}

function probeUdp(host: string, port: number, waitMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(udpSocketType(host));
    let done = false;
    const finish = (r: string | undefined): void => {
      if (done) return;
      done = true;
      s.close();
      resolve(r);
    };
    s.on('error', (e) => finish(e.message));
    s.connect(port, host, () => {
      // A zero counter changes nothing in statsd but provokes ECONNREFUSED if nobody listens.
      s.send('telltale.check:0|c', (e) => {
        if (e) return finish(e.message);
        s.send('telltale.check:0|c', (e2) => (e2 ? finish(e2.message) : undefined));
        setTimeout(() => finish(undefined), waitMs);
      });
    });
  });
}

/** GET <url>get_data?from=-1min: graphite-web answers 200 without storing anything. */
async function probeEvents(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const probe = new URL('get_data?from=-1min', url.endsWith('/') ? url : `${url}/`);
    const res = await fetch(probe, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    await res.arrayBuffer();
    return res.ok ? undefined : `GET ${probe.pathname}: HTTP ${res.status}`;
  } catch (e) {
    return (e as Error).message;
  }
}

export async function probeSinks(sinks: readonly SinkConfig[], timeoutMs = 2000): Promise<ProbeResult[]> {
  return Promise.all(
    sinks.map(async (c): Promise<ProbeResult[]> => {
      const label = sinkLabel(c);
      if (c.type === 'console') return [{ label, ok: true, detail: 'prints to stderr' }];
      if (c.type === 'graphite_events') {
        const err = await probeEvents(c.url, timeoutMs);
        return [err ? { label, ok: false, detail: err } : { label, ok: true, detail: 'events/get_data answered' }];
      }
      if (c.type === 'graphite') {
        // Every destination of a list: a dead standby is worth knowing before it is needed.
        return Promise.all(
          c.address.map(async (d): Promise<ProbeResult> => {
            const err = await probeStream(d.address, timeoutMs);
            const one = `graphite ${formatAddress(d.address)}`;
            return err ? { label: one, ok: false, detail: err } : { label: one, ok: true, detail: 'connected' };
          }),
        );
      }
      const a = c.address;
      if (a.transport === 'udp') {
        const err = await probeUdp(a.host, a.port, 300);
        return err
          ? [{ label, ok: false, detail: err }]
          : [{ label, ok: true, detail: 'probe sent, no ICMP error (UDP cannot confirm delivery)' }];
      }
      const err = await probeStream(a, timeoutMs);
      return [err ? { label, ok: false, detail: err } : { label, ok: true, detail: 'connected' }];
    }),
  ).then((r) => r.flat());
}
