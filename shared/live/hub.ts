/**
 * The live hub: one more sink on the shared emitter (integrations never know it exists) that
 * folds samples into buckets and pushes one batch per flush to every connected page over a
 * WebSocket, and serves the page itself from one node:http server.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { joinPath } from '../emitter/names.js';
import { emptySinkStats, type Emitter, type Sink, type SinkStats } from '../emitter/types.js';
import type { Logger } from '../core/log/logger.js';
import type { LiveCatalogueEntry } from './catalogue.js';
import { checkLiveConfig, isLoopbackHost, parseListen, type LiveConfig } from '../core/config/live-config.js';
import { checkHandshake, LIVE_PROTOCOL, type GateConfig, type RejectReason } from './gate.js';
import { loadAssets, servePage } from './page-server.js';
import { PROTOCOL_VERSION, type BatchMessage, type EventInfo, type HelloMessage, type ServiceInfo } from './protocol.js';
import { createStore, type Store } from './store.js';
import { createHubSelfMetrics, type HubSelfMetrics } from './hub-self-metrics.js';
import { deliver, type Client, type DeliveryDeps } from './backpressure.js';

/** Knobs tests and the benchmark turn. */
export interface LiveTuning {
  /** Skip a client's batch while its unsent bytes exceed this (plus its last hello). */
  highWaterBytes?: number;
  /** A skipped client is re-synced with a fresh hello once below this. */
  lowWaterBytes?: number;
  /** Terminate a client that stays above the high-water mark this long. */
  stallMs?: number;
  /** Heartbeat: ping this often, terminate peers that did not pong since the last ping. */
  pingMs?: number;
  /** A request whose headers are not complete this long after the connection opened is closed (408). */
  headersTimeoutMs?: number;
  /** An HTTP connection with no traffic this long is closed (idle keep-alive, a silent client). */
  idleTimeoutMs?: number;
}

/**
 * HTTP connections beyond the page sockets (`max_clients`): page loads, info.json, keep-alive.
 * A browser opens at most 6 per host; 32 leaves room for a few tabs loading at once.
 */
export const PAGE_CONNECTIONS = 32;

export interface LiveHubOptions {
  log: Logger;
  catalogue: readonly LiveCatalogueEntry[];
  tuning?: LiveTuning;
  now?: () => number;
  /** Service graphs for the top of the page (one per access_log source). */
  services?: readonly ServiceInfo[];
}

/** Events kept for a hello (within the history window as well). */
const MAX_EVENTS = 200;

export interface LiveHub {
  readonly sink: Sink;
  /**
   * The second step of wiring: the hub is a sink of the root emitter, so it exists before that
   * emitter does; once the emitter is built, attach it. The hub then reports its own metrics as
   * `<root>.telltale.live.*` and shows the core's `<root>.telltale.*` under a "telltale" heading.
   * Without it the hub reports nothing about itself. Once only.
   */
  attach(root: Emitter): void;
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
  /** Counters for tests, the benchmark and the self-metrics. */
  stats(): LiveHubStats;
}

export interface LiveHubStats {
  clients: number;
  sentBytes: number;
  sentMessages: number;
  skippedBatches: number;
  resyncs: number;
  terminated: number;
  rejected: Partial<Record<RejectReason, number>>;
  series: number;
  refusedSeries: number;
  /** Highest bufferedAmount seen on any client at a flush. */
  peakBuffered: number;
  /** Largest single message sent (a hello, usually). */
  maxMessageBytes: number;
}


function reject(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroy();
}

