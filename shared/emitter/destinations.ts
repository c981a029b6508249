/**
 * Several Graphite destinations behind one sink: failover over relays, or carbon-c-relay's
 * consistent hashing (with replication) straight to caches.
 *
 * - failover: every line goes to the active destination, the first healthy one in the order
 *   given. When it disconnects, its queue and its replay tail (what was written recently and
 *   may not have been stored) move to the next connected destination; a better-placed one that
 *   has stayed connected for `failbackMs` takes over again. Connections to the others stay open
 *   so their health is known without sending anything.
 * - hash routings: each line goes to the destinations carbon-c-relay would pick for its name
 *   (carbon-hash.ts). A dead destination keeps its share in its own bounded queue (drops
 *   counted) until it returns: re-hashing it elsewhere would split series across caches.
 * Each destination is one stream transport with its own bounded queue and replay window.
 */
import { createHashRing, type HashRouting, type RingMember } from './carbon-hash.js';
import { createStreamTransport, type StreamAddress, type StreamTransport } from './stream-transport.js';
import { emptySinkStats, type DestinationStats, type SinkStats } from './types.js';

export type Routing = 'failover' | HashRouting;

export interface Destination {
  address: StreamAddress;
  /** carbon-c-relay's `=instance`: part of the ring key (carbon_ch, jump), or all of it (fnv1a_ch). */
  instance?: string | undefined;
}

export interface DestinationSetOptions {
  destinations: readonly Destination[];
  routing: Routing;
  /** Hash routings: distinct destinations per line. */
  replication?: number;
  /** failover: how long a better-placed destination must stay connected before traffic returns to it. */
  failbackMs?: number;
  maxQueueLines: number;
  maxQueueBytes: number;
  replayWindowMs: number;
  replayMaxLines?: number;
  onError?: (err: Error) => void;
  now?: () => number;
  /** Transport tuning for tests. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export interface DestinationSet {
  enqueue(line: string): void;
  drain(timeoutMs: number): Promise<boolean>;
  close(timeoutMs: number): Promise<void>;
  /** Totals over the destinations, plus switches and per-destination figures when there are several. */
  stats(): SinkStats;
  /** failover: index of the destination currently sent to. */
  readonly active: number;
}

