/**
 * A persistent TCP or unix-stream connection that writes newline-terminated lines, for the
 * Graphite sink and the statsd sink's tcp:// and unix:// transports.
 *
 * - Bounded queue (lines and bytes); when full the OLDEST lines go, counted as `overflow`:
 *   during an outage the newest data is the most useful.
 * - Honours back-pressure: stops at `write() === false` and waits for 'drain'.
 * - Reconnects with full-jitter exponential backoff.
 * - Optional replay window: Node's write callback only means "handed to the kernel"; a carbon
 *   restart loses the last few hundred ms that were acknowledged. Graphite overwrites the same
 *   path+timestamp, so re-sending the recent tail after an unplanned disconnect is safe there
 *   (never for statsd counters, where replay would double count). The replay buffer holds at
 *   most `replayMaxLines`.
 *
 * Drop accounting (what `dropped` means, so the counts equal what was lost):
 * - `overflow`: lines never written, pushed out of the full queue. Certainly lost.
 * - `replay_overflow`: lines written once, inside the replay window, that were not re-sent after
 *   a disconnect: cut from the replay buffer by `replayMaxLines`, pushed out of the full queue
 *   ahead of fresh lines, or still queued at close. Lost if the receiver had not read them
 *   (a stalled or killed carbon), delivered otherwise: they are counted apart from `overflow` so
 *   neither count claims lines that arrived.
 */
import net from 'node:net';
import { countDrop, type SinkStats } from './types.js';
import { createLogThrottle, LOG_EVERY_MS } from './log-throttle.js';

export type StreamAddress = { transport: 'tcp'; host: string; port: number } | { transport: 'unix'; path: string };

export interface StreamTransportOptions {
  address: StreamAddress;
  stats: SinkStats;
  maxQueueLines?: number;
  maxQueueBytes?: number;
  /** Re-send lines written within this window after an unplanned disconnect (0 = off). */
  replayWindowMs?: number;
  /** At most this many lines are kept for replay; older lines in the window are counted when cut. */
  replayMaxLines?: number;
  connectTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  onError?: (err: Error) => void;
  onConnect?: () => void;
  /**
   * After every disconnect or failed connect, once the replay tail is back in the queue: a
   * failover owner takes the queue (takeQueued) to another destination.
   */
  onDown?: () => void;
  now?: () => number;
  random?: () => number;
}

export interface StreamTransport {
  /** Queue one line (without '\n'). */
  enqueue(line: string): void;
  /** Resolves when everything queued has been written (or after timeoutMs). */
  drain(timeoutMs: number): Promise<boolean>;
  close(timeoutMs: number): Promise<void>;
  /**
   * Remove and return every queued line, to send them elsewhere: `replayed` of them, at the
   * front, are replayed lines (written once already), so drops keep their exact reason.
   */
  takeQueued(): { lines: string[]; replayed: number };
  /** Put lines taken from another transport in front of this queue (bounded as any line). */
  prepend(lines: readonly string[], replayed: number): void;
  readonly connected: boolean;
}

const CHUNK_BYTES = 64 * 1024;

/** Default replay bound: the graphite sink's default queue, which a replay goes into. */
export const DEFAULT_REPLAY_MAX_LINES = 100_000;

