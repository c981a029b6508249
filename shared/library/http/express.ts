/**
 * Express instrumentation, in two forms that share the route hook and the close handler:
 * `instrumentExpress(app)` (recommended: not an Express layer) and the `expressMetrics()`
 * middleware. Structurally typed: it imports nothing from express, so telltale does not depend
 * on it and works with Express 4 and 5 alike.
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

/** Options of {@link instrumentExpress} and {@link expressMetrics}. */
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
 * The parts of an Express app {@link instrumentExpress} uses. `handle` is not in Express's
 * published types, so it is checked at run time rather than declared here.
 */
export interface ExpressLikeApp {
  /** The per-app request prototype Express puts under every request (`app.request`). */
  request: object;
}

/** What {@link instrumentExpress} returns. */
export interface ExpressInstrumentation {
  /** The recorder, for `routes()` and `overflowed`. */
  readonly metrics: HttpMetrics;
  /** Stop instrumenting requests that arrive from now on. */
  detach(): void;
}

type Handle = (req: ExpressLikeRequest, res: ServerResponse, next?: (err?: unknown) => void) => unknown;

/**
 * Instrument an Express app (4 or 5) without adding a middleware: the recommended form, cheaper
 * than {@link expressMetrics}. Call it once, before or after the routes are added:
 *
 * ```ts
 * const web = express();
 * instrumentExpress(web, { emitter: app.stats });
 * web.use('/api/v1', usersRouter); // reported as api_v1_users_id, …
 * ```
 *
 * Why not a middleware: Express's router charges every layer on every request (matching, its
 * `next()` bookkeeping, property reads on a request whose hidden class is its own). This form
 * wraps `app.handle`, which the server calls once per request before any routing, and installs
 * the route hook on `app.request` at once, so Express's router runs the same layers as without
 * telltale. In the same bench runs it cost about half of what the middleware form did (the
 * Overhead section of shared/library/app/README.md).
 *
 * Same metrics as the middleware (see {@link createHttpMetrics}): the template is the mount path
 * of the router that matched plus the route's path, also when a handler fails and an error
 * handler answers; requests no route handled are `unmatched` unless the `route` option names
 * them; a client that goes away first is `aborted`. Response time runs from `app.handle` to the
 * response's `close`. `detach()` restores `app.handle` (the route hook stays on `app.request`:
 * it only keeps `req.route` working).
 *
 * @throws TypeError when `app` has no `handle` function or no `request` prototype (not an
 *   Express app: use `instrumentServer` for plain node:http servers)
 */
export function instrumentExpress(app: ExpressLikeApp, opts: ExpressMetricsOptions): ExpressInstrumentation {
  const target = app as ExpressLikeApp & { handle?: unknown };
  const original = target.handle;
  if (typeof original !== 'function') throw new TypeError('instrumentExpress: app.handle is not a function; pass the app that express() returned');
  if (typeof app.request !== 'object' || app.request === null) throw new TypeError('instrumentExpress: app.request is not an object; pass the app that express() returned');
  const { metrics, watch } = createWatcher(opts);
  // Installed now, not on the first request: Express 4 moves req onto app.request in a
  // middleware, Express 5 inside handle(), both after the wrapper below runs.
  const states = installRouteHook(app.request);
  let attached = true;
  const instrumented = function (this: unknown, req: ExpressLikeRequest, res: ServerResponse, next?: (err?: unknown) => void): unknown {
    if (attached) watch(req, res, states, true);
    return (original as Handle).call(this, req, res, next);
  };
  target.handle = instrumented;
  return {
    metrics,
    detach() {
      attached = false;
      // Someone may have wrapped handle after us: then ours stays in their chain, passing through.
      if (target.handle === instrumented) target.handle = original;
    },
  };
}

/**
 * Express middleware that reports each request under its route template, the way
 * django-statsd reports views: `app.use(expressMetrics({ emitter: app.stats }))` first, before
 * any router (it must see requests before they are routed). Prefer {@link instrumentExpress},
 * which measures the same without being an Express layer (every layer costs each request).
 * The template is the mount path of the router that matched plus the route's path, also when a
 * handler fails and an error handler answers. Requests no route handled (404s, static files) are
 * reported as `unmatched` unless the `route` option names them. Names: see
 * {@link createHttpMetrics}.
 */
export function expressMetrics(opts: ExpressMetricsOptions): ExpressMetricsMiddleware {
  const { metrics, watch } = createWatcher(opts);
  // Per request prototype: the route-state table its hook uses (null: not hookable).
  const hooks = new WeakMap<object, RouteStates | null>();
  // An app has one request prototype: remembering the last one skips the table lookup.
  let lastProto: object | null | undefined;
  let lastStates: RouteStates | null = null;
  const middleware = (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    // The middleware learns the app's request prototype from the first request it sees.
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
    watch(req, res, states, false);
    next();
  };
  return Object.assign(middleware, { metrics });
}

/**
 * The recorder and the one close handler both forms use: `watch` starts the clock on a request
 * and records it when its response closes, under the template the route hook captured.
 */
