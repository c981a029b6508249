import express from 'express';
import { describe, expect, it } from 'vitest';
import { expressMetrics } from '../express.js';
import { httpHarness, requestTotal } from './harness.js';
import { buildApp, buildPlan, staticRoute } from './express-app.js';
import { runLoad } from './load.js';

const { capture, listen, until, expectReported } = httpHarness('test.api');

describe('expressMetrics (Express 5)', () => {
  it('under load, reports each request under its route template (mounted routers and sub-apps included)', async () => {
    const { sink, emitter } = capture();
    const app = buildApp(express, (app) => {
      app.use(expressMetrics({ emitter, route: staticRoute }));
    });
    const port = await listen(app);

    const N = 900;
    const { plan, expected } = buildPlan(N);
    const statuses = await runLoad(port, plan, 16);
    expect(statuses).toHaveLength(N);
    await until(sink, (s) => requestTotal(s) >= N);

    expectReported(sink, expected);
  });

  it('mounted on a route rather than first: the full template also when the handler fails', async () => {
    // Here the router matches before the middleware runs, so the route hook (installed on the
    // middleware's first call) already holds the template: the middleware must keep it, not
    // start afresh and fall back to req.baseUrl at close, which the error has reset to ''.
    const { sink, emitter } = capture();
    const app = express();
    const mw = expressMetrics({ emitter });
    const api = express.Router();
    api.get('/users/:id', mw, (_req, res) => void res.send('user'));
    api.delete('/users/:id', mw, () => {
      throw new Error('handler failed');
    });
    app.use('/api/v1', api);
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).send('error'));
    const port = await listen(app);
    // The first request installs the hook; it is routed before that, so it is not part of the claim.
    await runLoad(port, [{ method: 'GET', path: '/api/v1/users/1' }], 1);
    const N = 40;
    const statuses = await runLoad(port, Array.from({ length: N }, (_, i) => ({ method: i % 2 ? 'DELETE' : 'GET', path: `/api/v1/users/${i}` })), 4);
    expect(statuses.filter((s) => s === 500)).toHaveLength(N / 2);
    await until(sink, (s) => requestTotal(s) >= N + 1);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.api.http.requests.api_v1_users_id.get.2xx': N / 2 + 1,
      'test.api.http.requests.api_v1_users_id.delete.5xx': N / 2,
    });
  });

  it('mounted sub-apps are reported under their full template; IncomingMessage.prototype is never touched', async () => {
    const { sink, emitter } = capture();
    const app = express();
    const mw = expressMetrics({ emitter });
    app.use(mw);
    const admin = express();
    admin.get('/jobs/:id', (_req, res) => void res.send('job'));
    app.use('/admin', admin);
    const port = await listen(app);
    // The same middleware on a plain node:http server (no Express prototype to hook).
    const { createServer, IncomingMessage } = await import('node:http');
    const plain = createServer((req, res) => mw(req, res, () => void res.end('plain')));
    const plainPort = await listen(plain);
    await runLoad(port, [{ method: 'GET', path: '/admin/jobs/7' }, { method: 'GET', path: '/admin/nope' }], 1);
    await runLoad(plainPort, [{ method: 'GET', path: '/x' }], 1);
    await until(sink, (s) => requestTotal(s) >= 3);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.api.http.requests.admin_jobs_id.get.2xx': 1,
      'test.api.http.requests.unmatched.get.4xx': 1,
      'test.api.http.requests.unmatched.get.2xx': 1,
    });
    expect(Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'route')).toBeUndefined();
  });
});
