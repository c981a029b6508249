/**
 * The `graphite_events` sink: each event becomes a POST to graphite-web's `/events/` with the JSON
 * graphite-web 1.1 reads (`{"what", "tags": [..], "when": epoch, "data"}`), which dashboards then
 * draw with `drawAsInfinite(events('tag'))` or as Grafana annotations.
 *
 * It never blocks the metric path: event() only queues. One request is in flight at a time (events
 * keep their order); a failure (network, timeout, 5xx, 429) is retried with full-jitter
 * exponential backoff up to `maxRetries` times; a 4xx answer is final. The queue is bounded: an
 * event that does not fit, that runs out of retries, or that is still queued when close() times
 * out is dropped and counted by reason (`overflow`, `send_error`, `rejected`, `closed`).
 * Metric calls are ignored: this sink only carries events.
 */
import { countDrop, emptySinkStats, type Sink, type SinkStats, type TelltaleEvent } from './types.js';

export interface GraphiteEventsSinkOptions {
  name?: string;
  /** graphite-web's events endpoint, e.g. `http://graphite.example/events/`. */
  url: string;
  /** Extra request headers (an API gateway's token, say). */
  headers?: Record<string, string>;
  /** HTTP basic auth for a protected graphite-web. */
  basicAuth?: { username: string; password: string };
  /** Events waiting to be sent; beyond it new events are dropped and counted. Default 1000. */
  maxQueue?: number;
  /** Retries of one event after its first attempt. Default 5. */
  maxRetries?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  onError?: (err: Error) => void;
  random?: () => number;
}

/** The JSON body graphite-web 1.1's `post_event` view reads. */
export function graphiteEventBody(e: TelltaleEvent): string {
  return JSON.stringify({ what: e.what, tags: e.tags, when: e.when, data: e.data });
}

export function createGraphiteEventsSink(o: GraphiteEventsSinkOptions): Sink {
  const stats: SinkStats = emptySinkStats();
  const name = o.name ?? 'graphite_events';
  const maxQueue = o.maxQueue ?? 1000;
  const maxRetries = o.maxRetries ?? 5;
  const baseMs = o.backoffBaseMs ?? 500;
  const capMs = o.backoffCapMs ?? 30_000;
  const timeoutMs = o.timeoutMs ?? 5000;
  const random = o.random ?? Math.random;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...o.headers };
  if (o.basicAuth) headers['authorization'] = `Basic ${Buffer.from(`${o.basicAuth.username}:${o.basicAuth.password}`).toString('base64')}`;

  const queue: { body: string; attempts: number }[] = [];
  let sending = false;
  /** The request in flight: aborted by its timeout, or by close() once close's time is up. */
  let inflight: { abort: AbortController; done: Promise<void> } | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const idle = new Set<() => void>();
  const settled = (): void => {
    if (queue.length === 0 && !sending) for (const w of [...idle]) w();
  };
  const fail = (err: Error): void => {
    stats.errors++;
    stats.lastError = err.message;
    o.onError?.(err);
  };

  const pump = (): void => {
    if (sending || retryTimer || queue.length === 0) return settled();
    const item = queue[0]!;
    sending = true;
    item.attempts++;
    const abort = new AbortController();
    // Our own timer rather than AbortSignal.timeout(): it is cleared when the request settles,
    // so nothing of a finished request outlives it.
    const timer = setTimeout(() => abort.abort(new Error(`POST ${o.url}: no answer within ${timeoutMs}ms`)), timeoutMs);
    timer.unref();
    const done = fetch(o.url, { method: 'POST', headers, body: item.body, signal: abort.signal, redirect: 'error' })
      .then(
        async (res) => {
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return 'ok' as const;
          fail(new Error(`POST ${o.url}: HTTP ${res.status}`));
          // The server understood and refused: the same body will be refused again.
          return res.status >= 500 || res.status === 429 ? ('retry' as const) : ('rejected' as const);
        },
        (e: unknown) => {
          fail(e instanceof Error ? e : new Error(String(e)));
          return 'retry' as const;
        },
      )
      .then((outcome) => {
        clearTimeout(timer);
        inflight = undefined;
        sending = false;
        if (outcome === 'ok') {
          queue.shift();
          stats.sent++;
          stats.bytes += Buffer.byteLength(item.body);
        } else if (outcome === 'rejected' || item.attempts > maxRetries || closed) {
          queue.shift();
          countDrop(stats, outcome === 'rejected' ? 'rejected' : closed ? 'closed' : 'send_error');
        } else {
          stats.reconnects++;
          const delay = random() * Math.min(capMs, baseMs * 2 ** (item.attempts - 1));
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            pump();
          }, delay);
          retryTimer.unref();
          return;
        }
        pump();
      });
    inflight = { abort, done };
  };

  const noop = (): void => {};
  return {
    name,
    counter: noop,
    gauge: noop,
    gaugeDelta: noop,
    timing: noop,
    set: noop,
    datapoint: noop,
    event(e) {
      if (closed) return countDrop(stats, 'closed');
      if (queue.length >= maxQueue) return countDrop(stats, 'overflow');
      queue.push({ body: graphiteEventBody(e), attempts: 0 });
      pump();
    },
    // Events go out as they come; a flush does not wait for graphite-web.
    flush: async () => {},
    async close(ms) {
      closed = true;
      // A pending retry is tried once more now rather than after its backoff.
      if (retryTimer) {
        clearTimeout(retryTimer);
        retryTimer = undefined;
        pump();
      }
      if (queue.length > 0 || sending) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          t.unref();
          idle.add(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      idle.clear();
      // What is still queued (graphite-web down, close() timed out) is dropped, and counted:
      // first the queue behind the request in flight, then that request itself, aborted.
      const left = queue.length - (sending ? 1 : 0);
      if (left > 0) countDrop(stats, 'closed', left);
      queue.splice(sending ? 1 : 0);
      if (inflight) {
        const { abort, done } = inflight;
        abort.abort(new Error('closed'));
        await done;
      }
    },
    stats: () => ({ ...stats, queued: queue.length, dropped: { ...stats.dropped } }),
  };
}
