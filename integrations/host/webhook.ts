/**
 * Delivers alerts to an HTTP endpoint without ever holding up sampling: `send()` only enqueues;
 * one background worker POSTs, retries with exponential backoff and jitter, and gives up after a
 * bounded number of attempts. The queue is bounded too; everything dropped or given up on is
 * counted and logged.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Emitter } from '../../shared/emitter/types.js';
import type { Logger } from '../../shared/core/log/logger.js';
import type { WebhookConfig } from './config.js';

export interface AlertPayload {
  /** One human line (Slack shows it as the message). */
  text: string;
  state: 'fired' | 'recovered';
  /** Set on a recovery because the metric stopped existing (device or interface removed); value is null. */
  gone?: boolean;
  /** Fully qualified metric (with the instance prefix). */
  metric: string;
  key: string;
  value: number;
  direction: 'above' | 'below';
  threshold: number;
  clear: number;
  hold_ms: number;
  host: string;
  instance: string;
  /** ISO 8601. */
  since: string;
  at: string;
}

/** The request body for a format. Documented in the README; the tests assert these shapes. */
export function webhookBody(format: WebhookConfig['format'], a: AlertPayload): unknown {
  switch (format) {
    case 'slack':
      return { text: a.text };
    case 'sentry':
      // Sentry store API event: one issue per host+metric via the fingerprint, the recovery
      // arrives as an info-level event in the same issue.
      return {
        // Derived from the alert, not random: a retried delivery carries the same id, so Sentry
        // de-duplicates it if an earlier attempt did arrive after all.
        event_id: createHash('md5').update(`${a.host}\u0000${a.metric}\u0000${a.key}\u0000${a.state}\u0000${a.at}`).digest('hex'),
        message: a.text,
        level: a.state === 'fired' ? 'error' : 'info',
        logger: 'telltale.host',
        platform: 'other',
        server_name: a.host,
        timestamp: a.at,
        fingerprint: ['telltale-host-threshold', a.host, a.metric],
        tags: { metric: a.metric, threshold_key: a.key, state: a.state, instance: a.instance },
        extra: { value: a.value, direction: a.direction, threshold: a.threshold, clear: a.clear, hold_ms: a.hold_ms, since: a.since },
      };
    case 'json':
      return { ...a, source: 'telltale' };
  }
}

export interface WebhookDeps {
  log: Logger;
  /** Scoped to the instance: counters land under alerts.webhook.*. */
  emitter: Emitter;
  /** Alerts that were given up on or dropped count as `sending` errors of the instance. */
  onLost?: (n: number) => void;
  random?: () => number;
}

export interface WebhookSink {
  /** Enqueue; never blocks, never throws. */
  send(payload: AlertPayload): void;
  /** Resolves when the queue is empty and nothing is in flight (tests, shutdown). */
  idle(): Promise<void>;
  /** Abort the in-flight attempt and pending retries; what is left is counted as dropped. */
  stop(): Promise<void>;
  readonly queued: number;
}

type Attempt = { ok: true } | { ok: false; retryable: boolean; reason: string; retryAfterMs?: number };

