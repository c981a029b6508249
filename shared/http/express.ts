/**
 * Express middleware. Structurally typed: it imports nothing from express, so telltale does not
 * depend on it and works with Express 4 and 5 alike.
 */
import { IncomingMessage, type ServerResponse } from 'node:http';
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
  const hooked = new WeakSet<object>();
  const middleware = (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    const start = performance.now();
    // The template must be read when the router assigns req.route: only then is req.baseUrl the
    // mount path of the router that matched. By the time the response closes, an error passed
    // to next() has unwound the routers and reset baseUrl (found by the error-path test).
    // Express gives every app its own request prototype (app.request); an accessor there costs
    // nothing per request, where one defined on each req cost ~4 us (measured: it turns the
    // object into a slow dictionary).
    const proto = Object.getPrototypeOf(req) as object | null;
    if (proto !== null && !hooked.has(proto)) {
      hooked.add(proto);
      installRouteHook(proto);
    }
    res.on('close', () => {
      const r = req as ExpressLikeRequest & { [TEMPLATE]?: string };
      // The fallback covers requests whose prototype is not hookable (not Express, or a mounted
      // sub-app that swapped the prototype): the matched route as it stands at the end.
      const template = routeOf?.(req) ?? r[TEMPLATE] ?? closeTimeTemplate(req);
      metrics.record(template, req.method, res.writableFinished ? res.statusCode : ABORTED, performance.now() - start);
    });
    next();
  };
  return Object.assign(middleware, { metrics });
}

const ROUTE = Symbol('telltale.express.route');
const TEMPLATE = Symbol('telltale.express.template');
const HOOK = Symbol('telltale.express.hook');

interface Hooked {
  [ROUTE]?: ExpressLikeRequest['route'];
  [TEMPLATE]?: string;
  baseUrl?: string;
}

/**
 * Make `req.route = …` (Express's router) also record `baseUrl + route.path` at that moment.
 * Only on an Express per-app request prototype: never on IncomingMessage.prototype itself,
 * which would change every request in the process.
 */
function installRouteHook(proto: object): void {
  if (proto === IncomingMessage.prototype) return;
  const existing = Object.getOwnPropertyDescriptor(proto, 'route');
  if (existing !== undefined && (!existing.configurable || (existing.set as { [HOOK]?: boolean } | undefined)?.[HOOK])) return;
  // Template strings reused per route object and mount path: the same string every time keeps
  // the recorder's lookups cheap (no fresh concatenation to hash per request).
  const templates = new WeakMap<object, { base: string; template: string }>();
  const set = function (this: Hooked, v: ExpressLikeRequest['route']): void {
    this[ROUTE] = v;
    if (v === undefined || v === null) return;
    const base = this.baseUrl ?? '';
    const known = templates.get(v);
    if (known !== undefined && known.base === base) {
      this[TEMPLATE] = known.template;
      return;
    }
    const path = v.path;
    if (path === undefined) return;
    const template = base + (typeof path === 'string' ? path : String(path));
    templates.set(v, { base, template });
    this[TEMPLATE] = template;
  };
  Object.defineProperty(set, HOOK, { value: true });
  Object.defineProperty(proto, 'route', {
    configurable: true,
    enumerable: true,
    get(this: Hooked) {
      return this[ROUTE];
    },
    set,
  });
}

function closeTimeTemplate(req: ExpressLikeRequest): string | undefined {
  const path = req.route?.path;
  if (path === undefined) return undefined;
  return (req.baseUrl ?? '') + (typeof path === 'string' ? path : String(path));
}
