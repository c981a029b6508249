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
  // Per request prototype: the route-state table its hook uses (null: not hookable).
  const hooks = new WeakMap<object, RouteStates | null>();
  // An app has one request prototype: remembering the last one skips the table lookup.
  let lastProto: object | null | undefined;
  let lastStates: RouteStates | null = null;
  const middleware = (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    const start = performance.now();
    // The template must be read when the router assigns req.route: only then is req.baseUrl the
    // mount path of the router that matched. By the time the response closes, an error passed
    // to next() has unwound the routers and reset baseUrl (found by the error-path test).
    // Express gives every app its own request prototype (app.request), so the hook is an
    // accessor there, installed once. Why nothing is stored on req itself: Express re-parents
    // req and res onto its prototypes per request (Object.setPrototypeOf), which leaves every
    // request with a hidden class of its own (checked with %HaveSameMap: no two share one), so
    // each property added to or read from them takes V8's slow lookup path. Measured
    // alternatives, per request: defineProperty on each req ~4 us, symbol properties added to
    // req ~2-5 us (CPU profile); a WeakMap entry costs well under 1 us.
    const proto = Object.getPrototypeOf(req) as object | null;
    let states = lastStates;
    if (proto !== lastProto) {
      let known = proto === null ? null : hooks.get(proto);
      if (known === undefined) {
        known = installRouteHook(proto!);
        hooks.set(proto!, known);
      }
      lastProto = proto;
      lastStates = states = known;
    }
    let state: RouteState | undefined;
    if (states !== null) {
      // A route matched before this middleware ran (it is mounted on a route) already has its
      // state, template included: keep it.
      state = states.get(req);
      if (state === undefined) {
        state = { route: undefined, template: undefined };
        states.set(req, state);
      }
    }
    res.on('close', () => {
      // The fallback covers requests whose prototype is not hookable (not Express, or a mounted
      // sub-app that swapped the prototype): the matched route as it stands at the end.
      const template = routeOf?.(req) ?? state?.template ?? closeTimeTemplate(req);
      metrics.record(template, req.method, res.writableFinished ? res.statusCode : ABORTED, performance.now() - start);
    });
    next();
  };
  return Object.assign(middleware, { metrics });
}

interface RouteState {
  route: ExpressLikeRequest['route'];
  template: string | undefined;
}
type RouteStates = WeakMap<object, RouteState>;

const HOOK = Symbol('telltale.express.hook');

/**
 * Make `req.route = …` (Express's router) also record `baseUrl + route.path` at that moment,
 * in a table keyed by request. Only on an Express per-app request prototype: never on
 * IncomingMessage.prototype itself, which would change every request in the process. Several
 * middlewares on one app share the first one's hook (its table rides on the setter).
 */
function installRouteHook(proto: object): RouteStates | null {
  if (proto === IncomingMessage.prototype) return null;
  const existing = Object.getOwnPropertyDescriptor(proto, 'route');
  const installed = (existing?.set as { [HOOK]?: RouteStates } | undefined)?.[HOOK];
  if (installed !== undefined) return installed;
  if (existing !== undefined && !existing.configurable) return null;
  const states: RouteStates = new WeakMap();
  // Template strings reused per route object and mount path: the same string every time keeps
  // the recorder's lookups cheap (no fresh concatenation to hash per request).
  const templates = new WeakMap<object, { base: string; template: string }>();
  const stateOf = (req: object): RouteState => {
    let s = states.get(req);
    if (s === undefined) {
      // A request the middleware did not see (mounted after a router): still keep req.route.
      s = { route: undefined, template: undefined };
      states.set(req, s);
    }
    return s;
  };
  const set = function (this: ExpressLikeRequest, v: ExpressLikeRequest['route']): void {
    const s = stateOf(this);
    s.route = v;
    if (v === undefined || v === null) return;
    const base = this.baseUrl ?? '';
    const known = templates.get(v);
    if (known !== undefined && known.base === base) {
      s.template = known.template;
      return;
    }
    const path = v.path;
    if (path === undefined) return;
    const template = base + (typeof path === 'string' ? path : String(path));
    templates.set(v, { base, template });
    s.template = template;
  };
  Object.defineProperty(set, HOOK, { value: states });
  Object.defineProperty(proto, 'route', {
    configurable: true,
    enumerable: true,
    get(this: object) {
      return states.get(this)?.route;
    },
    set,
  });
  return states;
}

function closeTimeTemplate(req: ExpressLikeRequest): string | undefined {
  const path = req.route?.path;
  if (path === undefined) return undefined;
  return (req.baseUrl ?? '') + (typeof path === 'string' ? path : String(path));
}
