/**
 * A receiver that stops reading (carbon with flow control, or SIGSTOPped): the sink must wait
 * for 'drain' instead of buffering without bound, keep at most max_queue_lines, drop the oldest
 * (counted), and deliver everything still queued once the receiver reads again.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/servers.js';
import { createEmitter } from '../emitter.js';
import { createGraphiteSink } from '../graphite-sink.js';

describe('graphite sink back-pressure', () => {
  it('stops at write() === false, bounds its queue, and delivers the rest after drain', async () => {
    let received = 0;
    let lastValue = -1;
    let conn: net.Socket | undefined;
    let buf = '';
    const server = net.createServer((s) => {
      conn = s;
      s.pause(); // a receiver that does not read
      s.on('data', (d) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          lastValue = Number(buf.slice(0, i).split(' ')[1]);
          buf = buf.slice(i + 1);
          received++;
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const sink = createGraphiteSink({ target: { address: { transport: 'tcp', host: '127.0.0.1', port } }, flushIntervalMs: 1000, maxQueueLines: 10_000, replayWindowMs: 0 });
      const e = createEmitter({ sinks: [sink], selfMetrics: false });
      await until(() => conn !== undefined, 5000, 'connection');
      const ts = Math.floor(Date.now() / 1000);
      const total = 400_000;
      // Push in slices so the event loop runs the writer between them.
      for (let i = 0; i < total; i += 10_000) {
        for (let j = i; j < i + 10_000; j++) e.datapoint('bp.seq', j, ts);
        await new Promise((r) => setImmediate(r));
      }
      const s = sink.stats();
      expect(s.queued).toBeLessThanOrEqual(10_000);
      expect(s.dropped['overflow'] ?? 0).toBeGreaterThan(0);
      // Handed to the socket + still queued + dropped = everything, nothing unaccounted.
      expect(s.sent + s.queued + (s.dropped['overflow'] ?? 0)).toBe(total);
      conn!.resume();
      await until(() => sink.stats().queued === 0, 20_000, 'queue to drain');
      await e.close({ timeoutMs: 10_000 });
      await until(() => received === sink.stats().sent, 20_000, `receiver to get all ${sink.stats().sent} lines (has ${received})`);
      expect(lastValue).toBe(total - 1);
    } finally {
      conn?.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
