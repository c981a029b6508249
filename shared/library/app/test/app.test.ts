import { afterEach, describe, expect, it } from 'vitest';
import { createMemorySink, type MemorySink } from '../../../emitter/memory-sink.js';
import { createHttpMetrics } from '../../http/http-metrics.js';
import { createApp, type App } from '../app.js';
import { AppUsageError } from '../flags.js';

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function withSink(argv: string[], env: Record<string, string> = {}, name = 'thumbnailer'): { app: App; sink: MemorySink; logs: string[]; addresses: string[] } {
  const sink = createMemorySink();
  const logs: string[] = [];
  const addresses: string[] = [];
  const app = createApp({
    name,
    argv,
    env,
    handleExit: false,
    logWrite: (l) => void logs.push(l),
    createSink: (address) => {
      addresses.push(address);
      return sink;
    },
  });
  apps.push(app);
  return { app, sink, logs, addresses };
}

describe('createApp', () => {
  it('with --stats: emitter prefixed <environment>.<name>, sink built for the flags address', async () => {
    const { app, sink, addresses } = withSink(['--stats', '--stats-host', 'statsd.internal', '--stats-port', '9125', '--stats-environment', 'prod', 'in.jpg']);
    expect(addresses).toEqual(['udp://statsd.internal:9125']);
    expect(app.statsAddress).toBe('udp://statsd.internal:9125');
    expect(app.stats.prefix).toBe('prod.thumbnailer');
    expect(app.argv).toEqual(['in.jpg']);
    app.stats.counter('resized', 2);
    app.stats.child({ prefix: 'cache' }).counter('hits');
    await app.stats.flush();
    expect(Object.fromEntries(sink.counters())).toMatchObject({ 'prod.thumbnailer.resized': 2, 'prod.thumbnailer.cache.hits': 1 });
  });

  it('app.stats passes onFlush through, so the HTTP recorder batches and the app flush delivers', async () => {
    const { app, sink } = withSink(['--stats', '--stats-environment', 'prod']);
    const web = createHttpMetrics({ emitter: app.stats });
    web.record('/a', 'GET', 200, 1.5);
    expect(sink.samples).toEqual([]);
    await app.stats.flush();
    expect(Object.fromEntries(sink.counters())).toEqual({ 'prod.thumbnailer.http.requests.a.get.2xx': 1 });
    expect(sink.timings().get('prod.thumbnailer.http.response_time.a.get.2xx')).toEqual([1.5]);
  });

  it('dotted names add hierarchy; unusable names are refused', () => {
    const { app } = withSink(['--stats'], { NODE_ENV: 'staging' }, 'billing.worker');
    expect(app.stats.prefix).toBe('staging.billing.worker');
    expect(() => createApp({ name: '...', argv: [] })).toThrow(/name must contain/);
  });

  it('without --stats: no sink is built, nothing is recorded, timers still run the work', async () => {
    let built = 0;
    const app = createApp({ name: 'quiet', argv: ['--port', '1'], env: {}, createSink: () => (built++, createMemorySink()) });
    apps.push(app);
    expect(built).toBe(0);
    expect(app.statsAddress).toBeUndefined();
    expect(app.argv).toEqual(['--port', '1']);
    expect(app.stats.timer('run', () => 41 + 1)).toBe(42);
    await expect(app.stats.time('q', Promise.resolve('ok'))).resolves.toBe('ok');
    await expect(app.stats.timer('run', async () => 'async')).resolves.toBe('async');
    expect(app.stats.child({ prefix: 'x' })).toBeDefined();
    expect(app.stats.stats()).toEqual({ rejected: {}, sinks: {} });
    // No flush ever comes, so there is no hook: the HTTP recorder calls the no-op directly
    // instead of holding values.
    expect(app.stats.onFlush).toBeUndefined();
  });

  it('timer(): sync and async results pass through, time is recorded, failures counted and rethrown', async () => {
    const { app, sink } = withSink(['--stats', '--stats-environment', 'test']);
    expect(app.stats.timer('sync', () => 'v')).toBe('v');
    await expect(app.stats.timer('async', () => new Promise((r) => setTimeout(() => r('later'), 20)))).resolves.toBe('later');
    expect(() =>
      app.stats.timer('boom', () => {
        throw new Error('sync failure');
      }),
    ).toThrow('sync failure');
    await expect(app.stats.timer('reject', () => Promise.reject(new Error('async failure')))).rejects.toThrow('async failure');
    const t = sink.timings();
    expect(t.get('test.thumbnailer.sync')).toHaveLength(1);
    expect(t.get('test.thumbnailer.async')).toHaveLength(1);
    // The async timer covers the wait (setTimeout may fire a little early, never 10 ms early).
    expect(t.get('test.thumbnailer.async')![0]).toBeGreaterThanOrEqual(10);
    expect(t.get('test.thumbnailer.boom')).toHaveLength(1);
    expect(t.get('test.thumbnailer.reject')).toHaveLength(1);
    const c = sink.counters();
    expect(c.get('test.thumbnailer.boom.errors')).toBe(1);
    expect(c.get('test.thumbnailer.reject.errors')).toBe(1);
    expect(c.get('test.thumbnailer.sync.errors')).toBeUndefined();
    expect(c.get('test.thumbnailer.async.errors')).toBeUndefined();
  });

  it('time(promise): records on settle, counts rejections', async () => {
    const { app, sink } = withSink(['--stats', '--stats-environment', 'test']);
    await expect(app.stats.time('fetch', Promise.resolve(3))).resolves.toBe(3);
    await expect(app.stats.time('fetch', Promise.reject(new Error('nope')))).rejects.toThrow('nope');
    expect(sink.timings().get('test.thumbnailer.fetch')).toHaveLength(2);
    expect(sink.counters().get('test.thumbnailer.fetch.errors')).toBe(1);
  });

  it('logger: stderr-style lines scoped to the name, at --log-level', () => {
    const { app, logs } = withSink(['--log-level', 'warn']);
    app.log.info('hidden');
    app.log.warn('shown', { n: 1 });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/warn  \[thumbnailer\] shown n=1\n$/);
  });

  it('close(): flushes, is idempotent, later calls are counted as rejected not sent', async () => {
    const { app, sink } = withSink(['--stats']);
    app.stats.gauge('queue', 3);
    await Promise.all([app.close(), app.close()]);
    expect(sink.gauges().get('development.thumbnailer.queue')).toBe(3);
    app.stats.gauge('queue', 4);
    expect(sink.gauges().get('development.thumbnailer.queue')).toBe(3);
    expect(app.stats.stats().rejected['closed']).toBe(1);
  });

  it('a malformed flag or an unusable address is an AppUsageError naming it', () => {
    expect(() => createApp({ name: 'x', argv: ['--stats-port', 'http'], env: {} })).toThrow(AppUsageError);
    expect(() => createApp({ name: 'x', argv: ['--stats', '--stats-host', 'ftp://h:1'], env: {}, handleExit: false })).toThrow(
      /--stats-host\/--stats-port: cannot send stats to ftp:\/\/h:1: unsupported transport "ftp:\/\/"/,
    );
  });
});
