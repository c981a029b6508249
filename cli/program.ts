/**
 * What every command that runs integrations sets up: the config (with --config, TELLTALE_CONFIG
 * or /etc/telltale), the sinks (file or --statsd/--graphite/--print), the root emitter with the
 * live page attached, the runtime's dependencies, and the creation of instances.
 */
import { createEmitter } from '../shared/emitter/emitter.js';
import type { Emitter, Sink } from '../shared/emitter/types.js';
import { joinPath, sanitizePath } from '../shared/emitter/names.js';
// Value imports of the config loader (YAML), the live page (ws) and the integrations' running code
// are dynamic: `--version` and `--help` load none of them, each command only what it runs.
import type { LoadedConfig, LoadOptions } from '../shared/core/config/load.js';
import { ConfigError } from '../shared/core/config/errors.js';
import { sinkWithDefaults, type SinkConfig } from '../shared/core/config/emitter-config.js';
import { createLogger, type Logger } from '../shared/core/log/logger.js';
import { applyProcessEnv, InstanceCreateError, prepare, type Prepared, type RuntimeDeps } from '../shared/core/runtime/runner.js';
import { buildSinks } from '../shared/core/runtime/sinks.js';
import type { LiveHub } from '../shared/live/hub.js';
import type { LiveCatalogueEntry } from '../shared/live/catalogue.js';
import { UsageError, type CliArgs } from './args.js';
import { loadConfig } from './config.js';
import { warnIfTimestampsLost } from './warnings.js';

export function overrideSinks(args: CliArgs, config: LoadedConfig): SinkConfig[] {
  const flag = (name: string, type: SinkConfig['type'], address?: string): SinkConfig => {
    const s = sinkWithDefaults(type, address);
    if (typeof s === 'string') throw new UsageError(`${name}: ${s}`);
    return s;
  };
  let sinks = config.emitter.sinks;
  if (args.statsd || args.graphite) {
    sinks = [];
    if (args.statsd) sinks.push(flag('--statsd', 'statsd', args.statsd));
    if (args.graphite) sinks.push(flag('--graphite', 'graphite', args.graphite));
  }
  if (args.print) sinks = [...sinks, flag('--print', 'console')];
  return sinks;
}

export interface Program {
  config: LoadedConfig;
  emitter: Emitter;
  sinks: Sink[];
  log: Logger;
  deps: RuntimeDeps;
  live: LiveHub | undefined;
  env: NodeJS.ProcessEnv;
}

/** The live page's chart catalogue: every enabled instance's MetricDocs under their full prefix. */
function liveCatalogue(config: LoadedConfig, rootPrefix: string): LiveCatalogueEntry[] {
  return config.integrations
    .filter((i) => i.enabled)
    .flatMap((i) =>
      i.definition.metrics.map((m) => ({
        pattern: joinPath(rootPrefix, joinPath(sanitizePath(i.prefix), m.name)),
        type: m.type,
        unit: m.unit,
        description: m.description,
        integration: i.name,
      })),
    );
}

export async function setup(args: CliArgs, env: NodeJS.ProcessEnv, select?: LoadOptions['select'], withLive = false): Promise<Program> {
  const config = await loadConfig(args.config, env, select);
  const { expandPrefix } = await import('../shared/core/config/load.js');
  const log = createLogger({ level: args.logLevel ?? config.logLevel });
  const sinkConfigs = overrideSinks(args, config);
  const stderr = (t: string): void => void process.stderr.write(t);
  const sinks = await buildSinks(sinkConfigs, config.emitter.flushIntervalMs, log, stderr);
  const prefix = args.prefix !== undefined ? expandPrefix(args.prefix) : config.emitter.prefix;
  // The live page is one more sink: integrations never know it exists.
  const live =
    withLive && config.live?.enabled
      ? (await import('../shared/live/hub.js')).createLiveHub(config.live, {
          log: log.child('live'),
          catalogue: liveCatalogue(config, sanitizePath(prefix)),
          // Loaded with the hub: only a config with the live page pays for it.
          services: (await import('./dashboard/model.js')).liveServices(config, sanitizePath(prefix)),
        })
      : undefined;
  if (live) sinks.push(live.sink);
  const emitter = createEmitter({
    prefix,
    sinks,
    flushIntervalMs: config.emitter.flushIntervalMs,
    maxPastSeconds: Math.floor(config.emitter.maxDatapointAgeMs / 1000),
  });
  live?.attach(emitter);
  warnIfTimestampsLost(config, sinkConfigs, log);
  if (args.logLevel) for (const i of config.integrations) i.logLevel = args.logLevel;
  const deps: RuntimeDeps = {
    root: emitter,
    log,
    stateDir: config.stateDir,
    stdio: { stdin: process.stdin, stdout: process.stdout },
    now: Date.now,
    env,
  };
  return { config, emitter, sinks, log, deps, live, env };
}

/** A problem found by create(), at its key's FILE:LINE:COL (the instance's, when it names none). */
export function createProblem(config: LoadedConfig, e: unknown): string {
  if (e instanceof InstanceCreateError) {
    return config.describe({ path: ['integrations', e.instance, ...e.path], message: e.detail, atKey: e.atKey });
  }
  return `${config.file}: ${(e as Error).message}`;
}

/** Loads the running code of just these integrations, then creates each instance. */
export async function prepareAll(p: Program, list: LoadedConfig['integrations']): Promise<Prepared[]> {
  await Promise.all([...new Set(list.map((i) => i.definition))].map((d) => d.load()));
  const set = applyProcessEnv(list, p.env);
  if (Object.keys(set).length > 0) p.log.debug('set in the process environment for the integrations\' libraries', set);
  const prepared: Prepared[] = [];
  const problems: string[] = [];
  for (const inst of list) {
    try {
      prepared.push(prepare(inst, p.deps));
    } catch (e) {
      problems.push(createProblem(p.config, e));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return prepared;
}
