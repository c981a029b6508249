/**
 * The send path to one page: a page that reads slower than batches arrive has them skipped
 * (counted as dropped.slow_client) and gets one fresh hello once it has drained; a page that
 * stays above the high-water mark for stallMs is disconnected. Nothing queues without bound.
 */
import { WebSocket } from 'ws';
import type { Logger } from '../core/log/logger.js';
import type { SinkStats } from '../emitter/types.js';

export interface Client {
  ws: WebSocket;
  alive: boolean;
  needsResync: boolean;
  /** When the client went above the high-water mark (undefined: it is not). */
  overSince: number | undefined;
  /** Bytes of the last hello: it may legitimately still sit in the buffer. */
  helloBytes: number;
}

export interface DeliveryDeps {
  tuning: { highWaterBytes: number; lowWaterBytes: number; stallMs: number };
  stats: { peakBuffered: number; terminated: number; resyncs: number; skippedBatches: number };
  sinkStats: SinkStats;
  log: Logger;
  send(c: Client, data: string): void;
  sendHello(c: Client): void;
}

export function deliver(c: Client, batch: string, at: number, d: DeliveryDeps): void {
  const { tuning, stats, sinkStats, log, send, sendHello } = d;
  if (c.ws.readyState !== WebSocket.OPEN) return;
  const buffered = c.ws.bufferedAmount;
  if (buffered > stats.peakBuffered) stats.peakBuffered = buffered;
  const high = tuning.highWaterBytes + c.helloBytes;
  if (buffered > high) {
    c.overSince ??= at;
    if (at - c.overSince > tuning.stallMs) {
      log.warn('live page not reading: disconnecting', { buffered });
      stats.terminated++;
      c.ws.terminate();
      return;
    }
  } else c.overSince = undefined;
  if (c.needsResync) {
    if (buffered <= tuning.lowWaterBytes) {
      c.needsResync = false;
      stats.resyncs++;
      sendHello(c);
    } else {
      stats.skippedBatches++;
      sinkStats.dropped['slow_client'] = (sinkStats.dropped['slow_client'] ?? 0) + 1;
    }
    return;
  }
  if (buffered > high) {
    c.needsResync = true;
    stats.skippedBatches++;
    sinkStats.dropped['slow_client'] = (sinkStats.dropped['slow_client'] ?? 0) + 1;
    return;
  }
  c.helloBytes = 0;
  send(c, batch);
}
