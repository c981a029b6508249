import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { createEmitter } from '../../../emitter/emitter.js';
import { createMemorySink } from '../../../emitter/memory-sink.js';
import type { Emitter } from '../../../emitter/types.js';
import { instrumentServer, type ServerInstrumentation } from '../node-http.js';
import { httpHarness } from './harness.js';
import { runLoad, type PlannedRequest } from './load.js';

const { capture, listen, until, expectReported } = httpHarness('test.web');

/** A small hand-written router, as plain node:http programs have, naming its routes. */
function app(hook: () => ServerInstrumentation): http.RequestListener {
  return (req, res) => {
    const url = req.url ?? '/';
    let m: RegExpExecArray | null;
    if ((m = /^\/users\/(\d+)$/.exec(url))) {
      hook().setRoute(req, '/users/:id');
      if (req.method === 'DELETE') {
        res.statusCode = 500;
        res.end('cannot');
        return;
      }
      res.end(`user ${m[1]}`);
      return;
    }
    if (url === '/users' && req.method === 'POST') {
      hook().setRoute(req, '/users');
      // Finish later, on another tick, like real I/O.
      setImmediate(() => {
        res.statusCode = 201;
        res.end('created');
      });
      return;
    }
    if (url === '/') {
      hook().setRoute(req, '/');
      res.end('home');
      return;
    }
    // No route named: the hook guesses a template from the URL.
    res.statusCode = 404;
    res.end('not found');
  };
}

function buildPlan(n: number): { plan: PlannedRequest[]; expected: Map<string, number> } {
  const plan: PlannedRequest[] = [];
  const expected = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = i % 6;
    const entry: [PlannedRequest, string] =
      k === 0 || k === 1
        ? [{ method: 'GET', path: `/users/${i}` }, 'users_id.get.2xx']
        : k === 2
          ? [{ method: 'POST', path: '/users' }, 'users.post.2xx']
          : k === 3
            ? [{ method: 'DELETE', path: `/users/${i}` }, 'users_id.delete.5xx']
            : k === 4
              ? [{ method: 'GET', path: `/nothing/${i}?q=${i}` }, 'nothing_id.get.4xx']
              : [{ method: 'HEAD', path: '/' }, 'root.head.2xx'];
    plan.push(entry[0]);
    expected.set(entry[1], (expected.get(entry[1]) ?? 0) + 1);
  }
  return { plan, expected };
}

