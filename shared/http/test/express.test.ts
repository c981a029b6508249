import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmitter } from '../../emitter/emitter.js';
import { createMemorySink, type MemorySink } from '../../emitter/memory-sink.js';
import type { Emitter } from '../../emitter/types.js';
import { expressMetrics } from '../express.js';
import { runLoad, type PlannedRequest } from './load.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function capture(): { sink: MemorySink; emitter: Emitter } {
  const sink = createMemorySink();
  const emitter = createEmitter({ prefix: 'test.api', sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
  cleanups.push(async () => void (await emitter.close()));
  return { sink, emitter };
}

async function listen(app: express.Express): Promise<number> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

const total = (s: MemorySink): number => [...s.counters().entries()].filter(([k]) => k.includes('.requests.')).reduce((a, [, v]) => a + v, 0);

describe('expressMetrics (Express 5)', () => {
  it('under load, reports each request under its route template (mounted routers included)', async () => {
    const { sink, emitter } = capture();
    const app = express();
    app.use(expressMetrics({ emitter, route: (req) => (req.originalUrl?.startsWith('/static/') ? '/static' : undefined) }));
    app.use('/static', (_req, res) => void res.send('file'));
    const api = express.Router();
    api.get('/users/:id', (req, res) => void res.json({ id: req.params['id'] }));
    api.post('/users', (_req, res) => {
      setImmediate(() => void res.status(201).json({ ok: true }));
    });
    api.delete('/users/:id', () => {
      throw new Error('handler failed'); // Express's error handler answers 500
    });
    app.use('/api/v1', api);
    app.get('/', (_req, res) => void res.send('home'));
    app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (res.headersSent) return next(err);
      res.status(500).send('error');
    });
    const port = await listen(app);

    const plan: PlannedRequest[] = [];
    const expected = new Map<string, number>();
    const add = (r: PlannedRequest, key: string): void => {
      plan.push(r);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    };
    const N = 900;
    for (let i = 0; i < N; i++) {
      switch (i % 6) {
        case 0:
        case 1:
          add({ method: 'GET', path: `/api/v1/users/${i}` }, 'api_v1_users_id.get.2xx');
          break;
        case 2:
          add({ method: 'POST', path: '/api/v1/users' }, 'api_v1_users.post.2xx');
          break;
        case 3:
          add({ method: 'DELETE', path: `/api/v1/users/${i}` }, 'api_v1_users_id.delete.5xx');
          break;
        case 4:
          add({ method: 'GET', path: `/no/such/${i}` }, 'unmatched.get.4xx');
          break;
        default:
          add(i % 12 === 5 ? { method: 'GET', path: '/' } : { method: 'GET', path: `/static/app.${i}.js` }, i % 12 === 5 ? 'root.get.2xx' : 'static.get.2xx');
      }
    }
    const statuses = await runLoad(port, plan, 16);
    expect(statuses).toHaveLength(N);
    await sink.waitFor((s) => total(s) >= N);

    const want: Record<string, number> = {};
    for (const [key, n] of expected) {
      want[`test.api.http.requests.${key}`] = n;
      expect(sink.timings().get(`test.api.http.response_time.${key}`), key).toHaveLength(n);
    }
    expect(Object.fromEntries(sink.counters())).toEqual(want);
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
    await sink.waitFor((s) => total(s) >= N + 1);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.api.http.requests.api_v1_users_id.get.2xx': N / 2 + 1,
      'test.api.http.requests.api_v1_users_id.delete.5xx': N / 2,
    });
  });

  it('route cap applies to Express templates too', async () => {
    const { sink, emitter } = capture();
    const app = express();
    const mw = expressMetrics({ emitter, maxRoutes: 2 });
    app.use(mw);
    for (const r of ['/one', '/two', '/three', '/four']) app.get(r, (_req, res) => void res.send(r));
    const port = await listen(app);
    await runLoad(port, ['/one', '/two', '/three', '/four', '/one'].map((path) => ({ method: 'GET', path })), 1);
    await sink.waitFor((s) => total(s) >= 5);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.api.http.requests.one.get.2xx': 2,
      'test.api.http.requests.two.get.2xx': 1,
      'test.api.http.requests.other.get.2xx': 2,
      'test.api.http.route_overflow': 2,
    });
    expect(mw.metrics.overflowed).toBe(2);
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
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => plain.close(() => r())));
    await runLoad(port, [{ method: 'GET', path: '/admin/jobs/7' }, { method: 'GET', path: '/admin/nope' }], 1);
    await runLoad((plain.address() as AddressInfo).port, [{ method: 'GET', path: '/x' }], 1);
    await sink.waitFor((s) => total(s) >= 3);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.api.http.requests.admin_jobs_id.get.2xx': 1,
      'test.api.http.requests.unmatched.get.4xx': 1,
      'test.api.http.requests.unmatched.get.2xx': 1,
    });
    expect(Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'route')).toBeUndefined();
  });
});
