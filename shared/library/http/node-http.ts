/**
 * A hook for plain `node:http` / `node:https` servers: one listener on the server, nothing to
 * change in the handler except (optionally) naming the route.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ABORTED, createHttpMetrics, type HttpMetrics, type HttpMetricsOptions } from './http-metrics.js';
import { guessTemplate } from './route-names.js';

/** Options of {@link instrumentServer}. */
export interface ServerInstrumentationOptions extends HttpMetricsOptions {
  /**
   * The route template of a finished request when the handler did not call
   * {@link ServerInstrumentation.setRoute}. Return undefined to fall back to a template guessed
   * from the URL (ids replaced by `:id`, see {@link guessTemplate}).
   */
  route?: (req: IncomingMessage) => string | undefined;
}

/** What {@link instrumentServer} returns. */
export interface ServerInstrumentation {
  /**
   * Name the route template of a request (`/users/:id`); call it from your router. The last
   * call before the response finishes wins.
   */
  setRoute(req: IncomingMessage, template: string): void;
  /** The recorder, for `routes()` and `overflowed`. */
  readonly metrics: HttpMetrics;
  /** Stop instrumenting requests that arrive from now on. */
  detach(): void;
}

/**
 * Instrument every request a `node:http` (or `node:https`) server handles: on each response's
 * end, a counter and a response-time timer per route, method and status class (see
 * {@link createHttpMetrics} for names). Response time runs from the `request` event to the
 * response's `close`; a client that disconnects first is reported with class `aborted`.
 *
 * ```ts
 * const server = http.createServer(handler);
 * const http = instrumentServer(server, { emitter: app.stats });
 * // in the handler: http.setRoute(req, '/users/:id');
 * ```
 */
export function instrumentServer(server: Pick<Server, 'prependListener' | 'removeListener'>, opts: ServerInstrumentationOptions): ServerInstrumentation {
  const metrics = createHttpMetrics(opts);
  // A symbol property on the request rather than a WeakMap keyed by requests: thousands of
  // short-lived ephemeron entries a second are work for every GC.
  const ROUTE = Symbol('telltale.route');
  type Named = IncomingMessage & { [ROUTE]?: string };
  const routeOf = opts.route;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const start = performance.now();
    // One 'close' listener instead of 'finish' + 'close': close always follows finish, and
    // writableFinished tells the two outcomes apart.
    res.on('close', () => {
      const template = (req as Named)[ROUTE] ?? routeOf?.(req) ?? guessTemplate(req.url ?? '/');
      metrics.record(template, req.method, res.writableFinished ? res.statusCode : ABORTED, performance.now() - start);
    });
  };
  // Prepended so the clock starts before the program's own handler runs.
  server.prependListener('request', onRequest);

  return {
    setRoute: (req, template) => {
      (req as Named)[ROUTE] = template;
    },
    metrics,
    detach: () => void server.removeListener('request', onRequest),
  };
}