export function createLiveHub(config: LiveConfig, opts: LiveHubOptions): LiveHub {
  const log = opts.log;
  const now = opts.now ?? Date.now;
  const tuning = {
    highWaterBytes: opts.tuning?.highWaterBytes ?? 256 * 1024,
    lowWaterBytes: opts.tuning?.lowWaterBytes ?? 64 * 1024,
    stallMs: opts.tuning?.stallMs ?? 10_000,
    pingMs: opts.tuning?.pingMs ?? 15_000,
    headersTimeoutMs: opts.tuning?.headersTimeoutMs ?? 10_000,
    idleTimeoutMs: opts.tuning?.idleTimeoutMs ?? 30_000,
  };
  /** The hub's own metrics, once attach() has given the root emitter. */
  let self: HubSelfMetrics | undefined;
  const store: Store = createStore({
    flushMs: config.flush,
    historyMs: config.history,
    maxSeries: config.max_series,
    catalogue: opts.catalogue,
  });
  const sinkStats: SinkStats = emptySinkStats();
  const clients = new Set<Client>();
  const stats: LiveHubStats = {
    clients: 0,
    sentBytes: 0,
    sentMessages: 0,
    skippedBatches: 0,
    resyncs: 0,
    terminated: 0,
    rejected: {},
    series: 0,
    refusedSeries: 0,
    peakBuffered: 0,
    maxMessageBytes: 0,
  };
  const { host: listenHost, port: listenPort } = parseListen(config.listen);
  const gateConfig: GateConfig = {
    listenHost,
    token: config.token,
    allowedHosts: config.allowed_hosts,
    maxClients: config.max_clients,
  };
  let server: Server | undefined;
  let wss: WebSocketServer | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let boundPort = listenPort;
  let stopping: Promise<void> | undefined;
  let closed = false;
  const events: EventInfo[] = [];
  let newEvents: EventInfo[] = [];

  const send = (c: Client, data: string): void => {
    const bytes = Buffer.byteLength(data);
    c.ws.send(data, (err) => {
      if (err) log.debug('send failed', { error: err.message });
    });
    stats.sentBytes += bytes;
    stats.sentMessages++;
    if (bytes > stats.maxMessageBytes) stats.maxMessageBytes = bytes;
    sinkStats.bytes += bytes;
  };

  // A hello only changes when a bucket closes: pages connecting within one flush (a herd after
  // a restart) share one snapshot and one string.
  let generation = 0;
  let helloCache: { generation: number; text: string } | undefined;
  const hello = (): string => {
    if (helloCache?.generation === generation) return helloCache.text;
    const snap = store.snapshot();
    const serverTime = now();
    const msg: HelloMessage = {
      type: 'hello',
      v: PROTOCOL_VERSION,
      serverTime,
      flushMs: config.flush,
      historyMs: config.history,
      maxSeries: config.max_series,
      families: snap.families,
      series: snap.series,
      times: snap.times,
      values: snap.values,
      points: snap.points,
      refused: snap.refused,
      services: [...(opts.services ?? [])],
      events: events.filter((e) => e.t >= serverTime - config.history),
    };
    helloCache = { generation, text: JSON.stringify(msg) };
    return helloCache.text;
  };

  const sendHello = (c: Client): void => {
    const text = hello();
    c.helloBytes = Buffer.byteLength(text);
    send(c, text);
  };

  const delivery: DeliveryDeps = { tuning, stats, sinkStats, log, send, sendHello };

  const flush = (): void => {
    self?.report({ ...stats, clients: clients.size }, store.stats().refusedNames);
    const at = now();
    const r = store.flush(at);
    generation++;
    const batch: BatchMessage = { type: 'batch', t: r.t, v: r.values, p: r.points, refused: r.refused };
    if (r.newFamilies.length) batch.families = r.newFamilies;
    if (r.newSeries.length) batch.series = r.newSeries;
    if (newEvents.length) {
      batch.events = newEvents;
      newEvents = [];
    }
    if (clients.size === 0) return;
    // Stringify once per flush; every page gets the same text.
    const text = JSON.stringify(batch);
    for (const c of clients) deliver(c, text, at, delivery);
  };

  const heartbeat = (): void => {
    for (const c of clients) {
      if (!c.alive) {
        stats.terminated++;
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const gate = checkHandshake(req, clients.size, gateConfig);
    if (!gate.ok) {
      stats.rejected[gate.reason] = (stats.rejected[gate.reason] ?? 0) + 1;
      // Never log the offered protocols: they may carry a token.
      log.debug('live connection refused', { reason: gate.reason, status: gate.status, origin: req.headers.origin });
      reject(socket, gate.status, gate.reason === 'clients' ? 'too many live pages' : `forbidden (${gate.reason})`);
      return;
    }
    wss!.handleUpgrade(req, socket, head, (ws) => {
      const c: Client = { ws, alive: true, needsResync: false, overSince: undefined, helloBytes: 0 };
      clients.add(c);
      stats.clients = clients.size;
      ws.on('pong', () => (c.alive = true));
      ws.on('error', (err) => log.debug('live socket error', { error: err.message }));
      ws.on('close', () => {
        clients.delete(c);
        stats.clients = clients.size;
      });
      // Pages send nothing; anything else is ignored rather than parsed.
      sendHello(c);
    });
  };

  const sink: Sink = {
    name: 'live',
    counter: (n, v, rate) => {
      if (closed) return;
      sinkStats.sent++;
      store.counter(n, v, rate);
    },
    gauge: (n, v) => {
      if (closed) return;
      sinkStats.sent++;
      store.gauge(n, v);
    },
    gaugeDelta: (n, d) => {
      if (closed) return;
      sinkStats.sent++;
      store.gaugeDelta(n, d);
    },
    timing: (n, ms) => {
      if (closed) return;
      sinkStats.sent++;
      store.timing(n, ms);
    },
    set: (n, m) => {
      if (closed) return;
      sinkStats.sent++;
      store.set(n, m);
    },
    datapoint: (n, v, ts) => {
      if (closed) return;
      sinkStats.sent++;
      store.datapoint(n, v, ts);
    },
    event: (e) => {
      if (closed) return;
      sinkStats.sent++;
      const info: EventInfo = { t: e.when * 1000, what: e.what, tags: e.tags, data: e.data };
      events.push(info);
      if (events.length > MAX_EVENTS) events.shift();
      // Bounded too: a page-less hub must not collect events between flushes without limit.
      if (newEvents.length < MAX_EVENTS) newEvents.push(info);
      generation++;
    },
    // The hub keeps its own cadence (config.flush, 1 s) whatever the emitter's interval is.
    flush: async () => {},
    close: async () => {
      closed = true;
      await hub.stop();
    },
    stats: () => {
      const s = store.stats();
      const dropped = { ...sinkStats.dropped };
      if (s.refusedSamples) dropped['series_cap'] = s.refusedSamples;
      return { ...sinkStats, dropped, queued: 0 };
    },
  };

  const hub: LiveHub = {
    sink,
    attach(root) {
      if (self) throw new Error('live: already attached to an emitter');
      self = createHubSelfMetrics(root);
      store.addCatalogue(self.catalogue, joinPath(root.prefix, 'telltale'));
    },
    async start() {
      if (server) throw new Error('live: already started');
      const problem = checkLiveConfig(config);
      if (problem) throw new Error(`live: ${problem}`);
      const pointsPerSeries = Math.ceil(config.history / config.flush);
      if (pointsPerSeries > 3600) throw new Error(`live: history/flush keeps ${pointsPerSeries} points per series; at most 3600`);
      const assets = loadAssets();
      stopping = undefined;
      wss = new WebSocketServer({
        noServer: true,
        perMessageDeflate: false,
        // Pages send nothing; a few KiB bounds what a misbehaving client can make us buffer.
        maxPayload: 4096,
        clientTracking: false,
        handleProtocols: (protocols) => (protocols.has(LIVE_PROTOCOL) ? LIVE_PROTOCOL : false),
      });
      // Bounded like any listener facing input: half-sent requests time out (checked every
      // second, not Node's default 30 s), silent connections are closed, and connections past
      // the cap are dropped at accept (counted). Upgraded page sockets are not idle-timed: ws
      // clears the socket timeout and the heartbeat watches them instead.
      const srv = createServer(
        { headersTimeout: tuning.headersTimeoutMs, requestTimeout: tuning.headersTimeoutMs * 2, connectionsCheckingInterval: Math.min(1000, tuning.headersTimeoutMs) },
        (req, res) => servePage(req, res, assets, gateConfig, config.token !== undefined, (reason) => (stats.rejected[reason] = (stats.rejected[reason] ?? 0) + 1)),
      );
      srv.keepAliveTimeout = Math.min(5000, tuning.idleTimeoutMs);
      srv.setTimeout(tuning.idleTimeoutMs, (socket) => socket.destroy());
      srv.maxConnections = config.max_clients + PAGE_CONNECTIONS;
      srv.on('drop', () => {
        stats.rejected.connections = (stats.rejected.connections ?? 0) + 1;
      });
      srv.on('upgrade', onUpgrade);
      srv.on('clientError', (_err, socket) => socket.destroy());
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(boundPort, listenHost, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      server = srv;
      const addr = srv.address();
      if (addr && typeof addr === 'object') boundPort = addr.port;
      flushTimer = setInterval(flush, config.flush);
      pingTimer = setInterval(heartbeat, tuning.pingMs);
      const shown = listenHost === '0.0.0.0' || listenHost === '::' ? hostname() : listenHost;
      const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${boundPort}/`;
      if (!isLoopbackHost(listenHost)) log.warn('live page bound to a non-loopback address (token required)', { listen: config.listen });
      // The caller prints the URL (`telltale run` does); say it here only for debugging.
      log.debug('live page', { url });
      return { url };
    },
    stop() {
      stopping ??= (async () => {
        if (flushTimer) clearInterval(flushTimer);
        if (pingTimer) clearInterval(pingTimer);
        flushTimer = pingTimer = undefined;
        for (const c of clients) c.ws.terminate();
        clients.clear();
        stats.clients = 0;
        const srv = server;
        server = undefined;
        if (srv) {
          srv.closeAllConnections();
          await new Promise<void>((resolve) => srv.close(() => resolve()));
        }
        wss?.close();
        wss = undefined;
      })();
      return stopping;
    },
    stats: () => {
      const s = store.stats();
      return { ...stats, rejected: { ...stats.rejected }, series: s.series, refusedSeries: s.refusedNames };
    },
  };
  return hub;
}