function createWatcher(opts: ExpressMetricsOptions): {
  metrics: HttpMetrics;
  /**
   * `early`: called before Express moves req onto its prototypes (instrumentExpress), so the
   * request's route state can live on req itself; see installRouteHook.
   */
  watch: (req: ExpressLikeRequest, res: ServerResponse, states: RouteStates | null, early: boolean) => void;
} {
  const metrics = createHttpMetrics(opts);
  const routeOf = opts.route;
  const watch = (req: ExpressLikeRequest, res: ServerResponse, states: RouteStates | null, early: boolean): void => {
    const start = performance.now();
    let own: RouteState | undefined;
    if (early && states !== null) {
      // Another instrumentExpress on the same app (a second emitter) may have given req its
      // state already: share it, since the one route hook writes only to that.
      own = (req as Stateful)[STATE];
      if (own === undefined) {
        own = { route: undefined, template: undefined };
        (req as Stateful)[STATE] = own;
      }
    }
    // Read now: for instrumentExpress, before Express moves req onto its prototypes. After that
    // every read of req or res takes V8's slow lookup path (see installRouteHook).
    const method = req.method;
    // 'finish' marks the response handed to the OS in full, what res.writableFinished says at
    // close, and a close without it is an abort. Why not that getter: on a res Express has
    // re-parented it costs four slow lookups through Express's prototype chain, measured at
    // ~3 us per request (0.96x of bare Express with it, 0.99x with the 'finish' listener).
    let status: number | typeof ABORTED = ABORTED;
    res.on('finish', () => {
      status = res.statusCode;
    });
    res.on('close', () => {
      // The template must be read when the router assigns req.route: only then is req.baseUrl
      // the mount path of the router that matched. By the time the response closes, an error
      // passed to next() has unwound the routers and reset baseUrl (found by the error-path
      // test); the route hook captured it in `states`. The fallback covers requests whose
      // prototype is not hookable (not Express, or a sub-app that hooked its own prototype):
      // the matched route as it stands at the end.
      const template = routeOf?.(req) ?? (own ?? stateOf(req, states))?.template ?? closeTimeTemplate(req);
      metrics.record(template, method, status, performance.now() - start);
    });
  };
  return { metrics, watch };
}

interface RouteState {
  route: ExpressLikeRequest['route'];
  template: string | undefined;
}
type RouteStates = WeakMap<object, RouteState>;

const HOOK = Symbol('telltale.express.hook');
/** A request's route state, stored on the request itself by instrumentExpress (see installRouteHook). */
const STATE = Symbol('telltale.express.route');
type Stateful = object & { [STATE]?: RouteState | undefined };

/** The route state of a request: its own (instrumentExpress), else the hook's table entry. */
function stateOf(req: object, states: RouteStates | null): RouteState | undefined {
  return (req as Stateful)[STATE] ?? states?.get(req);
}

/**
 * Make `req.route = …` (Express's router) also record `baseUrl + route.path` at that moment,
 * in the request's route state. Only on an Express per-app request prototype: never on
 * IncomingMessage.prototype itself, which would change every request in the process. Several
 * middlewares (or a middleware and instrumentExpress) on one app share the first one's hook (its
 * table rides on the setter).
 *
 * Where the state lives. Express re-parents req and res onto its prototypes per request
 * (Object.setPrototypeOf), which leaves every request with a hidden class of its own (checked
 * with %HaveSameMap: no two share one), so a property added to req after that is a slow map
 * transition (defineProperty ~4 us, a symbol property ~2-5 us, CPU profiles). instrumentExpress
 * adds its state object to req before Express moves it, while req still has Node's shared hidden
 * class (a cached transition), and the setter finds it with one lookup. Everything else (the
 * middleware form, requests nobody watches) gets an entry in the `states` WeakMap, created on
 * the first route assignment. The WeakMap is not free either: in CPU profiles of a pinned
 * Express server (1 Dec, perf, three processes each) the setter took 1.0-1.1% of the samples
 * with a WeakMap entry per request, most of it the insert with its ephemeron write barrier, and
 * the scavenger another 0.1-0.3% clearing old ephemerons; with the state on req the setter took
 * 0.4-0.45% and the ephemeron frames were gone (~2 us less per request on that VM).
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
  const stateFor = (req: object): RouteState => {
    let s = stateOf(req, states);
    if (s === undefined) {
      // Created on the first route assignment, for requests instrumentExpress did not see: the
      // middleware form, or none at all (a middleware mounted after the router, or detached:
      // req.route must still work).
      s = { route: undefined, template: undefined };
      states.set(req, s);
    }
    return s;
  };
  const set = function (this: ExpressLikeRequest, v: ExpressLikeRequest['route']): void {
    const s = stateFor(this);
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
      return stateOf(this, states)?.route;
    },
    set,
  });
  // A request without its own state then finds this one level up, not at the end of the chain.
  Object.defineProperty(proto, STATE, { value: undefined, writable: true, configurable: true });
  return states;
}

function closeTimeTemplate(req: ExpressLikeRequest): string | undefined {
  const path = req.route?.path;
  if (path === undefined) return undefined;
  return (req.baseUrl ?? '') + (typeof path === 'string' ? path : String(path));
}
