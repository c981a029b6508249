/**
 * Starts a real hub on 127.0.0.1:0 fed by a real emitter, and connects real `ws` clients to it.
 * Shared by the protocol tests, the browser tests and (through dist/) nothing else.
 */
import { validate } from '../../core/config/schema.js';
import { createEmitter } from '../../emitter/emitter.js';
import type { Emitter } from '../../emitter/types.js';
import { createLogger } from '../../core/log/logger.js';
import { WebSocket, type ClientOptions } from 'ws';
import type { LiveCatalogueEntry } from '../catalogue.js';
import { liveSchema, type LiveConfig } from '../../core/config/live-config.js';
import { LIVE_PROTOCOL, encodeTokenProtocol } from '../gate.js';
import { createLiveHub, type LiveHub, type LiveTuning } from '../hub.js';
import type { ServerMessage, ServiceInfo } from '../protocol.js';

export const CATALOGUE: LiveCatalogueEntry[] = [
  { pattern: 'tt.web.requests.<status>', type: 'counter', unit: 'count', description: 'requests by status', integration: 'web' },
  { pattern: 'tt.web.latency', type: 'timer', unit: 'ms', description: 'response time', integration: 'web' },
  { pattern: 'tt.host.disk.<mount>.percent', type: 'gauge', unit: 'percent', description: 'disk used', integration: 'host' },
  { pattern: 'tt.billing.<service>.usd', type: 'datapoint', unit: 'USD', description: 'estimated charges', integration: 'billing' },
];

export interface RunningHub {
  hub: LiveHub;
  config: LiveConfig;
  url: string;
  port: number;
  emitter: Emitter;
  logs: string[];
  stop(): Promise<void>;
}

export function liveConfig(over: Record<string, unknown> = {}): LiveConfig {
  const r = validate(liveSchema, { enabled: true, listen: '127.0.0.1:0', flush: '100ms', history: '10s', ...over });
  if (!('value' in r)) throw new Error(`bad test config: ${JSON.stringify(r.issues)}`);
  return r.value;
}

export async function startHub(
  over: Record<string, unknown> = {},
  o: { tuning?: LiveTuning; catalogue?: LiveCatalogueEntry[]; selfEmitter?: Emitter | 'root'; now?: () => number; services?: ServiceInfo[] } = {},
): Promise<RunningHub> {
  const config = liveConfig(over);
  const logs: string[] = [];
  const hub = createLiveHub(config, {
    log: createLogger({ level: 'debug', write: (l) => void logs.push(l) }),
    catalogue: o.catalogue ?? CATALOGUE,
    ...(o.tuning ? { tuning: o.tuning } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.services ? { services: o.services } : {}),
  });
  const { url } = await hub.start();
  const port = Number(new URL(url).port);
  const emitter = createEmitter({ sinks: [hub.sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
  // 'root': as the runtime does it, the emitter the hub is a sink of, attached once built.
  if (o.selfEmitter) hub.attach(o.selfEmitter === 'root' ? emitter : o.selfEmitter);
  return {
    hub,
    config,
    url,
    port,
    emitter,
    logs,
    async stop() {
      await emitter.close({ timeoutMs: 1000 });
      await hub.stop();
    },
  };
}

export interface TestClient {
  ws: WebSocket;
  messages: ServerMessage[];
  /** Resolves with the first message (from `from` on) matching, or rejects at the deadline. */
  next<T extends ServerMessage>(pred: (m: ServerMessage) => m is T, timeoutMs?: number): Promise<T>;
  waitFor(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): void;
}

export function protocols(token?: string): string[] {
  return token === undefined ? [LIVE_PROTOCOL] : [LIVE_PROTOCOL, encodeTokenProtocol(token)];
}

/** Polls a condition on every event-loop turn up to a deadline (never a fixed sleep). */
export async function until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Opens a client and resolves once open; rejects with the HTTP status when refused. */
export function connect(port: number, o: ClientOptions & { token?: string; host?: string; path?: string } = {}): Promise<TestClient> {
  const { token, host, path, ...opts } = o;
  const ws = new WebSocket(`ws://${host ?? '127.0.0.1'}:${port}${path ?? '/live'}`, protocols(token), opts);
  const messages: ServerMessage[] = [];
  let seen = 0;
  ws.on('message', (data) => void messages.push(JSON.parse(String(data)) as ServerMessage));
  const client: TestClient = {
    ws,
    messages,
    async next(pred, timeoutMs = 10_000) {
      let found: ServerMessage | undefined;
      await until(
        () => {
          for (; seen < messages.length; seen++) {
            if (pred(messages[seen]!)) {
              found = messages[seen++]!;
              return true;
            }
          }
          return false;
        },
        timeoutMs,
        'a matching message',
      );
      return found as never;
    },
    waitFor: until,
    close: () => ws.terminate(),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** The HTTP status a refused handshake got. */
export async function refusedWith(p: Promise<TestClient>): Promise<number> {
  try {
    const c = await p;
    c.close();
    return 101;
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status === undefined) throw e;
    return status;
  }
}

export const isHello = (m: ServerMessage): m is Extract<ServerMessage, { type: 'hello' }> => m.type === 'hello';
export const isBatch = (m: ServerMessage): m is Extract<ServerMessage, { type: 'batch' }> => m.type === 'batch';
