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
}

/** Options of {@link expressMetrics}. */
export interface ExpressMetricsOptions extends HttpMetricsOptions {
  /**
   * Name requests that no route handles (static files, a catch-all middleware); checked before
   * Express's matched route. Return undefined to use the matched route, else `unmatched`.
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
 * any router. The template is the mount path plus the matched route's path (`/api/users/:id`),
 * read when the response closes, so it works for routers mounted anywhere. Requests no route
 * handled are reported as `unmatched`. Names: see {@link createHttpMetrics}.
 */
export function expressMetrics(opts: ExpressMetricsOptions): ExpressMetricsMiddleware {
  const metrics = createHttpMetrics(opts);
  const routeOf = opts.route;
  const middleware = (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    const start = performance.now();
    res.once('close', () => {
      let template = routeOf?.(req);
      if (template === undefined) {
        const path = req.route?.path;
        if (path !== undefined) template = (req.baseUrl ?? '') + (typeof path === 'string' ? path : String(path));
      }
      metrics.record(template, req.method, res.writableFinished ? res.statusCode : ABORTED, performance.now() - start);
    });
    next();
  };
  return Object.assign(middleware, { metrics });
}
