/**
 * The graphite sink's drop counts against what a receiver really got (issue 18 items 6, 7).
 * A loopback line receiver that can be killed and restarted on the same port; every line carries a
 * unique sequence number, so "missing" is exact and the counts are compared with it.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/servers.js';
import { createEmitter } from '../emitter.js';
import { createGraphiteSink } from '../graphite-sink.js';
import type { Sink } from '../types.js';

interface Receiver {
  port: number;
  seen: Set<number>;
  /** Connections open now. */
  readonly connections: number;
  /** Stop reading from accepted connections (a stalled carbon). */
  stall(): void;
  /** Kill: drop every connection (unread data is lost, the peer gets a reset) and stop listening. */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.kill();
});

async function receiver(): Promise<Receiver> {
  const seen = new Set<number>();
  const conns = new Set<net.Socket>();
  let stalled = false;
  let server: net.Server | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    stalled = false;
    const srv = net.createServer((s) => {
      conns.add(s);
      if (stalled) s.pause();
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          seen.add(Number(buf.slice(0, i).split(' ')[1]));
          buf = buf.slice(i + 1);
        }
      });
      s.on('error', () => undefined);
      s.on('close', () => conns.delete(s));
    });
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    port = (srv.address() as net.AddressInfo).port;
    server = srv;
  };
  await listen();
  const r: Receiver = {
    get port() {
      return port;
    },
    seen,
    get connections() {
      return conns.size;
    },
    stall() {
      stalled = true;
      for (const c of conns) c.pause();
    },
    async kill() {
      // resetAndDestroy: an RST, as a killed process with unread data produces.
      for (const c of conns) c.resetAndDestroy();
      conns.clear();
      const srv = server;
      server = undefined;
      if (srv) await new Promise((res) => srv.close(res));
    },
    restart: listen,
  };
  receivers.push(r);
  return r;
}

function sinkTo(port: number, o: { maxQueueLines: number; replayMaxLines?: number }): Sink {
  return createGraphiteSink({
    target: { address: { transport: 'tcp', host: '127.0.0.1', port } },
    flushIntervalMs: 1000,
    maxQueueLines: o.maxQueueLines,
    replayWindowMs: 60_000,
    ...(o.replayMaxLines !== undefined ? { replayMaxLines: o.replayMaxLines } : {}),
  });
}

function missing(seen: Set<number>, total: number): number {
  let n = 0;
  for (let i = 0; i < total; i++) if (!seen.has(i)) n++;
  return n;
}

describe('graphite sink drop accounting', () => {
  /** Lines of item 6: more than the replay cap, few enough (~650 KB) to sit in loopback buffers. */
  const TOTAL = 26_000;

  it('item 7: receiver down longer than the queue holds: dropped.overflow equals the lines that never arrived', async () => {
    const rx = await receiver();
    const sink = sinkTo(rx.port, { maxQueueLines: 1000 });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    const ts = Math.floor(Date.now() / 1000);
    // Phase 1: 3,000 lines delivered and read (they sit in the replay buffer afterwards), sent in
    // slices the 1,000-line queue holds.
    for (let i = 0; i < 3000; i += 500) {
      for (let j = i; j < i + 500; j++) e.datapoint('acct.seq', j, ts);
      await until(() => sink.stats().queued === 0, 20_000, 'a slice to be written');
    }
    await until(() => rx.seen.size === 3000, 20_000, 'phase 1 delivered');
    expect(sink.stats().dropped).toEqual({});
    await rx.kill();
    await until(() => sink.stats().errors > 0, 20_000, 'the sink to notice the receiver is gone');
    // Phase 2: 5,000 lines while it is down; the queue keeps the newest 1,000.
    for (let i = 3000; i < 8000; i++) e.datapoint('acct.seq', i, ts);
    await rx.restart();
    await until(() => sink.stats().queued === 0 && rx.seen.size >= 4000, 40_000, 'reconnect and drain');
    await e.close({ timeoutMs: 5000 });
    const s = sink.stats();
    const lost = missing(rx.seen, 8000);
    expect(lost).toBe(4000);
    expect(s.dropped['overflow']).toBe(lost);
    // The replayed tail (already read once) was pushed out of the full queue: counted apart.
    expect(s.dropped['replay_overflow']).toBe(3000);
  });

  it('item 6: lines of the replay window cut by replay_max_lines are counted; together the counts equal what was lost', async () => {
    const rx = await receiver();
    // 20,000 was the hard-coded cap before replay_max_lines existed.
    const sink = sinkTo(rx.port, { maxQueueLines: 100_000, replayMaxLines: 20_000 });
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    await until(() => rx.connections === 1, 10_000, 'connect');
    // A carbon that stops reading, then dies: what it had not read is lost in the kernel.
    rx.stall();
    const ts = Math.floor(Date.now() / 1000);
    for (let i = 0; i < TOTAL; i++) e.datapoint('acct.seq', i, ts);
    await until(() => sink.stats().sent === TOTAL, 20_000, 'every line handed to the kernel');
    await rx.kill();
    await until(() => sink.stats().errors > 0, 20_000, 'the sink to notice');
    await rx.restart();
    await until(() => sink.stats().queued === 0 && rx.seen.size >= 20_000, 40_000, 'reconnect and replay');
    await e.close({ timeoutMs: 5000 });
    const s = sink.stats();
    const lost = missing(rx.seen, TOTAL);
    expect(lost).toBe(TOTAL - 20_000);
    expect(s.dropped['replay_overflow']).toBe(lost);
    expect((s.dropped['overflow'] ?? 0) + (s.dropped['replay_overflow'] ?? 0)).toBe(lost);
  });
});
