#!/usr/bin/env node
/**
 * The `telltale` command. Logs go to stderr; stdout belongs to protocols (the supervisor
 * listener) and to `check`'s report.
 */
import { exitWhenWritten } from './exit.js';
import { existsSync } from 'node:fs';
import { registry } from '../integrations/index.js';
import { createEmitter } from '../shared/emitter/emitter.js';
import type { Emitter, Sink } from '../shared/emitter/types.js';
// Value imports of the config loader (YAML), the live page (ws) and the integrations' running code
// are dynamic: `--version` and `--help` load none of them, each command only what it runs.
import type { InstanceConfig, LoadedConfig, LoadOptions } from '../shared/core/config/load.js';
import { ConfigError } from '../shared/core/config/errors.js';
import { sinkWithDefaults, type SinkConfig } from '../shared/core/config/emitter-config.js';
import { createLogger, type Logger } from '../shared/core/log/logger.js';
import { applyProcessEnv, InstanceCreateError, prepare, runPoller, runService, type Handle, type Prepared, type RuntimeDeps } from '../shared/core/runtime/runner.js';
import { buildSinks } from '../shared/core/runtime/sinks.js';
import type { LiveHub } from '../shared/live/hub.js';
import type { LiveCatalogueEntry } from '../shared/live/catalogue.js';
import { joinPath, sanitizePath } from '../shared/emitter/names.js';
import { probeSinks } from './probe.js';
import { parseCli, usage, UsageError, type CliArgs } from './args.js';
import { version } from './version.js';

const EX_CONFIG = 78;
const STOP_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 3000;

function resolveConfigPath(args: CliArgs, env: NodeJS.ProcessEnv): string | undefined {
  if (args.config) return args.config;
  if (env['TELLTALE_CONFIG']) return env['TELLTALE_CONFIG'];
  return existsSync('/etc/telltale/integrations.yaml') ? '/etc/telltale/integrations.yaml' : undefined;
}

