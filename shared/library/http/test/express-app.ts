/**
 * The Express app and request plan the Express instrumentation tests share, so that both forms
 * (instrumentExpress and expressMetrics) are held to the same routes and the same expectations.
 */
import express from 'express';
import type { ExpressLikeRequest } from '../express.js';
import type { PlannedRequest } from './load.js';

export type ExpressLib = typeof express;

export const errorHandler = (err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction): void => {
  if (res.headersSent) return next(err);
  res.status(500).send('error');
};

/** buildApp's `/static` files are a middleware, not a route: this `route` option names them. */
export const staticRoute = (req: ExpressLikeRequest): string | undefined => (req.originalUrl?.startsWith('/static/') ? '/static' : undefined);

/**
 * An app with the usual shapes: mounted and nested routers, a sub-app, failing handlers, a
 * catch-all. `first` runs before any route is added (where a middleware has to go).
 */
export function buildApp(express: ExpressLib, first?: (app: express.Express) => void): express.Express {
  const app = express();
  first?.(app);
  app.use('/static', (_req, res) => void res.send('file'));
  const api = express.Router();
  api.get('/users/:id', (req, res) => void res.json({ id: req.params['id'] }));
  api.post('/users', (_req, res) => {
    setImmediate(() => void res.status(201).json({ ok: true }));
  });
  api.delete('/users/:id', () => {
    throw new Error('handler failed'); // thrown inside the router: the error handler answers 500
  });
  api.put('/users/:id', (_req, _res, next) => {
    setImmediate(() => next(new Error('later'))); // passed on a later tick, after the routers returned
  });
  const admin = express.Router();
  admin.get('/jobs/:id', (_req, res) => void res.send('job'));
  api.use('/admin', admin);
  app.use('/api/v1', api);
  const billing = express(); // a mounted sub-app: Express swaps the request prototype for it
  billing.get('/invoices/:id', (_req, res) => void res.send('invoice'));
  app.use('/billing', billing);
  app.get('/', (_req, res) => void res.send('home'));
  app.use(errorHandler);
  return app;
}

/** n requests over buildApp's routes, and how many of each route.method.class they must give. */
export function buildPlan(n: number): { plan: PlannedRequest[]; expected: Map<string, number> } {
  const plan: PlannedRequest[] = [];
  const expected = new Map<string, number>();
  const add = (r: PlannedRequest, key: string): void => {
    plan.push(r);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  };
  for (let i = 0; i < n; i++) {
    switch (i % 10) {
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
        add({ method: 'PUT', path: `/api/v1/users/${i}` }, 'api_v1_users_id.put.5xx');
        break;
      case 5:
        add({ method: 'GET', path: `/api/v1/admin/jobs/${i}` }, 'api_v1_admin_jobs_id.get.2xx');
        break;
      case 6:
        add({ method: 'GET', path: `/billing/invoices/${i}?x=${i}` }, 'billing_invoices_id.get.2xx');
        break;
      case 7:
        add({ method: 'GET', path: `/no/such/${i}` }, 'unmatched.get.4xx');
        break;
      case 8:
        add({ method: 'HEAD', path: `/api/v1/users/${i}` }, 'api_v1_users_id.head.2xx');
        break;
      default:
        if (i % 20 === 9) add({ method: 'GET', path: '/' }, 'root.get.2xx');
        else add({ method: 'GET', path: `/static/app.${i}.js` }, 'static.get.2xx');
    }
  }
  return { plan, expected };
}

