/**
 * Runs integration instances: services are started and restarted with backoff when they fail,
 * pollers are called every interval without overlap, and one failing instance never takes the
 * others down. Each instance gets its own narrow context.
 */
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { InstanceConfig } from '../config/load.js';
import type { Emitter } from '../../emitter/types.js';
import { ConfigKeyError, type Integration, type IntegrationContext } from '../integration.js';
import type { Logger } from '../log/logger.js';
import { createSelfMetrics } from './self-metrics.js';
import { createStateFiles } from './state-files.js';

export interface RuntimeDeps {
  root: Emitter;
  log: Logger;
  stateDir: string;
  stdio: { stdin: Readable; stdout: Writable };
  now: () => number;
  /** The environment integrations see as `ctx.env`. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface Prepared {
  inst: InstanceConfig;
  ctx: IntegrationContext;
  abort: AbortController;
  integration: Integration;
}

export class InstanceCreateError extends Error {
  override name = 'InstanceCreateError' as const;
  readonly instance: string;
  /**
   * Where in the instance's settings the problem is: the key a `ConfigKeyError` names, or `[]`
   * (the instance itself) for any other error, so every problem create() finds is reported at a
   * FILE:LINE:COL.
   */
  readonly path: readonly (string | number)[];
  /** The message without the key. */
  readonly detail: string;
  /** Point at the key rather than its value (always, for the instance itself). */
  readonly atKey: boolean;
  constructor(instance: string, cause: unknown) {
    super(`integrations.${instance}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.instance = instance;
    this.path = cause instanceof ConfigKeyError ? cause.path : [];
    this.atKey = this.path.length === 0 || (cause instanceof ConfigKeyError && cause.atKey);
    this.detail = cause instanceof ConfigKeyError ? cause.detail : cause instanceof Error ? cause.message : String(cause);
  }
}

export function makeContext(inst: InstanceConfig, deps: RuntimeDeps, abort: AbortController): IntegrationContext {
  return {
    name: inst.name,
    emitter: deps.root.child({ prefix: inst.prefix }),
    log: deps.log.child(inst.type === inst.name ? inst.name : `${inst.type}/${inst.name}`, inst.logLevel),
    clock: { now: deps.now },
    signal: abort.signal,
    self: createSelfMetrics(deps.root, inst.type, inst.name),
    stateDir: join(deps.stateDir, inst.name),
    state: createStateFiles(join(deps.stateDir, inst.name), { type: inst.type, instance: inst.name }),
    intervalMs: inst.intervalMs,
    env: deps.env,
    stdio: deps.stdio,
  };
}

/** create() for one instance; validation errors in create() surface as InstanceCreateError. */
export function prepare(inst: InstanceConfig, deps: RuntimeDeps): Prepared {
  const abort = new AbortController();
  const ctx = makeContext(inst, deps, abort);
  try {
    const integration = inst.definition.create(inst.settings as never, ctx);
    return { inst, ctx, abort, integration };
  } catch (e) {
    throw new InstanceCreateError(inst.name, e);
  }
}

/**
 * Sets, in `env` (the process environment), what the definitions of the instances about to run
 * ask for in `processEnv`, except variables already set: the operator's environment wins.
 * Returns what it set.
 */
export function applyProcessEnv(instances: readonly InstanceConfig[], env: NodeJS.ProcessEnv): Record<string, string> {
  const set: Record<string, string> = {};
  const byDefinition = new Map<InstanceConfig['definition'], unknown[]>();
  for (const i of instances) {
    if (!i.definition.processEnv) continue;
    byDefinition.set(i.definition, [...(byDefinition.get(i.definition) ?? []), i.settings]);
  }
  for (const [def, configs] of byDefinition) {
    for (const [k, v] of Object.entries(def.processEnv!(configs as never))) {
      if (env[k] !== undefined || k in set) continue;
      env[k] = v;
      set[k] = v;
    }
  }
  return set;
}

export interface Handle {
  readonly name: string;
  stop(): Promise<void>;
}

const RESTART_BASE_MS = 1000;
const RESTART_CAP_MS = 60_000;
/** A service that stayed up this long gets its restart backoff reset. */
const HEALTHY_AFTER_MS = 5 * 60_000;

/** A long-running service with restart-on-failure. */
export function runService(first: Prepared, deps: RuntimeDeps): Handle {
  const { inst } = first;
  const runtime = deps.root.child({ prefix: `telltale.runtime.${inst.name}` });
  const log = first.ctx.log;
  let current: Prepared | undefined = first;
  let stopped = false;
  let attempt = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let startedAt = 0;

  const launch = async (p: Prepared): Promise<void> => {
    current = p;
    startedAt = deps.now();
    try {
      if (!p.integration.start) throw new Error(`${inst.type} has no long-running mode`);
      await p.integration.start();
      runtime.gauge('up', 1);
    } catch (e) {
      await fail(p, e);
    }
  };

  const fail = async (p: Prepared, e: unknown): Promise<void> => {
    if (stopped) return;
    runtime.counter('crashes');
    runtime.gauge('up', 0);
    if (deps.now() - startedAt > HEALTHY_AFTER_MS) attempt = 0;
    const delay = Math.min(RESTART_CAP_MS, RESTART_BASE_MS * 2 ** attempt);
    attempt++;
    log.error(`failed: ${e instanceof Error ? e.message : String(e)}; restarting in ${Math.round(delay / 1000)}s`, { attempt });
    p.abort.abort();
    await p.integration.stop().catch(() => undefined);
    current = undefined;
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopped) return;
      runtime.counter('restarts');
      try {
        void launch(prepare(inst, deps));
      } catch (err) {
        void fail(p, err);
      }
    }, delay);
  };

  void launch(first);
  return {
    name: inst.name,
    async stop() {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      const p = current;
      if (p) {
        p.abort.abort();
        await p.integration.stop();
      }
    },
  };
}

/** A poller: once() now, then every interval; a failed poll is logged, counted, and retried next tick. */
export function runPoller(p: Prepared, deps: RuntimeDeps): Handle {
  const runtime = deps.root.child({ prefix: `telltale.runtime.${p.inst.name}` });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  const tick = async (): Promise<void> => {
    if (stopped) return;
    const started = deps.now();
    inFlight = p.integration.once().then(
      () => runtime.gauge('up', 1),
      (e: unknown) => {
        runtime.counter('poll_errors');
        runtime.gauge('up', 0);
        p.ctx.log.error(`poll failed: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
    await inFlight;
    inFlight = undefined;
    if (stopped) return;
    // Fixed rate, never overlapping: a slow poll delays the next one instead of stacking.
    const wait = Math.max(0, p.inst.intervalMs - (deps.now() - started));
    timer = setTimeout(() => void tick(), wait);
  };
  void tick();
  return {
    name: p.inst.name,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      p.abort.abort();
      await inFlight;
      await p.integration.stop();
    },
  };
}
