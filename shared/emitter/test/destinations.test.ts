/**
 * Several destinations behind one graphite sink, on loopback line servers that can die and come
 * back on their port: failover carries the queue and the replay tail across a switch and returns
 * to the preferred destination; hash routing never re-hashes a dead destination's share.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/servers.js';
import { createHashRing } from '../carbon-hash.js';
import { createDestinationSet, type DestinationSet } from '../destinations.js';

interface Server {
  port: number;
  lines: string[];
  up: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A line server that can be stopped (connections cut) and started again on the same port. */
async function lineServer(): Promise<Server> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const s: Server = {
    port: 0,
    lines: [],
    up: false,
    async start() {
      server = net.createServer((sock) => {
        sockets.add(sock);
        let buf = '';
        sock.on('data', (d) => {
          buf += d.toString();
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            s.lines.push(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        });
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
      });
      await new Promise<void>((r) => server!.listen(s.port, '127.0.0.1', r));
      s.port = (server.address() as net.AddressInfo).port;
      s.up = true;
    },
    async stop() {
      s.up = false;
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => server!.close(() => r()));
    },
  };
  await s.start();
  return s;
}

const sets: DestinationSet[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const d of sets.splice(0)) await d.close(100);
  for (const s of servers.splice(0)) if (s.up) await s.stop();
});

async function servers3(n: number): Promise<Server[]> {
  const out = await Promise.all(Array.from({ length: n }, () => lineServer()));
  servers.push(...out);
  return out;
}

function set(o: Parameters<typeof createDestinationSet>[0]): DestinationSet {
  const d = createDestinationSet(o);
  sets.push(d);
  return d;
}

const tcp = (s: Server) => ({ address: { transport: 'tcp' as const, host: '127.0.0.1', port: s.port } });
const connected = (d: DestinationSet, n: number) => until(() => Object.values(d.stats().destinations ?? {}).filter((x) => x.up).length === n, 5000, `${n} destinations connected`);

describe('failover', () => {
  it('moves what was in flight to the dead destination to the next one, then returns to the first', async () => {
    const [a, b] = await servers3(2);
    const errors: string[] = [];
    const d = set({ destinations: [tcp(a!), tcp(b!)], routing: 'failover', failbackMs: 300, maxQueueLines: 10_000, maxQueueBytes: 1 << 20, replayWindowMs: 10_000, backoffBaseMs: 50, backoffCapMs: 200, onError: (e) => errors.push(e.message) });
    await connected(d, 2);
    for (let i = 0; i < 100; i++) d.enqueue(`m.first ${i} ${1_700_000_000 + i}`);
    await until(() => a!.lines.length === 100, 5000, 'a has the first 100');
    expect(b!.lines).toEqual([]);

    await a!.stop();
    await until(() => d.active === 1, 5000, 'switch to b');
    for (let i = 0; i < 50; i++) d.enqueue(`m.second ${i} ${1_700_000_000 + i}`);
    // Everything a had acknowledged within the replay window is re-sent to b, before the new lines.
    await until(() => b!.lines.length === 150, 5000, 'b has the replayed tail and the new lines');
    expect(b!.lines.slice(0, 100)).toEqual(a!.lines);
    expect(b!.lines.slice(100)).toEqual(Array.from({ length: 50 }, (_, i) => `m.second ${i} ${1_700_000_000 + i}`));
    const s1 = d.stats();
    expect(s1.switches).toBe(1);
    expect(s1.destinations![`127.0.0.1:${a!.port}`]!.errors).toBeGreaterThan(0);
    expect(s1.destinations![`127.0.0.1:${b!.port}`]!.errors).toBe(0);
    expect(errors.some((e) => e.includes(`failover: now sending to 127.0.0.1:${b!.port}`))).toBe(true);

    // a comes back: after failback_after of good health it takes the traffic again.
    a!.lines.length = 0;
    await a!.start();
    await until(() => d.active === 0, 5000, 'back to a');
    d.enqueue('m.third 1 1700000000');
    await until(() => a!.lines.includes('m.third 1 1700000000'), 5000, 'a receives again');
    expect(b!.lines).not.toContain('m.third 1 1700000000');
    expect(d.stats().switches).toBe(2);
  });

  it('with every destination down the queue is bounded and counted, and drains into the first to return', async () => {
    const [a, b] = await servers3(2);
    const d = set({ destinations: [tcp(a!), tcp(b!)], routing: 'failover', failbackMs: 60_000, maxQueueLines: 100, maxQueueBytes: 1 << 20, replayWindowMs: 0, backoffBaseMs: 50, backoffCapMs: 200 });
    await connected(d, 2);
    await a!.stop();
    await b!.stop();
    await connected(d, 0);
    for (let i = 0; i < 250; i++) d.enqueue(`m.q ${i} ${1_700_000_000 + i}`);
    expect(d.stats().queued).toBe(100);
    expect(d.stats().dropped['overflow']).toBe(150);
    await b!.start();
    // The newest 100 survive and go to b, the only one up.
    await until(() => b!.lines.length === 100, 5000, 'b receives the queue');
    expect(b!.lines[0]).toBe('m.q 150 1700000150');
    expect(b!.lines[99]).toBe('m.q 249 1700000249');
    expect(d.active).toBe(1);
  });
});

describe('hash routing', () => {
  it("sends each line to carbon-c-relay's replicas; a dead destination's share waits for it, never re-hashed", async () => {
    const srv = await servers3(3);
    const dests = srv.map(tcp);
    const d = set({ destinations: dests, routing: 'fnv1a_ch', replication: 2, maxQueueLines: 10_000, maxQueueBytes: 1 << 20, replayWindowMs: 0, backoffBaseMs: 50, backoffCapMs: 200 });
    await connected(d, 3);
    const ring = createHashRing('fnv1a_ch', dests.map((x) => x.address));
    const names = Array.from({ length: 300 }, (_, i) => `fleet.host${i % 7}.metric${i}`);
    const expected = srv.map(() => [] as string[]);
    for (const n of names) for (const i of ring.pick(n, 2)) expected[i]!.push(`${n} 1 1700000000`);

    await srv[2]!.stop();
    await until(() => !d.stats().destinations![`127.0.0.1:${srv[2]!.port}`]!.up, 5000, 'third down');
    for (const n of names) d.enqueue(`${n} 1 1700000000`);
    await until(() => srv[0]!.lines.length === expected[0]!.length && srv[1]!.lines.length === expected[1]!.length, 5000, 'live destinations receive their share');
    expect(srv[0]!.lines).toEqual(expected[0]);
    expect(srv[1]!.lines).toEqual(expected[1]);
    expect(d.stats().destinations![`127.0.0.1:${srv[2]!.port}`]!.queued).toBe(expected[2]!.length);

    await srv[2]!.start();
    await until(() => srv[2]!.lines.length === expected[2]!.length, 5000, 'third receives its queued share');
    expect(srv[2]!.lines).toEqual(expected[2]);
    // Nothing went anywhere twice.
    expect(srv[0]!.lines.length + srv[1]!.lines.length + srv[2]!.lines.length).toBe(names.length * 2);
  });
});
