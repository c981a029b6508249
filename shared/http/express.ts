/**
 * Express middleware. Structurally typed: it imports nothing from express, so telltale does not
 * depend on it and works with Express 4 and 5 alike.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ABORTED, createHttpMetrics, type HttpMetrics, type HttpMetricsOptions } from './http-metrics.js';

/** The parts of an Express request the middleware reads. */
export interface ExpressLikeRequest extends IncomingMessage {
  /** Set by Express's router to the matched route; its `path` is the template. */
  route?: { path?: unknown } | undefined;
  /** The mount path of the router that matched (`/api` for `app.use('/api', router)`). */
  baseUrl?: string;
  /** The URL as received; Express rewrites `req.url` inside mounted routers. */
  originalUrl?: string;
}

/** Options of {@link expressMetrics}. */
export interface ExpressMetricsOptions extends HttpMetricsOptions {
  /**
   * Name requests that no route handles (static files, a catch-all middleware); checked before
   * Express's matched route. Return undefined to use the matched route, else `unmatched`. Read
   * `req.originalUrl`, not `req.url`: Express rewrites `req.url` inside mounted middleware.
   */
  route?: (req: ExpressLikeRequest) => string | undefined;
}

/** An Express middleware with the recorder attached. */
export interface ExpressMetricsMiddleware {
  (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The recorder, for `routes()` and `overflowed`. */
  readonly metrics: HttpMetrics;
}

/**
 * Express middleware that reports each request under its route template, the way
 * django-statsd reports views: `app.use(expressMetrics({ emitter: app.stats }))` first, before
 * any router (it must see requests before they are routed). The template is the mount path of
 * the router that matched plus the route's path (`/api/users/:id`), also when a handler fails
 * and an error handler answers. Requests no route handled (404s, static files) are reported as
 * `unmatched` unless the `route` option names them. Names: see {@link createHttpMetrics}.
 */
export function expressMetrics(opts: ExpressMetricsOptions): ExpressMetricsMiddleware {
  const metrics = createHttpMetrics(opts);
  const routeOf = opts.route;
  const middleware = (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    const start = performance.now();
    // The template must be read when the router assigns req.route: only then is req.baseUrl the
    // mount path of the router that matched. By the time the response closes, an error passed
    // to next() has unwound the routers and reset baseUrl (found by the error-path test).
    let route = req.route;
    let template: string | undefined;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (v: ExpressLikeRequest['route']) => {
        route = v;
        const path = v?.path;
        if (path !== undefined) template = (req.baseUrl ?? '') + (typeof path === 'string' ? path : String(path));
      },
    });
    res.once('close', () => {
      metrics.record(routeOf?.(req) ?? template, req.method, res.writableFinished ? res.statusCode : ABORTED, performance.now() - start);
    });
    next();
  };
  return Object.assign(middleware, { metrics });
}
