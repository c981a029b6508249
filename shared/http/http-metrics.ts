/**
 * The recorder behind every HTTP adapter: per route template, method and status class, one
 * counter and one response-time timer, with the number of distinct routes capped.
 */
import type { Emitter } from '../emitter/types.js';
import { methodNode, routeNode, statusClass } from './route-names.js';

/** Options shared by every HTTP adapter. */
export interface HttpMetricsOptions {
  /** Where metrics go, e.g. `app.stats`. Calls are batched by its sinks: no packet per request. */
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

/** Records finished requests. Adapters call {@link HttpMetrics.record}; so can your own code. */
export interface HttpMetrics {
  /**
   * Record one finished request.
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
  const nodes = new Set<string>();
  // template → admitted node. Only admitted routes are cached, and the cache is bounded, so
  // random URLs past the cap cost a little CPU each but never memory.
  const byTemplate = new Map<string, string>();
  const maxTemplates = maxRoutes * 8;
  let overflowed = 0;

  const resolve = (template: string | undefined): string => {
    if (template === undefined) return UNMATCHED_ROUTE;
    const cached = byTemplate.get(template);
    if (cached !== undefined) return cached;
    const node = routeNode(template) || UNMATCHED_ROUTE;
    if (!nodes.has(node)) {
      if (nodes.size >= maxRoutes) {
        overflowed++;
        e.counter('route_overflow');
        return OVERFLOW_ROUTE;
      }
      nodes.add(node);
    }
    if (byTemplate.size < maxTemplates) byTemplate.set(template, node);
    return node;
  };

  return {
    record(route, method, status, ms) {
      const key = `${resolve(route)}.${methodNode(method)}.${status === ABORTED ? ABORTED : statusClass(status)}`;
      e.counter(`requests.${key}`);
      // Microsecond resolution is plenty and keeps packets short (no 1.7207819999999998).
      e.timing(`response_time.${key}`, Math.round(ms * 1000) / 1000);
    },
    routes: () => [...nodes],
    get overflowed() {
      return overflowed;
    },
  };
}
