/**
 * The recorder behind every HTTP adapter: per route template, method and status class, one
 * counter and one response-time timer, with the number of distinct routes capped.
 */
import type { Emitter } from '../../emitter/types.js';
import { routeNode } from './route-names.js';

/** Options shared by every HTTP adapter. */
export interface HttpMetricsOptions {
  /**
   * Where metrics go, e.g. `app.stats`. No packet per request: each series' count and response
   * times are held here and handed over at each of the emitter's flushes (see
   * {@link Emitter.onFlush}; every second under createApp), or sooner once a series holds
   * {@link HELD_MAX} times. An emitter without `onFlush` is called once per request instead.
   */
  emitter: Emitter;
  /** Node under the emitter's prefix (default `http`). */
  prefix?: string;
  /**
   * Most distinct route nodes ever reported (default 100). Requests for routes beyond the cap
   * are reported under route `other` and counted in `<prefix>.route_overflow`: a scanner hitting
   * random URLs must not create thousands of Graphite series.
   */
  maxRoutes?: number;
}

/** Route node for requests no route matched (404s from the framework, middleware responses). */
export const UNMATCHED_ROUTE = 'unmatched';
/** Route node for requests beyond the route cap. */
export const OVERFLOW_ROUTE = 'other';
/** Status class for requests whose client went away before the response finished. */
export const ABORTED = 'aborted';
/** Most response times one series holds before handing them to the emitter between flushes. */
export const HELD_MAX = 512;

/** Records finished requests. Adapters call {@link HttpMetrics.record}; so can your own code. */
export interface HttpMetrics {
  /**
   * Record one finished request. Its count and time are held and reach the emitter at its next
   * flush (or when the series holds {@link HELD_MAX} times), unless the emitter has no `onFlush`.
   * @param route the route template (`/users/:id`), or undefined when no route matched
   * @param method the HTTP method as received (`GET`)
   * @param status the status code sent, or `'aborted'` when the client went away first
   * @param ms response time in milliseconds
   */
  record(route: string | undefined, method: string | undefined, status: number | typeof ABORTED, ms: number): void;
  /** The route nodes admitted so far (at most `maxRoutes`). */
  routes(): string[];
  /** How many requests went to `other` because the cap was reached. */
  readonly overflowed: number;
}

/**
 * Create a recorder. Metric names, below `<emitter prefix>.<prefix>`:
 *
 * | name | type |
 * |---|---|
 * | `requests.<route>.<method>.<class>` | counter, one per request |
 * | `response_time.<route>.<method>.<class>` | timer (ms) |
 * | `route_overflow` | counter: requests reported as route `other` because of the cap |
 *
 * `<route>` is {@link routeNode} of the template (`users_id`), `unmatched` or `other`;
 * `<method>` is `get`, `post`, `put`, `delete`, `patch`, `head`, `options` or `other`;
 * `<class>` is `1xx`…`5xx`, `aborted` or `other`.
 */
export function createHttpMetrics(opts: HttpMetricsOptions): HttpMetrics {
  const maxRoutes = opts.maxRoutes ?? 100;
  if (!Number.isInteger(maxRoutes) || maxRoutes < 1) throw new RangeError(`maxRoutes must be an integer >= 1, got ${maxRoutes}`);
  const e = opts.emitter.child({ prefix: opts.prefix ?? 'http' });
  const entries = new Map<string, RouteEntry>();
  // template → admitted route. Only admitted routes are cached, and the cache is bounded, so
  // random URLs past the cap cost a little CPU each but never memory.
  const byTemplate = new Map<string, RouteEntry>();
  const maxTemplates = maxRoutes * 8;
  const unmatched = newEntry(UNMATCHED_ROUTE);
  const overflow = newEntry(OVERFLOW_ROUTE);
  let overflowed = 0;

  const resolve = (template: string): RouteEntry => {
    const cached = byTemplate.get(template);
    if (cached !== undefined) return cached;
    const node = routeNode(template);
    if (node === '' || node === UNMATCHED_ROUTE) return unmatched;
    let entry = entries.get(node);
    if (entry === undefined) {
      if (entries.size >= maxRoutes) {
        overflowed++;
        e.counter('route_overflow');
        return overflow;
      }
      entry = newEntry(node);
      entries.set(node, entry);
    }
    if (byTemplate.size < maxTemplates) byTemplate.set(template, entry);
    return entry;
  };

  // Per request only a count and an array store: each series is handed over as one counter
  // call and one timingBatch per flush. A counter and a timer call per request through the
  // emitter into the statsd sink were most of instrumentExpress's cost (shared/library/app/README.md,
  // "Overhead"); batched, the sink formats its lines in one tight loop.
  const series: Series[] = [];
  const handOver = (s: Series): void => {
    const n = s.held;
    if (n === 0) return;
    s.held = 0;
    e.counter(s.counterName, n);
    e.timingBatch(s.timerName, s.times, n);
  };
  let direct = e.onFlush === undefined;
  e.onFlush?.((final) => {
    for (const s of series) handOver(s);
    // The emitter is closing: no flush will come for anything held after this one, so pass
    // every later request straight on (where the closed emitter counts it as rejected).
    if (final) direct = true;
  });

  return {
    record(route, method, status, ms) {
      const entry = route === undefined ? unmatched : resolve(route);
      // Names are built once per route/method/class and reused: the same string objects every
      // time keep the emitter's name cache lookups cheap (a fresh concatenation per request
      // cost ~0.5 us, measured).
      const mi = methodIndex(method);
      const ci = status === ABORTED ? ABORTED_INDEX : classIndex(status);
      const index = mi * CLASSES.length + ci;
      let s = entry.series[index];
      if (s === undefined) {
        const key = `${entry.node}.${METHODS[mi]}.${CLASSES[ci]}`;
        s = entry.series[index] = { counterName: `requests.${key}`, timerName: `response_time.${key}`, held: 0, times: new Float64Array(16) };
        series.push(s);
      }
      // Microsecond resolution is plenty and keeps packets short (no 1.7207819999999998).
      const rounded = Math.round(ms * 1000) / 1000;
      if (direct) {
        e.counter(s.counterName);
        e.timing(s.timerName, rounded);
        return;
      }
      if (s.held === s.times.length) {
        // Quiet series stay small; busy ones grow to HELD_MAX, then hand over when full.
        if (s.times.length < HELD_MAX) {
          const grown = new Float64Array(Math.min(HELD_MAX, s.times.length * 4));
          grown.set(s.times);
          s.times = grown;
        } else {
          handOver(s);
        }
      }
      s.times[s.held++] = rounded;
    },
    routes: () => [...entries.keys()],
    get overflowed() {
      return overflowed;
    },
  };
}

interface RouteEntry {
  node: string;
  /** By method index * CLASSES.length + class index. */
  series: (Series | undefined)[];
}

/** One route/method/class: its two names, and what it holds until the next hand-over. */
interface Series {
  readonly counterName: string;
  readonly timerName: string;
  /** Requests held; their response times are `times[0..held)`. */
  held: number;
  times: Float64Array;
}

function newEntry(node: string): RouteEntry {
  return { node, series: [] };
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options', 'other'] as const;
const CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx', ABORTED] as const;
const ABORTED_INDEX = CLASSES.length - 1;

/** Index into METHODS; the same folding as {@link methodNode}. */
function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'POST':
      return 1;
    case 'PUT':
      return 2;
    case 'DELETE':
      return 3;
    case 'PATCH':
      return 4;
    case 'HEAD':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return 7;
  }
}

function classIndex(status: number): number {
  return status >= 100 && status < 600 ? Math.floor(status / 100) : 0;
}