describe('instrumentServer (node:http)', () => {
  it('under load, counts and timer samples per route/method/status equal the requests made', async () => {
    const { sink, emitter } = capture();
    let hook: ServerInstrumentation | undefined;
    const server = http.createServer(app(() => hook!));
    hook = instrumentServer(server, { emitter });
    const port = await listen(server);
    const N = 1200;
    const { plan, expected } = buildPlan(N);
    const statuses = await runLoad(port, plan, 16);
    expect(statuses.filter((s) => s >= 200 && s < 600)).toHaveLength(N);
    // The server records on the response's 'close', which can trail the client's last byte.
    await until(sink, (s) => [...s.counters().values()].reduce((a, b) => a + b, 0) >= N);

    expectReported(sink, expected);
    expect(hook.metrics.overflowed).toBe(0);
    expect(hook.metrics.routes().sort()).toEqual(['nothing_id', 'root', 'users', 'users_id']);
  });

  it('caps route cardinality: routes past maxRoutes go to "other" and are counted', async () => {
    const { sink, emitter } = capture();
    const server = http.createServer((_req, res) => res.end('ok'));
    const hook = instrumentServer(server, { emitter, maxRoutes: 3 });
    const port = await listen(server);
    const paths = ['/a', '/b', '/c', '/d', '/e', '/a', '/f/1', '/b?x=1'];
    await runLoad(port, paths.map((path) => ({ method: 'GET', path })), 1);
    await until(sink, (s) => [...s.counters().entries()].filter(([k]) => k.includes('.requests.')).reduce((a, [, v]) => a + v, 0) >= paths.length);
    expect(Object.fromEntries(sink.counters())).toEqual({
      'test.web.http.requests.a.get.2xx': 2,
      'test.web.http.requests.b.get.2xx': 2,
      'test.web.http.requests.c.get.2xx': 1,
      'test.web.http.requests.other.get.2xx': 3,
      'test.web.http.route_overflow': 3,
    });
    expect(hook.metrics.overflowed).toBe(3);
    expect(hook.metrics.routes()).toEqual(['a', 'b', 'c']);
  });

  it('a client that goes away before the response is reported as "aborted"', async () => {
    const { sink, emitter } = capture();
    let arrived!: () => void;
    const arrival = new Promise<void>((r) => (arrived = r));
    const pending: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => {
      pending.push(res); // never answered until the client is gone
      arrived();
    });
    instrumentServer(server, { emitter, route: () => '/slow' });
    const port = await listen(server);
    const req = http.request({ host: '127.0.0.1', port, path: '/slow', agent: false });
    req.on('error', () => {}); // the abort we cause
    req.end();
    await arrival;
    req.destroy();
    await until(sink, (s) => s.counters().has('test.web.http.requests.slow.get.aborted'));
    expect(sink.counters().get('test.web.http.requests.slow.get.aborted')).toBe(1);
    expect(sink.timings().get('test.web.http.response_time.slow.get.aborted')).toHaveLength(1);
    for (const r of pending) r.destroy();
  });

  it('detach() stops instrumenting new requests', async () => {
    const { sink, emitter } = capture();
    const server = http.createServer((_req, res) => res.end('ok'));
    const hook = instrumentServer(server, { emitter });
    const port = await listen(server);
    await runLoad(port, [{ method: 'GET', path: '/x' }], 1);
    await until(sink, (s) => s.counters().get('test.web.http.requests.x.get.2xx') === 1);
    hook.detach();
    // A second hook is the witness: both would record in the same 'close' emit, so once the
    // witness has seen /y, the detached hook would have too.
    const witness = capture();
    instrumentServer(server, { emitter: witness.emitter });
    await runLoad(port, [{ method: 'GET', path: '/x' }, { method: 'GET', path: '/y' }], 1);
    await until(witness.sink, (s) => s.counters().get('test.web.http.requests.y.get.2xx') === 1);
    expect(sink.counters().get('test.web.http.requests.x.get.2xx')).toBe(1);
    expect(sink.counters().has('test.web.http.requests.y.get.2xx')).toBe(false);
  });
});

describe('createHttpMetrics naming', () => {
  it('folds methods and status codes into bounded nodes', async () => {
    const { createHttpMetrics } = await import('../http-metrics.js');
    const { sink, emitter } = capture();
    const m = createHttpMetrics({ emitter });
    m.record('/r', 'GET', 200, 1.23456);
    m.record('/r', 'PROPFIND', 207, 1);
    m.record('/r', 'post', 999, 1);
    m.record('/r', undefined, 'aborted', 1);
    m.record(undefined, 'OPTIONS', 204, 1);
    m.record('/r', 'HEAD', 101, 1);
    m.record('/r', 'PATCH', 302, 1);
    m.record('/r', 'PUT', 404, 1);
    m.record('/r', 'DELETE', 503, 1);
    await emitter.flush();
    expect([...sink.counters().keys()]).toEqual([
      'test.web.http.requests.r.get.2xx',
      'test.web.http.requests.r.other.2xx',
      'test.web.http.requests.r.other.other',
      'test.web.http.requests.r.other.aborted',
      'test.web.http.requests.unmatched.options.2xx',
      'test.web.http.requests.r.head.1xx',
      'test.web.http.requests.r.patch.3xx',
      'test.web.http.requests.r.put.4xx',
      'test.web.http.requests.r.delete.5xx',
    ]);
    expect(sink.timings().get('test.web.http.response_time.r.get.2xx')).toEqual([1.235]);
  });
});

