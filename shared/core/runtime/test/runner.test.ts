import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { obj } from '../../config/schema.js';
import type { InstanceConfig } from '../../config/load.js';
import { createEmitter } from '../../../emitter/emitter.js';
import { createMemorySink } from '../../../emitter/memory-sink.js';
import { defineIntegration, type IntegrationDefinition, type Shape } from '../../integration.js';
import { createLogger } from '../../log/logger.js';
import { prepare, runPoller, runService, InstanceCreateError, type RuntimeDeps } from '../runner.js';

function deps(): { deps: RuntimeDeps; sink: ReturnType<typeof createMemorySink>; logs: string[] } {
  const sink = createMemorySink();
  const logs: string[] = [];
  return {
    sink,
    logs,
    deps: {
      root: createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 }),
      log: createLogger({ write: (l) => void logs.push(l) }),
      stateDir: '/nonexistent',
      stdio: { stdin: new PassThrough(), stdout: new PassThrough() },
      now: Date.now,
      env: {},
    },
  };
}

function instance(def: IntegrationDefinition<Shape>, name: string, intervalMs = 50): InstanceConfig {
  return { name, type: def.type, definition: def, enabled: true, prefix: name, logLevel: 'debug', intervalMs, settings: {} };
}

describe('runtime', () => {
  it('a service that fails is logged, counted and restarted with backoff while the others keep running', async () => {
    let starts = 0;
    const flaky = defineIntegration({
      type: 'flaky',
      summary: '',
      mode: 'service',
      defaultPrefix: '',
      schema: obj({}),
      metrics: [],
      create: (_c, ctx) => ({
        start: async () => {
          starts++;
          if (starts === 1) throw new Error('boom on first start');
          ctx.emitter.counter('started');
        },
        once: async () => {},
        stop: async () => {},
      }),
    }) as unknown as IntegrationDefinition<Shape>;
    let ticks = 0;
    const steady = defineIntegration({
      type: 'steady',
      summary: '',
      mode: 'poller',
      defaultPrefix: '',
      schema: obj({}),
      metrics: [],
      create: (_c, ctx) => ({
        once: async () => {
          ticks++;
          ctx.emitter.gauge('tick', ticks);
        },
        stop: async () => {},
      }),
    }) as unknown as IntegrationDefinition<Shape>;
    const { deps: d, sink, logs } = deps();
    const h1 = runService(prepare(instance(flaky, 'flaky'), d), d);
    const h2 = runPoller(prepare(instance(steady, 'steady'), d), d);
    await sink.waitFor((s) => (s.counters().get('flaky.started') ?? 0) === 1, 5000);
    expect(starts).toBe(2);
    expect(sink.counters().get('telltale.runtime.flaky.crashes')).toBe(1);
    expect(sink.counters().get('telltale.runtime.flaky.restarts')).toBe(1);
    expect(logs.join('')).toMatch(/failed: boom on first start; restarting in 1s/);
    await sink.waitFor(() => ticks >= 3, 5000);
    await h1.stop();
    await h2.stop();
    const after = ticks;
    await new Promise((r) => setTimeout(r, 150));
    expect(ticks).toBe(after);
  });

  it('a failed poll is logged and counted; the next tick runs', async () => {
    let n = 0;
    const def = defineIntegration({
      type: 'p',
      summary: '',
      mode: 'poller',
      defaultPrefix: '',
      schema: obj({}),
      metrics: [],
      create: () => ({
        once: async () => {
          n++;
          if (n === 1) throw new Error('temporary');
        },
        stop: async () => {},
      }),
    }) as unknown as IntegrationDefinition<Shape>;
    const { deps: d, sink, logs } = deps();
    const h = runPoller(prepare(instance(def, 'p', 20), d), d);
    await sink.waitFor(() => n >= 3, 5000);
    await h.stop();
    expect(sink.counters().get('telltale.runtime.p.poll_errors')).toBe(1);
    expect(logs.join('')).toMatch(/poll failed: temporary/);
  });

  it('an error thrown by create() names the instance', () => {
    const def = defineIntegration({
      type: 'bad',
      summary: '',
      mode: 'service',
      defaultPrefix: '',
      schema: obj({}),
      metrics: [],
      create: () => {
        throw new Error('thresholds.memory.prcent: no such metric');
      },
    }) as unknown as IntegrationDefinition<Shape>;
    const { deps: d } = deps();
    expect(() => prepare(instance(def, 'mine'), d)).toThrow(InstanceCreateError);
    expect(() => prepare(instance(def, 'mine'), d)).toThrow('integrations.mine: thresholds.memory.prcent: no such metric');
  });
});