export function createStreamTransport(o: StreamTransportOptions): StreamTransport {
  const stats = o.stats;
  const maxLines = o.maxQueueLines ?? 100_000;
  const maxBytes = o.maxQueueBytes ?? 16 * 1024 * 1024;
  const replayMs = o.replayWindowMs ?? 0;
  const replayMax = o.replayMaxLines ?? DEFAULT_REPLAY_MAX_LINES;
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const baseMs = o.backoffBaseMs ?? 250;
  const capMs = o.backoffCapMs ?? 30_000;

  let queue: string[] = [];
  let head = 0;
  let queuedBytes = 0;
  // Recently written lines and the time each was written, for replay after a disconnect; a
  // head index instead of shift()/slice() so trimming stays O(1) per line at any rate.
  let replayLines: string[] = [];
  let replayTimes: number[] = [];
  let replayHead = 0;
  // Lines cut from the replay buffer by replayMax, as (time written, count): at a disconnect the
  // ones still inside the window are the lines the replay should have re-sent and cannot.
  let cut: { t: number; n: number }[] = [];
  // How many lines at the front of the queue are replayed lines (written once already).
  let replayedQueued = 0;
  let socket: net.Socket | undefined;
  let connected = false;
  let connecting = false;
  let writing = false;
  let waitingDrain = false;
  let closing = false;
  let attempt = 0;
  let everConnected = false;
  const failureLog = createLogThrottle(LOG_EVERY_MS, now);
  let reconnectTimer: NodeJS.Timeout | undefined;
  const drainWaiters = new Set<() => void>();

  const queuedCount = (): number => queue.length - head;
  const updateQueued = (): void => {
    stats.queued = queuedCount();
  };

  const compact = (): void => {
    if (head > 4096 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };

  const notifyIfEmpty = (): void => {
    if (queuedCount() === 0 && (!socket || socket.writableLength === 0)) {
      for (const w of [...drainWaiters]) w();
    }
  };

  const dropOldest = (): void => {
    while (queuedCount() > 0 && (queuedCount() > maxLines || queuedBytes > maxBytes)) {
      const line = queue[head]!;
      queue[head] = '';
      head++;
      queuedBytes -= line.length + 1;
      if (replayedQueued > 0) {
        replayedQueued--;
        countDrop(stats, 'replay_overflow');
      } else countDrop(stats, 'overflow');
    }
    compact();
  };

  const replayCount = (): number => replayLines.length - replayHead;

  /** Keeps the replay buffer to the window and to replayMax lines; cap cuts are remembered. */
  const trimReplay = (t: number): void => {
    const since = t - replayMs;
    while (replayCount() > 0 && replayTimes[replayHead]! < since) replayHead++;
    while (replayCount() > replayMax) {
      const wt = replayTimes[replayHead]!;
      const last = cut[cut.length - 1];
      if (last?.t === wt) last.n++;
      else cut.push({ t: wt, n: 1 });
      replayHead++;
    }
    if (replayHead > 4096 && replayHead * 2 > replayLines.length) {
      replayLines = replayLines.slice(replayHead);
      replayTimes = replayTimes.slice(replayHead);
      replayHead = 0;
    }
    let old = 0;
    while (old < cut.length && cut[old]!.t < since) old++;
    if (old > 0) cut = cut.slice(old);
  };

  const pump = (): void => {
    if (!connected || !socket || writing || waitingDrain) return;
    writing = true;
    try {
      while (connected && queuedCount() > 0) {
        let chunk = '';
        let n = 0;
        const t = now();
        while (queuedCount() > 0 && chunk.length < CHUNK_BYTES) {
          const line = queue[head]!;
          queue[head] = '';
          head++;
          queuedBytes -= line.length + 1;
          chunk += line + '\n';
          n++;
          if (replayedQueued > 0) replayedQueued--;
          if (replayMs > 0) {
            replayLines.push(line);
            replayTimes.push(t);
          }
        }
        compact();
        stats.sent += n;
        stats.bytes += Buffer.byteLength(chunk);
        if (replayMs > 0) trimReplay(t);
        const more = socket.write(chunk);
        if (!more) {
          waitingDrain = true;
          socket.once('drain', () => {
            waitingDrain = false;
            pump();
          });
          break;
        }
      }
    } finally {
      writing = false;
      updateQueued();
    }
    notifyIfEmpty();
  };

  const scheduleReconnect = (): void => {
    if (closing || reconnectTimer) return;
    const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
    const delay = Math.max(50, Math.floor(random() * ceiling));
    attempt++;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      connect();
    }, delay);
    reconnectTimer.unref();
  };

  const onDown = (err?: Error): void => {
    if (err) {
      stats.errors++;
      stats.lastError = err.message;
      // Log the first failure of an outage, then at most one line a minute while it lasts.
      if (connected) failureLog.reset();
      const held = failureLog.pass();
      if (held !== undefined) o.onError?.(held > 0 ? new Error(`${err.message} (${held} more failures since the last report)`) : err);
    }
    const wasConnected = connected;
    connected = false;
    connecting = false;
    waitingDrain = false;
    if (socket) {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      socket = undefined;
    }
    if (wasConnected && replayMs > 0 && !closing) {
      // Put the recent tail back in front of the queue: at-least-once into Graphite.
      trimReplay(now());
      const tail = replayLines.slice(replayHead);
      // Written inside the window but already cut by replayMax: this replay cannot re-send them.
      let cutInWindow = 0;
      for (const c of cut) cutInWindow += c.n;
      if (cutInWindow > 0) countDrop(stats, 'replay_overflow', cutInWindow);
      if (tail.length > 0) {
        queue = [...tail, ...queue.slice(head)];
        head = 0;
        replayedQueued += tail.length;
        for (const l of tail) queuedBytes += l.length + 1;
        dropOldest();
        updateQueued();
      }
    }
    replayLines = [];
    replayTimes = [];
    replayHead = 0;
    cut = [];
    scheduleReconnect();
    o.onDown?.();
  };

  const connect = (): void => {
    if (closing || connected || connecting) return;
    connecting = true;
    const s =
      o.address.transport === 'unix'
        ? net.createConnection({ path: o.address.path })
        : net.createConnection({ host: o.address.host, port: o.address.port });
    socket = s;
    s.setNoDelay(true);
    const timer = setTimeout(() => onDown(new Error(`connect timeout to ${describe()}`)), o.connectTimeoutMs ?? 5000);
    timer.unref();
    s.once('connect', () => {
      clearTimeout(timer);
      connecting = false;
      connected = true;
      attempt = 0;
      if (everConnected) stats.reconnects++;
      everConnected = true;
      s.setKeepAlive(true, 10_000);
      o.onConnect?.();
      pump();
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      onDown(err);
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (socket === s) onDown(closing ? undefined : new Error(`connection to ${describe()} closed`));
    });
    // Carbon never talks back; reading keeps the socket from stalling if something does.
    s.on('data', () => undefined);
    s.unref();
  };

  const describe = (): string =>
    o.address.transport === 'unix' ? o.address.path : `${o.address.host}:${o.address.port}`;

  connect();

  return {
    get connected() {
      return connected;
    },
    takeQueued() {
      const lines = queue.slice(head);
      const replayed = Math.min(replayedQueued, lines.length);
      queue = [];
      head = 0;
      queuedBytes = 0;
      replayedQueued = 0;
      updateQueued();
      return { lines, replayed };
    },
    prepend(lines, replayed) {
      if (lines.length === 0) return;
      if (closing) {
        countDrop(stats, 'closed', lines.length - replayed);
        if (replayed > 0) countDrop(stats, 'replay_overflow', replayed);
        return;
      }
      // Replayed lines stay counted as such only while they are this queue's front run: if the
      // moved lines end in fresh ones, this queue's own replayed lines lose that mark (they are
      // then counted as overflow if pushed out; a switch normally finds this queue empty).
      replayedQueued = replayed + (replayed === lines.length ? replayedQueued : 0);
      queue = [...lines, ...queue.slice(head)];
      head = 0;
      for (const l of lines) queuedBytes += l.length + 1;
      dropOldest();
      updateQueued();
      if (connected && !writing && !waitingDrain) setImmediate(pump);
    },
    enqueue(line) {
      if (closing) {
        countDrop(stats, 'closed');
        return;
      }
      queue.push(line);
      queuedBytes += line.length + 1;
      if (queuedCount() > maxLines || queuedBytes > maxBytes) dropOldest();
      updateQueued();
      if (connected && !writing && !waitingDrain) setImmediate(pump);
    },
    drain(timeoutMs) {
      pump();
      if (queuedCount() === 0 && (!socket || socket.writableLength === 0)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean): void => {
          clearTimeout(timer);
          clearInterval(poll);
          drainWaiters.delete(onEmpty);
          resolve(ok);
        };
        const onEmpty = (): void => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        // writableLength shrinks without an event we can hook; poll it cheaply while waiting.
        const poll = setInterval(notifyIfEmpty, 20);
        drainWaiters.add(onEmpty);
      });
    },
    async close(timeoutMs) {
      if (closing) return;
      const ok = await this.drain(timeoutMs);
      closing = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      const left = queuedCount();
      if (!ok && left > 0) {
        const replayedLeft = Math.min(replayedQueued, left);
        if (replayedLeft > 0) countDrop(stats, 'replay_overflow', replayedLeft);
        if (left > replayedLeft) countDrop(stats, 'closed', left - replayedLeft);
      }
      replayedQueued = 0;
      queue = [];
      head = 0;
      queuedBytes = 0;
      updateQueued();
      const s = socket;
      if (s) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            s.destroy();
            resolve();
          }, Math.max(100, timeoutMs));
          t.unref();
          s.end(() => {
            clearTimeout(t);
            s.destroy();
            resolve();
          });
        });
      }
      connected = false;
    },
  };
}