describe('createHttpMetrics holds values until the emitter flushes', () => {
  const load = async () => {
    const { createHttpMetrics, HELD_MAX } = await import('../http-metrics.js');
    return { createHttpMetrics, HELD_MAX };
  };

  it('nothing per request; each flush hands over every count and time once, in order', async () => {
    const { createHttpMetrics } = await load();
    const { sink, emitter } = capture();
    const m = createHttpMetrics({ emitter });
    const times = [0.5, 1.25, 3, 0.001];
    for (const ms of times) m.record('/a', 'GET', 200, ms);
    m.record('/b', 'POST', 500, 7);
    expect(sink.samples).toEqual([]);
    await emitter.flush();
    expect(Object.fromEntries(sink.counters())).toEqual({ 'test.web.http.requests.a.get.2xx': 4, 'test.web.http.requests.b.post.5xx': 1 });
    expect(sink.timings().get('test.web.http.response_time.a.get.2xx')).toEqual(times);
    expect(sink.timings().get('test.web.http.response_time.b.post.5xx')).toEqual([7]);
    // A second flush with nothing new sends nothing: held values are handed over exactly once.
    const before = sink.samples.length;
    await emitter.flush();
    expect(sink.samples).toHaveLength(before);
    m.record('/a', 'GET', 200, 2);
    await emitter.flush();
    expect(sink.counters().get('test.web.http.requests.a.get.2xx')).toBe(5);
    expect(sink.timings().get('test.web.http.response_time.a.get.2xx')).toEqual([...times, 2]);
  });

  it('a busy series hands over every HELD_MAX times between flushes, losing none', async () => {
    const { createHttpMetrics, HELD_MAX } = await load();
    const { sink, emitter } = capture();
    const m = createHttpMetrics({ emitter });
    const n = HELD_MAX * 2 + 37;
    const want = Array.from({ length: n }, (_, i) => i / 1000);
    for (const ms of want) m.record('/busy', 'GET', 200, ms);
    // Two full batches went out without a flush; the last 37 are still held.
    expect(sink.counters().get('test.web.http.requests.busy.get.2xx')).toBe(HELD_MAX * 2);
    expect(sink.timings().get('test.web.http.response_time.busy.get.2xx')).toHaveLength(HELD_MAX * 2);
    await emitter.flush();
    expect(sink.counters().get('test.web.http.requests.busy.get.2xx')).toBe(n);
    expect(sink.timings().get('test.web.http.response_time.busy.get.2xx')).toEqual(want);
  });

  it('close() hands over what is held; requests after it are counted as rejected, not held', async () => {
    const { createHttpMetrics } = await load();
    const sink = createMemorySink();
    const emitter = createEmitter({ prefix: 'test.web', sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
    const m = createHttpMetrics({ emitter });
    m.record('/a', 'GET', 200, 1);
    m.record('/a', 'GET', 200, 2);
    await emitter.close();
    expect(Object.fromEntries(sink.counters())).toEqual({ 'test.web.http.requests.a.get.2xx': 2 });
    expect(sink.timings().get('test.web.http.response_time.a.get.2xx')).toEqual([1, 2]);
    m.record('/a', 'GET', 200, 3);
    expect(emitter.stats().rejected).toEqual({ closed: 2 });
  });

  it('an emitter without onFlush is called once per request (nothing held for a flush that never comes)', async () => {
    const { createHttpMetrics } = await load();
    const { sink, emitter } = capture();
    // The recorder works on a child: give it one without onFlush, as a hand-written emitter
    // would be.
    const plain: Emitter = {
      ...emitter,
      child: (o) => {
        const c = { ...emitter.child(o) };
        delete c.onFlush;
        return c;
      },
    };
    const m = createHttpMetrics({ emitter: plain });
    m.record('/a', 'GET', 200, 4);
    expect(Object.fromEntries(sink.counters())).toEqual({ 'test.web.http.requests.a.get.2xx': 1 });
    expect(sink.timings().get('test.web.http.response_time.a.get.2xx')).toEqual([4]);
  });
});
