/**
 * instrumentExpress: real Express 5 and Express 4 servers under load from an in-test client,
 * every request accounted for per route, method and status class. Imported from the library
 * entry, as users do.
 */
import http from 'node:http';
import express from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import type { Emitter } from '../../../emitter/types.js';
import { expressMetrics, instrumentExpress } from '../../index.js';
import { httpHarness, requestTotal } from './harness.js';
import { buildApp, buildPlan, errorHandler, staticRoute, type ExpressLib } from './express-app.js';
import { runLoad } from './load.js';

const { capture, listen, until, expectReported } = httpHarness('test.api');
const versions: [string, ExpressLib][] = [
  ['Express 5', express],
  ['Express 4', express4],
];

/** Express 4 builds its router lazily as app._router (and throws on app.router); Express 5 has app.router. */
const layerCount = (app: express.Express): number => ((app as unknown as { _router?: { stack: unknown[] } })._router ?? app.router).stack.length;

describe.each(versions)('instrumentExpress (%s)', (_version, express) => {
  it('under load, counts and timer samples per route/method/status equal the requests made', async () => {
    const { sink, emitter } = capture();
    const app = buildApp(express);
    const layers = layerCount(app);
    // After the routes were added: the hook does not depend on its place in the stack.
    const web = instrumentExpress(app, { emitter, route: staticRoute });
    expect(layerCount(app)).toBe(layers); // not an Express layer
    const port = await listen(app);

    const N = 1200;
    const { plan, expected } = buildPlan(N);
    const statuses = await runLoad(port, plan, 16);
    expect(statuses.filter((s) => s === 500)).toHaveLength(expected.get('api_v1_users_id.delete.5xx')! + expected.get('api_v1_users_id.put.5xx')!);
    // Recorded on each response's close, which can trail the client's last byte.
    await until(sink, (s) => requestTotal(s) >= N);

    expectReported(sink, expected);
    expect(web.metrics.routes().sort()).toEqual(['api_v1_admin_jobs_id', 'api_v1_users', 'api_v1_users_id', 'billing_invoices_id', 'root', 'static']);
    expect(web.metrics.overflowed).toBe(0);
  });

  it('reports exactly what expressMetrics reports for the same requests (one app, both forms)', async () => {
    const hooked = capture();
    const middleware = capture();
    const app = express();
    instrumentExpress(app, { emitter: hooked.emitter });
    const api = express.Router();
    // The middleware on a route inside a mounted router: it runs after the route matched.
    const mw = expressMetrics({ emitter: middleware.emitter });
    api.get('/users/:id', mw, (_req, res) => void res.send('user'));
    api.delete('/users/:id', mw, () => {
      throw new Error('handler failed');
    });
    app.use('/api/v1', api);
    app.use(errorHandler);
    const port = await listen(app);
    const N = 60;
    await runLoad(port, Array.from({ length: N }, (_, i) => ({ method: i % 3 ? 'GET' : 'DELETE', path: `/api/v1/users/${i}` })), 4);
    await until(hooked.sink, (s) => requestTotal(s) >= N);
    await until(middleware.sink, (s) => requestTotal(s) >= N);
    const want = { 'test.api.http.requests.api_v1_users_id.get.2xx': (2 * N) / 3, 'test.api.http.requests.api_v1_users_id.delete.5xx': N / 3 };
    expect(Object.fromEntries(hooked.sink.counters())).toEqual(want);
    expect(Object.fromEntries(middleware.sink.counters())).toEqual(want);
  });

  it('a client that goes away before the response is "aborted", under the route that matched', async () => {
    const { sink, emitter } = capture();
    let arrived!: () => void;
    const arrival = new Promise<void>((r) => (arrived = r));
    const pending: express.Response[] = [];
    const app = express();
    instrumentExpress(app, { emitter });
    const api = express.Router();
    api.get('/slow/:id', (_req, res) => {
      pending.push(res); // never answered until the client is gone
      arrived();
    });
    app.use('/api', api);
    const port = await listen(app);
    const req = http.request({ host: '127.0.0.1', port, path: '/api/slow/7', agent: false });
    req.on('error', () => {}); // the abort we cause
    req.end();
    await arrival;
    req.destroy();
    await until(sink, (s) => requestTotal(s) >= 1);
    expect(Object.fromEntries(sink.counters())).toEqual({ 'test.api.http.requests.api_slow_id.get.aborted': 1 });
    expect(sink.timings().get('test.api.http.response_time.api_slow_id.get.aborted')).toHaveLength(1);
    for (const r of pending) r.destroy();
  });

  it('two instrumentExpress on one app (two emitters) both report the full template, also when the handler fails', async () => {
    // Both wrappers watch the same request; they must share its route state. If each gave req a
    // state of its own, the outer one would see no template and fall back to req.baseUrl at
    // close, which the error has reset: 'users_id' instead of 'api_v1_users_id'.
    const first = capture();
    const second = capture();
    const app = express();
    const api = express.Router();
    api.get('/users/:id', (_req, res) => void res.send('user'));
    api.delete('/users/:id', () => {
      throw new Error('handler failed');
    });
    app.use('/api/v1', api);
    app.use(errorHandler);
    instrumentExpress(app, { emitter: first.emitter });
    instrumentExpress(app, { emitter: second.emitter });
    const port = await listen(app);
    const N = 20;
    const statuses = await runLoad(port, Array.from({ length: N }, (_, i) => ({ method: i % 2 ? 'DELETE' : 'GET', path: `/api/v1/users/${i}` })), 4);
    expect(statuses.filter((s) => s === 500)).toHaveLength(N / 2);
    const want = { 'test.api.http.requests.api_v1_users_id.get.2xx': N / 2, 'test.api.http.requests.api_v1_users_id.delete.5xx': N / 2 };
    for (const { sink } of [first, second]) {
      await until(sink, (s) => requestTotal(s) >= N);
      expect(Object.fromEntries(sink.counters())).toEqual(want);
    }
  });

  it('application code reads req.route as in bare Express: handlers, error handlers, close listeners, detached or not', async () => {
    // The route hook replaces Express's own req.route store, so what the app reads must come
    // back through it. Compared with the same app uninstrumented, not with guessed values.
    const build = (): { app: express.Express; seen: string[] } => {
      const app = express();
      const seen: string[] = [];
      const api = express.Router();
      api.get('/users/:id', (req, res) => {
        res.on('close', () => seen.push(`close ${String(req.route?.path)}`));
        res.send(`route ${String(req.route?.path)}`);
      });
      api.delete('/users/:id', () => {
        throw new Error('handler failed');
      });
      app.use('/api', api);
      app.use((_err: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).send(`error ${String(req.route?.path)}`));
      return { app, seen };
    };
    const run = async (app: express.Express, between?: () => void): Promise<string[]> => {
      const port = await listen(app);
      const ask = async (method: string, path: string): Promise<string> => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { connection: 'close' } });
        return `${r.status} ${await r.text()}`;
      };
      const bodies = [await ask('GET', '/api/users/1'), await ask('DELETE', '/api/users/1')];
      between?.();
      bodies.push(await ask('GET', '/api/users/2'), await ask('DELETE', '/api/users/2'));
      return bodies;
    };
    const bare = build();
    const bareBodies = await run(bare.app);
    expect(bareBodies[0]).toBe('200 route /users/:id');

    const { sink, emitter } = capture();
    const hooked = build();
    const web = instrumentExpress(hooked.app, { emitter });
    // After detach() the hook stays on app.request and keeps the route for requests nobody watches.
    expect(await run(hooked.app, () => web.detach())).toEqual(bareBodies);
    await until(sink, (s) => requestTotal(s) >= 2);
    expect(hooked.seen).toEqual(bare.seen);
    expect(hooked.seen).toEqual(['close /users/:id', 'close /users/:id']);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.api.http.requests.api_users_id.get.2xx': 1,
      'test.api.http.requests.api_users_id.delete.5xx': 1,
    });
  });
});