/** Retry-After in seconds (Slack sends it with 429); HTTP-dates are rare here and ignored. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || !/^\s*\d+\s*$/.test(v)) return undefined;
  return Number(v) * 1000;
}

const MAX_RESPONSE_BYTES = 4096;

export function createWebhookSink(cfg: WebhookConfig, deps: WebhookDeps): WebhookSink {
  const url = new URL(cfg.url);
  // Loaded here, not imported: HTTP and TLS are ~10 ms of a start that most hosts (and every
  // `host --once`) without a webhook would pay for nothing.
  const request = url.protocol === 'https:' ? process.getBuiltinModule('node:https').request : process.getBuiltinModule('node:http').request;
  const random = deps.random ?? Math.random;
  const counters = deps.emitter.child({ prefix: 'alerts.webhook' });
  const queue: AlertPayload[] = [];
  const abort = new AbortController();
  let worker: Promise<void> | undefined;
  let idleWaiters: (() => void)[] = [];
  let stopped = false;
  // Redact credentials and query strings (Sentry keys live there) from log lines.
  const where = `${url.protocol}//${url.host}${url.pathname}`;

  const attempt = (body: string): Promise<Attempt> =>
    new Promise((resolve) => {
      let settled = false;
      const done = (r: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        abort.signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const req = request(url, {
        method: 'POST',
        // One short connection per alert: alerts are rare, and no keep-alive socket outlives stop().
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'telltale-host',
          ...cfg.headers,
        },
      });
      const timer = setTimeout(() => {
        req.destroy();
        done({ ok: false, retryable: true, reason: `no response within ${cfg.timeout}ms` });
      }, cfg.timeout);
      const onAbort = (): void => {
        req.destroy();
        done({ ok: false, retryable: false, reason: 'stopped' });
      };
      abort.signal.addEventListener('abort', onAbort);
      req.on('error', (e) => done({ ok: false, retryable: true, reason: e.message }));
      req.on('response', (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < MAX_RESPONSE_BYTES) text += d;
        });
        res.on('error', (e) => done({ ok: false, retryable: true, reason: e.message }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) done({ ok: true });
          else {
            const after = retryAfterMs(res.headers['retry-after']);
            done({
              ok: false,
              // 429 and 5xx are the receiver's temporary trouble; other 4xx will not get better.
              retryable: status === 429 || status >= 500,
              reason: `HTTP ${status}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`,
              ...(after !== undefined ? { retryAfterMs: after } : {}),
            });
          }
        });
      });
      req.end(body);
    });

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (abort.signal.aborted) return resolve();
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });

  const deliver = async (payload: AlertPayload): Promise<void> => {
    const body = JSON.stringify(webhookBody(cfg.format, payload));
    for (let n = 0; ; n++) {
      const r = await attempt(body);
      if (r.ok) {
        counters.counter('sent');
        return;
      }
      if (stopped) {
        counters.counter('dropped');
        deps.onLost?.(1);
        deps.log.warn('alert webhook: stopped before delivery; alert dropped', { url: where, metric: payload.metric, state: payload.state });
        return;
      }
      if (!r.retryable || n >= cfg.retries) {
        counters.counter('failed');
        deps.onLost?.(1);
        deps.log.error(`alert webhook: giving up after ${n + 1} attempt(s): ${r.reason}`, { url: where, metric: payload.metric, state: payload.state });
        return;
      }
      counters.counter('retries');
      // Full jitter keeps many hosts that alerted together from retrying in lockstep.
      const cap = Math.min(cfg.max_backoff, cfg.backoff * 2 ** n);
      // The receiver's own Retry-After wins over our backoff, within max_backoff.
      const delay = Math.min(cfg.max_backoff, Math.max(Math.round(cap / 2 + (random() * cap) / 2), r.retryAfterMs ?? 0));
      deps.log.warn(`alert webhook: attempt ${n + 1} failed (${r.reason}); retrying in ${delay}ms`, { url: where });
      await sleep(delay);
    }
  };

  const run = async (): Promise<void> => {
    while (queue.length > 0 && !stopped) {
      const next = queue.shift()!;
      await deliver(next);
    }
    worker = undefined;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  return {
    get queued() {
      return queue.length;
    },
    send(payload) {
      if (stopped) {
        counters.counter('dropped');
        deps.onLost?.(1);
        return;
      }
      if (queue.length >= cfg.queue_size) {
        // Drop the oldest: the newest alert describes the current state best.
        const old = queue.shift()!;
        counters.counter('dropped');
        deps.onLost?.(1);
        deps.log.error('alert webhook: queue full; oldest alert dropped', { url: where, queue_size: cfg.queue_size, metric: old.metric, state: old.state });
      }
      queue.push(payload);
      worker ??= run();
    },
    idle() {
      if (!worker) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      if (stopped) return worker;
      stopped = true;
      abort.abort();
      await worker;
      if (queue.length > 0) {
        counters.counter('dropped', queue.length);
        deps.onLost?.(queue.length);
        deps.log.warn(`alert webhook: ${queue.length} undelivered alert(s) dropped at stop`, { url: where });
        queue.length = 0;
      }
    },
  };
}