/** `host:port` (or the socket path), as the relay config and logs write it. */
export function destinationLabel(a: StreamAddress): string {
  return a.transport === 'unix' ? a.path : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

const ROUTE_CACHE_MAX = 50_000;

export function createDestinationSet(o: DestinationSetOptions): DestinationSet {
  const now = o.now ?? Date.now;
  const failbackMs = o.failbackMs ?? 30_000;
  const n = o.destinations.length;
  if (n === 0) throw new Error('at least one destination');
  const perDest: SinkStats[] = o.destinations.map(() => emptySinkStats());
  const connectedSince: (number | undefined)[] = o.destinations.map(() => undefined);
  let switches = 0;
  let active = 0;
  let closing = false;
  const labels = o.destinations.map((d) => destinationLabel(d.address));

  const moveQueue = (from: number, to: number): void => {
    if (from === to) return;
    const { lines, replayed } = transports[from]!.takeQueued();
    transports[to]!.prepend(lines, replayed);
  };
  const switchTo = (to: number, why: string): void => {
    if (to === active) return;
    const from = active;
    active = to;
    switches++;
    moveQueue(from, to);
    o.onError?.(new Error(`failover: now sending to ${labels[to]} (${why})`));
  };
  const firstConnected = (): number => transports.findIndex((t) => t.connected);

  const onConnect = (i: number): void => {
    connectedSince[i] = now();
    if (o.routing !== 'failover' || closing) return;
    if (!transports[active]!.connected && i !== active) switchTo(i, `${labels[active]} is down`);
  };
  const onDown = (i: number): void => {
    connectedSince[i] = undefined;
    if (o.routing !== 'failover' || closing) return;
    if (i === active) {
      const next = firstConnected();
      if (next >= 0) switchTo(next, `${labels[i]} is down`);
    } else if (transports[active]!.connected) {
      // A standby's replayed tail (written before a switch) belongs with the active one.
      moveQueue(i, active);
    }
  };

  const transports: StreamTransport[] = o.destinations.map((d, i) =>
    createStreamTransport({
      address: d.address,
      stats: perDest[i]!,
      maxQueueLines: o.maxQueueLines,
      maxQueueBytes: o.maxQueueBytes,
      replayWindowMs: o.replayWindowMs,
      ...(o.replayMaxLines !== undefined ? { replayMaxLines: o.replayMaxLines } : {}),
      ...(o.backoffBaseMs !== undefined ? { backoffBaseMs: o.backoffBaseMs } : {}),
      ...(o.backoffCapMs !== undefined ? { backoffCapMs: o.backoffCapMs } : {}),
      ...(o.onError ? { onError: (e: Error) => o.onError!(n > 1 ? new Error(`${labels[i]}: ${e.message}`) : e) } : {}),
      onConnect: () => onConnect(i),
      onDown: () => onDown(i),
      now,
    }),
  );

  let failbackTimer: NodeJS.Timeout | undefined;
  if (o.routing === 'failover' && n > 1) {
    failbackTimer = setInterval(
      () => {
        const t = now();
        for (let i = 0; i < active; i++) {
          const since = connectedSince[i];
          if (since !== undefined && transports[i]!.connected && t - since >= failbackMs) {
            switchTo(i, `back to a preferred destination, connected for ${Math.round((t - since) / 1000)}s`);
            return;
          }
        }
      },
      Math.max(50, Math.min(1000, failbackMs / 4)),
    );
    failbackTimer.unref();
  }

  let enqueue: (line: string) => void;
  if (o.routing === 'failover') {
    enqueue = (line) => transports[active]!.enqueue(line);
  } else {
    const replication = Math.min(o.replication ?? 1, n);
    const ring = createHashRing(
      o.routing,
      o.destinations.map((d): RingMember => (d.address.transport === 'unix' ? { host: d.address.path, port: 0, instance: d.instance } : { host: d.address.host, port: d.address.port, instance: d.instance })),
    );
    // Names repeat every flush; hashing (MD5 for carbon_ch) is the expensive part.
    const cache = new Map<string, number[]>();
    enqueue = (line) => {
      const sp = line.indexOf(' ');
      const name = sp < 0 ? line : line.slice(0, sp);
      let to = cache.get(name);
      if (to === undefined) {
        to = ring.pick(name, replication);
        if (cache.size >= ROUTE_CACHE_MAX) cache.clear();
        cache.set(name, to);
      }
      for (const i of to) transports[i]!.enqueue(line);
    };
  }

  return {
    get active() {
      return active;
    },
    enqueue,
    async drain(timeoutMs) {
      const ok = await Promise.all(transports.map((t) => t.drain(timeoutMs)));
      return ok.every(Boolean);
    },
    async close(timeoutMs) {
      closing = true;
      if (failbackTimer) clearInterval(failbackTimer);
      await Promise.all(transports.map((t) => t.close(timeoutMs)));
    },
    stats() {
      const total = emptySinkStats();
      for (const s of perDest) {
        total.sent += s.sent;
        total.bytes += s.bytes;
        total.errors += s.errors;
        total.queued += s.queued;
        total.reconnects += s.reconnects;
        for (const [k, v] of Object.entries(s.dropped)) total.dropped[k] = (total.dropped[k] ?? 0) + v;
        if (s.lastError !== undefined) total.lastError = s.lastError;
      }
      if (n > 1) {
        total.switches = switches;
        total.destinations = Object.fromEntries(
          perDest.map((s, i): [string, DestinationStats] => [labels[i]!, { sent: s.sent, errors: s.errors, queued: s.queued, dropped: { ...s.dropped }, up: transports[i]!.connected }]),
        );
      }
      return total;
    },
  };
}