function overrideSinks(args: CliArgs, config: LoadedConfig): SinkConfig[] {
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

interface Program {
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

async function setup(args: CliArgs, env: NodeJS.ProcessEnv, select?: LoadOptions['select'], withLive = false): Promise<Program> {
  const path = resolveConfigPath(args, env);
  const opts: LoadOptions = { registry, env, ...(select ? { select } : {}) };
  const { defaultConfig, expandPrefix, loadConfigFile } = await import('../shared/core/config/load.js');
  const config = path ? loadConfigFile(path, opts) : defaultConfig(opts);
  const log = createLogger({ level: args.logLevel ?? config.logLevel });
  const sinkConfigs = overrideSinks(args, config);
  const stderr = (t: string): void => void process.stderr.write(t);
  const sinks = buildSinks(sinkConfigs, config.emitter.flushIntervalMs, log, stderr);
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

/**
 * statsd has no timestamp field: an integration whose metrics carry their own time (Puppet runs,
 * CloudWatch datapoints) keeps only its newest value there. Say so once, at start.
 */
function warnIfTimestampsLost(config: LoadedConfig, sinks: readonly SinkConfig[], log: Logger): void {
  if (sinks.some((s) => s.type === 'graphite')) return;
  const affected = config.integrations.filter((i) => i.enabled && emitsDatapoints(i)).map((i) => i.name);
  if (affected.length > 0) {
    log.warn(`${affected.join(', ')} emit timestamped datapoints, but no graphite sink is configured: statsd keeps only the newest value of each as a gauge (add a graphite sink for history and backfill)`);
  }
}

function emitsDatapoints(i: InstanceConfig): boolean {
  const { timestamped, metrics } = i.definition;
  return timestamped ? timestamped(i.settings as never) : metrics.some((m) => m.type === 'datapoint');
}

/** Resolves on the first SIGTERM/SIGINT; a second one exits at once. */
function untilSignal(log: Logger): Promise<string> {
  return new Promise((resolve) => {
    let seen = false;
    const on = (sig: NodeJS.Signals): void => {
      if (seen) {
        log.warn(`second ${sig}: exiting now`);
        process.exit(130);
      }
      seen = true;
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

async function shutdown(p: Program, handles: Handle[], code: number): Promise<never> {
  // Bounded: whatever happens, the process is gone within STOP + CLOSE timeouts.
  const hard = setTimeout(() => process.exit(code || 1), STOP_TIMEOUT_MS + CLOSE_TIMEOUT_MS + 1000);
  hard.unref();
  await Promise.all(
    handles.map((h) =>
      Promise.race([h.stop(), new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]).catch((e: unknown) =>
        p.log.error(`stopping ${h.name}: ${(e as Error).message}`),
      ),
    ),
  );
  const stats = await p.emitter.close({ timeoutMs: CLOSE_TIMEOUT_MS });
  await p.live?.stop();
  for (const [name, s] of Object.entries(stats.sinks)) {
    const dropped = Object.entries(s.dropped).filter(([, n]) => n > 0);
    if (dropped.length > 0) p.log.warn(`sink ${name} dropped lines`, Object.fromEntries(dropped));
  }
  // Still bounded by `hard`: a reader that never reads cannot keep the process.
  return exitWhenWritten(code);
}

/** A problem found by create(), at its key's FILE:LINE:COL (the instance's, when it names none). */
function createProblem(config: LoadedConfig, e: unknown): string {
  if (e instanceof InstanceCreateError) {
    return config.describe({ path: ['integrations', e.instance, ...e.path], message: e.detail, atKey: e.atKey });
  }
  return `${config.file}: ${(e as Error).message}`;
}

/** Loads the running code of just these integrations, then creates each instance. */
async function prepareAll(p: Program, list: LoadedConfig['integrations']): Promise<Prepared[]> {
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

async function cmdRun(args: CliArgs, env: NodeJS.ProcessEnv): Promise<never> {
  const p = await setup(args, env, undefined, true);
  if (p.live) {
    const { url } = await p.live.start();
    p.log.info(`live page: ${url}`);
  }
  const enabled = p.config.integrations.filter((i) => i.enabled);
  const handles: Handle[] = [];
  for (const i of enabled.filter((i) => i.definition.mode === 'listener')) {
    p.log.info(`${i.name}: ${i.type} is driven by its own stdin; run it as \`telltale ${i.type}\` (see its README)`);
  }
  const prepared = await prepareAll(p, enabled.filter((i) => i.definition.mode !== 'listener'));
  if (prepared.length === 0) p.log.warn('no long-running integration is enabled; waiting for a signal');
  for (const pr of prepared) handles.push(pr.inst.definition.mode === 'poller' ? runPoller(pr, p.deps) : runService(pr, p.deps));
  p.log.info(`running ${prepared.map((x) => x.inst.name).join(', ') || 'nothing'}`, { config: p.config.file });
  // Keep the event loop alive: sinks and watchers unref their handles.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  process.on('unhandledRejection', (e) => {
    p.log.error(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    p.emitter.child({ prefix: 'telltale.runtime' }).counter('unhandled');
  });
  const sig = await untilSignal(p.log);
  clearInterval(keepAlive);
  p.log.info(`${sig}: flushing and exiting`);
  return shutdown(p, handles, 0);
}

async function cmdOne(type: string, args: CliArgs, env: NodeJS.ProcessEnv): Promise<never> {
  const def = registry.find((d) => d.type === type);
  if (!def) throw new UsageError(`unknown command or integration "${type}"`);
  const p = await setup(args, env, { type, ...(args.name ? { name: args.name } : {}), set: args.set });
  const inst = p.config.integrations.find((i) => i.type === type && (args.name === undefined || i.name === args.name));
  if (!inst) throw new UsageError(`no instance named "${args.name}" of type ${type} in ${p.config.file}`);
  if (!inst.enabled) p.log.info(`${inst.name} is disabled in ${p.config.file}; running it because it was asked for by name`);
  const [pr] = await prepareAll(p, [inst]);
  if (!pr) throw new Error('unreachable');

  // A listener is driven by stdin until EOF; --once means the same for it.
  if (args.once || def.mode === 'listener') {
    const stop = untilSignal(p.log).then(async () => {
      pr.abort.abort();
      await pr.integration.stop();
    });
    void stop;
    try {
      await pr.integration.once();
      await pr.integration.stop();
    } catch (e) {
      const code = typeof (e as { exitCode?: unknown }).exitCode === 'number' ? (e as { exitCode: number }).exitCode : 1;
      p.log.error(`${inst.name}: ${(e as Error).message}`);
      await pr.integration.stop().catch(() => undefined);
      return shutdown(p, [], code);
    }
    return shutdown(p, [], 0);
  }
  const handle = def.mode === 'poller' ? runPoller(pr, p.deps) : runService(pr, p.deps);
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const sig = await untilSignal(p.log);
  clearInterval(keepAlive);
  p.log.info(`${sig}: flushing and exiting`);
  return shutdown(p, [handle], 0);
}

async function cmdCheck(args: CliArgs, env: NodeJS.ProcessEnv): Promise<never> {
  const path = resolveConfigPath(args, env);
  const opts: LoadOptions = { registry, env };
  // Loading validates everything, cross-key checks (each definition's validate()) included; no
  // integration's running code is loaded to check a file.
  const { defaultConfig, expandPrefix, loadConfigFile } = await import('../shared/core/config/load.js');
  const config = path ? loadConfigFile(path, opts) : defaultConfig(opts);
  const sinks = overrideSinks(args, config);
  const out = (s: string): void => void process.stdout.write(s + '\n');
  out(`config: ${config.file} (valid)`);
  out(`emitter: prefix=${args.prefix !== undefined ? expandPrefix(args.prefix) : config.emitter.prefix} flush_interval=${config.emitter.flushIntervalMs}ms`);
  out(`state_dir: ${config.stateDir}`);
  out('integrations:');
  for (const i of config.integrations) {
    out(`  ${i.name} (type ${i.type}, ${i.definition.mode}${i.enabled ? '' : ', disabled'}): prefix=${i.prefix || '(none)'} log_level=${i.logLevel}${i.definition.mode === 'poller' ? ` interval=${i.intervalMs}ms` : ''}`);
    out(`    ${JSON.stringify(i.settings)}`);
  }
  out('sinks:');
  const results = await probeSinks(sinks);
  for (const r of results) out(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.label}: ${r.detail}`);
  return exitWhenWritten(results.every((r) => r.ok) ? 0 : 1);
}


export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // Commands with flags of their own, loaded only when asked for.
  if (argv[0] === 'event') return exitWhenWritten(await (await import('./event.js')).cmdEvent(argv.slice(1), env));
  if (argv[0] === 'dashboard') return exitWhenWritten(await (await import('./dashboard.js')).cmdDashboard(argv.slice(1), env));
  const args = parseCli(argv);
  if (args.version) {
    process.stdout.write(`telltale ${version()}\n`);
    process.exit(0);
  }
  if (args.help || !args.command) {
    const text = usage(registry);
    if (args.help) {
      process.stdout.write(text);
      return exitWhenWritten(0);
    }
    process.stderr.write(text);
    process.exit(64);
  }
  if (args.command === 'run') await cmdRun(args, env);
  else if (args.command === 'check') await cmdCheck(args, env);
  else await cmdOne(args.command, args, env);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`telltale: ${e.message}\n`);
    process.exit(EX_CONFIG);
  }
  if (e instanceof UsageError) {
    process.stderr.write(`telltale: ${e.message}\n(see telltale --help)\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`telltale: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