describe('instrumentExpress (Express 5)', () => {
  // Both forms share the cap (createWatcher); each is checked so a form that bypassed it would fail.
  const forms: [string, (app: express.Express, emitter: Emitter) => { metrics: { overflowed: number } }][] = [
    ['instrumentExpress', (app, emitter) => instrumentExpress(app, { emitter, maxRoutes: 2 })],
    ['expressMetrics', (app, emitter) => {
      const mw = expressMetrics({ emitter, maxRoutes: 2 });
      app.use(mw);
      return mw;
    }],
  ];
  it.each(forms)('route cap applies to %s: routes past maxRoutes go to "other" and are counted', async (_form, mount) => {
    const { sink, emitter } = capture();
    const app = express();
    const web = mount(app, emitter);
    for (const r of ['/one', '/two', '/three', '/four']) app.get(r, (_req, res) => void res.send(r));
    const port = await listen(app);
    await runLoad(port, ['/one', '/two', '/three', '/four', '/one'].map((path) => ({ method: 'GET', path })), 1);
    await until(sink, (s) => requestTotal(s) >= 5);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.api.http.requests.one.get.2xx': 2,
      'test.api.http.requests.two.get.2xx': 1,
      'test.api.http.requests.other.get.2xx': 2,
      'test.api.http.route_overflow': 2,
    });
    expect(web.metrics.overflowed).toBe(2);
  });

  it('detach() restores app.handle and stops instrumenting new requests', async () => {
    const { sink, emitter } = capture();
    const app = express();
    app.get('/:page', (_req, res) => void res.send('ok'));
    const original = (app as unknown as { handle: unknown }).handle;
    const web = instrumentExpress(app, { emitter });
    expect((app as unknown as { handle: unknown }).handle).not.toBe(original);
    const port = await listen(app);
    await runLoad(port, [{ method: 'GET', path: '/x' }], 1);
    await until(sink, (s) => s.counters().get('test.api.http.requests.page.get.2xx') === 1);
    web.detach();
    expect((app as unknown as { handle: unknown }).handle).toBe(original);
    // A second instrumentation is the witness: both record in the same 'close' emit, so once
    // the witness has seen the last request, the detached one would have too.
    const witness = capture();
    instrumentExpress(app, { emitter: witness.emitter });
    await runLoad(port, [{ method: 'GET', path: '/x' }, { method: 'GET', path: '/y' }], 1);
    await until(witness.sink, (s) => s.counters().get('test.api.http.requests.page.get.2xx') === 2);
    expect(Object.fromEntries(sink.counters())).toEqual({ 'test.api.http.requests.page.get.2xx': 1 });
  });

  it('detach() after someone else wrapped app.handle: their wrapper stays, ours passes requests through', async () => {
    const { sink, emitter } = capture();
    const app = express();
    app.get('/:page', (_req, res) => void res.send('ok'));
    const web = instrumentExpress(app, { emitter });
    const target = app as unknown as { handle: (...args: unknown[]) => unknown };
    const ours = target.handle;
    let theirs = 0;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      theirs++;
      return ours.apply(this, args);
    };
    target.handle = wrapper;
    const port = await listen(app);
    await runLoad(port, [{ method: 'GET', path: '/a' }], 1);
    await until(sink, (s) => requestTotal(s) === 1);
    web.detach();
    expect(target.handle).toBe(wrapper);
    const witness = capture();
    instrumentExpress(app, { emitter: witness.emitter });
    const statuses = await runLoad(port, [{ method: 'GET', path: '/b' }, { method: 'GET', path: '/c' }], 1);
    expect(statuses).toEqual([200, 200]);
    await until(witness.sink, (s) => requestTotal(s) === 2);
    expect(theirs).toBe(3);
    expect(requestTotal(sink)).toBe(1);
  });

  it('refuses what is not an Express app, naming the problem', () => {
    const { emitter } = capture();
    const server = http.createServer();
    expect(() => instrumentExpress(server as unknown as express.Express, { emitter })).toThrow(/app\.handle is not a function/);
    expect(() => instrumentExpress({ handle: () => undefined } as unknown as express.Express, { emitter })).toThrow(/app\.request is not an object/);
  });
});
