/**
 * Loads integrations.yaml: syntax, ${ENV} interpolation, the emitter/live sections and every
 * integration instance, all validated strictly. Every problem is collected and reported at once
 * as FILE:LINE:COL: dotted.key: message, and nothing starts while any exist.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sanitizeNode } from '../../emitter/names.js';
import type { IntegrationDefinition, Shape } from '../integration.js';
import type { LogLevel } from '../log/logger.js';
import { FileTooBigError, NotRegularFileError, readRegularFileSync } from '../fs/regular-file.js';
import { checkLiveConfig, liveSchema, type LiveConfig } from './live-config.js';
import { DEFAULT_STATSD_ADDRESS, emitterSchema, logLevelSchema, sinkWithDefaults, type SinkConfig } from './emitter-config.js';
import { ConfigError } from './errors.js';
import type { ParsedConfigCache } from './parsed-cache.js';
import { aliasProblem, formatIssue, nthAlias, readYaml, type YamlSource } from './positions.js';
import { AliasLimitError, checkAliasExpansion, type AliasLimits } from '../yaml/alias-expansion.js';
import { bool, duration, INVALID, obj, str, type Issue, type ParseContext, type Schema } from './schema.js';

// Its own module, so the command can recognise it without loading the YAML parser.
export { ConfigError } from './errors.js';

export interface InstanceConfig {
  /** The map key in `integrations:`. */
  name: string;
  type: string;
  definition: IntegrationDefinition<Shape>;
  enabled: boolean;
  prefix: string;
  logLevel: LogLevel;
  intervalMs: number;
  /** The integration's own keys, validated by its schema. */
  settings: Record<string, unknown>;
}

export interface LoadedConfig {
  /** The file read, or '(defaults)' when none. */
  file: string;
  emitter: { prefix: string; flushIntervalMs: number; sinks: SinkConfig[]; maxDatapointAgeMs: number };
  /** The `live:` section; undefined when absent. */
  live: LiveConfig | undefined;
  logLevel: LogLevel;
  stateDir: string;
  integrations: InstanceConfig[];
  /** Formats an issue found after loading (e.g. by an integration's create()) with FILE:LINE:COL. */
  describe(issue: Issue): string;
}

export interface LoadOptions {
  registry: readonly IntegrationDefinition<Shape>[];
  env?: NodeJS.ProcessEnv;
  hostname?: string;
  /**
   * `telltale <type>`: make sure an instance of this type exists (injecting `{}` when the file
   * has none) and apply `--set key=value` overrides to it before validation.
   */
  select?: { type: string; name?: string; set?: Record<string, unknown> };
  /** Parsed data of texts seen before: an unchanged file is validated without parsing it again. */
  cache?: ParsedConfigCache;
}

const anything: Schema<unknown> = {
  expected: 'anything',
  isOptional: true,
  defaultValue: undefined,
  doc: undefined,
  parse: (v) => v,
  optional: () => anything,
  default: () => anything,
  describe: () => anything,
  refine: () => anything,
  map: () => anything as never,
};

const topSchema = obj({
  emitter: anything,
  live: anything,
  /** Default log level for every integration. */
  log_level: logLevelSchema.default('info'),
  /** Where integrations keep state (read positions, last-seen reports). */
  state_dir: str({ nonEmpty: true }).optional(),
  integrations: anything,
});

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/telltale';
  const base = env['XDG_STATE_HOME'] || resolve(homedir(), '.local/state');
  return resolve(base, 'telltale');
}

export function expandPrefix(prefix: string, host = hostname()): string {
  const short = host.split('.')[0] ?? host;
  return prefix.replaceAll('{host}', sanitizeNode(short)).replaceAll('{fqdn}', sanitizeNode(host));
}

/** Largest integrations.yaml read: a fleet of thousands of instances is a few hundred KB. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export function loadConfigFile(file: string, opts: LoadOptions): LoadedConfig {
  let text: string;
  try {
    // A FIFO would hang the start and /dev/zero abort it (std::bad_alloc): regular files only.
    text = readRegularFileSync(file, MAX_CONFIG_BYTES).data.toString('utf8');
  } catch (e) {
    if (e instanceof NotRegularFileError) throw new ConfigError([`${file}: not a regular file (${e.kind}); the config must be a file`]);
    if (e instanceof FileTooBigError) throw new ConfigError([`${file}: larger than ${MAX_CONFIG_BYTES} bytes; not a config file?`]);
    throw new ConfigError([`${file}: cannot read: ${(e as Error).message}`]);
  }
  return loadConfigText(file, text, opts);
}

/**
 * What shapes a parse besides the text, for the parsed-config cache's salt: the yaml package's
 * version and this loader's build (its size and time: a rebuilt loader never reads the entries
 * of the one before). Throws when either cannot be told.
 */
export function parserIdentity(): string {
  const yamlPackage = createRequire(import.meta.url).resolve('yaml/package.json');
  const yamlVersion = (JSON.parse(readFileSync(yamlPackage, 'utf8')) as { version: string }).version;
  const own = [import.meta.url, new URL('./positions.js', import.meta.url).href].map((u) => {
    const st = statSync(fileURLToPath(u));
    return `${st.size}@${st.mtimeMs}`;
  });
  return `yaml ${yamlVersion}; loader ${own.join(' ')}`;
}

/** Built-in defaults when no file is given: statsd on localhost, no integrations. */
export function defaultConfig(opts: LoadOptions): LoadedConfig {
  return loadConfigText('(defaults)', '{}', opts);
}

/**
 * Alias bounds for integrations.yaml. The yaml library's own guard (uses of an anchor times the
 * aliases inside it, default 100) refused a real config of 101 instances sharing two anchors; a
 * fleet config has hundreds to thousands. The same number bounds the aliases in the file (the
 * library's alias resolution is quadratic in them), and since neither counts size, the expanded
 * size is bounded separately (a real config is a few thousand nodes).
 */
export const CONFIG_MAX_ALIAS_COUNT = 10_000;
export const CONFIG_ALIAS_LIMITS: AliasLimits = { maxAliases: 10_000, maxExpandedNodes: 1_000_000 };

/** The document as plain data; alias excesses are config errors with FILE:LINE:COL. */
function configValue(src: YamlSource): unknown {
  // The library resolves each alias by scanning the aliases before it: bound their number first.
  const tooMany = nthAlias(src, CONFIG_MAX_ALIAS_COUNT + 1);
  if (tooMany) throw new ConfigError([tooMany]);
  let raw: unknown;
  try {
    raw = src.doc.toJS({ maxAliasCount: CONFIG_MAX_ALIAS_COUNT }) ?? {};
  } catch (e) {
    if (e instanceof ReferenceError) throw new ConfigError([aliasProblem(src, `aliases expand too much (more than ${CONFIG_MAX_ALIAS_COUNT} expansions of one anchor)`)]);
    throw e;
  }
  try {
    checkAliasExpansion(raw, CONFIG_ALIAS_LIMITS);
  } catch (e) {
    if (e instanceof AliasLimitError) throw new ConfigError([formatIssue(src, { path: e.path, message: e.message })]);
    throw e;
  }
  return raw;
}

export function loadConfigText(file: string, text: string, opts: LoadOptions): LoadedConfig {
  const env = opts.env ?? process.env;
  // The document with positions is needed to parse the text, and to place a problem found in
  // data that came from the cache: then it is parsed on the first problem.
  let parsed: YamlSource | undefined;
  const source = (): YamlSource => (parsed ??= readYaml(file, text, env));
  let raw = opts.cache?.get(text);
  if (raw === undefined) {
    const src = source();
    if (src.errors.length > 0) throw new ConfigError(src.errors);
    raw = configValue(src);
    if (!src.interpolated) opts.cache?.set(text, raw);
  }
  if (opts.select) applySelect(raw, opts.select);
  const ctx: ParseContext = { issues: [] };
  // Each top-level section is validated on its own so a typo in `emitter:` does not hide the
  // problems in `integrations:` — every issue is reported in one go.
  const rawTop = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  if (!rawTop) ctx.issues.push({ path: [], message: 'expected a mapping with emitter:, live:, integrations:' });
  const top = topSchema.parse({ ...rawTop, emitter: undefined, integrations: undefined, live: undefined }, [], ctx);
  const emitter = emitterSchema.parse(rawTop?.['emitter'], ['emitter'], ctx);

  let live: LiveConfig | undefined;
  const rawLive = rawTop?.['live'];
  if (rawLive !== undefined && rawLive !== null) {
    const parsed = liveSchema.parse(rawLive, ['live'], ctx);
    if (parsed !== INVALID) {
      const problem = checkLiveConfig(parsed);
      if (problem) ctx.issues.push({ path: ['live', 'listen'], message: problem });
      else live = parsed;
    }
  }

  const instances: InstanceConfig[] = [];
  const logLevel: LogLevel = top === INVALID ? 'info' : top.log_level;
  const rawIntegrations = rawTop?.['integrations'];
  if (rawIntegrations !== undefined && rawIntegrations !== null) {
    if (typeof rawIntegrations !== 'object' || Array.isArray(rawIntegrations)) {
      ctx.issues.push({ path: ['integrations'], message: 'expected a mapping of instance name to settings' });
    } else {
      for (const [name, value] of Object.entries(rawIntegrations as Record<string, unknown>)) {
        const inst = parseInstance(name, value, opts.registry, logLevel, ctx);
        if (inst) instances.push(inst);
      }
    }
  }
  if (ctx.issues.length > 0 || top === INVALID || emitter === INVALID) {
    const src = source();
    throw new ConfigError(sortIssues(src, ctx.issues).map((i) => formatIssue(src, i)));
  }

  const host = opts.hostname ?? hostname();
  const sinks: SinkConfig[] = emitter.sinks ?? [sinkWithDefaults('statsd', DEFAULT_STATSD_ADDRESS) as SinkConfig];
  const baseDir = file === '(defaults)' ? process.cwd() : dirname(resolve(file));
  return {
    file,
    emitter: { prefix: expandPrefix(emitter.prefix, host), flushIntervalMs: emitter.flush_interval, sinks, maxDatapointAgeMs: emitter.max_datapoint_age },
    live,
    logLevel,
    stateDir: top.state_dir ? resolve(baseDir, top.state_dir) : defaultStateDir(env),
    integrations: instances.map((i) => ({ ...i, prefix: expandPrefix(i.prefix, host) })),
    describe: (issue) => formatIssue(source(), issue),
  };
}

function parseInstance(
  name: string,
  value: unknown,
  registry: readonly IntegrationDefinition<Shape>[],
  defaultLevel: LogLevel,
  ctx: ParseContext,
): InstanceConfig | undefined {
  const path = ['integrations', name];
  const body = value ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    ctx.issues.push({ path, message: 'expected a mapping of settings (use {} for defaults)' });
    return undefined;
  }
  const { type: rawType, ...rest } = body as Record<string, unknown>;
  const type = rawType === undefined ? name : rawType;
  const def = typeof type === 'string' ? registry.find((d) => d.type === type) : undefined;
  if (!def) {
    const known = registry.map((d) => d.type).join(', ');
    ctx.issues.push(
      rawType === undefined
        ? { path, atKey: true, message: `unknown integration type "${name}"; set \`type:\` to one of: ${known}` }
        : { path: [...path, 'type'], message: `unknown integration type ${JSON.stringify(type)}; known: ${known}` },
    );
    return undefined;
  }
  const core = {
    enabled: bool().default(true),
    prefix: str().default(def.defaultPrefix),
    log_level: logLevelSchema.default(defaultLevel),
    ...(def.mode === 'poller' ? { interval: duration({ minMs: 100 }).default(def.defaultIntervalMs ?? 60_000) } : {}),
  };
  const schema = def.schema.extend(core);
  const parsed = schema.parse(rest, path, ctx);
  if (parsed === INVALID) return undefined;
  const { enabled, prefix, log_level, interval, ...settings } = parsed as Record<string, unknown>;
  const problems = def.validate?.(settings as never) ?? [];
  // A rule over several keys (path []) is reported at the instance's name, as create()'s are.
  for (const p of problems) ctx.issues.push({ ...p, path: [...path, ...p.path], atKey: p.atKey ?? p.path.length === 0 });
  if (problems.length > 0) return undefined;
  return {
    name,
    type: def.type,
    definition: def,
    enabled: enabled as boolean,
    prefix: prefix as string,
    logLevel: log_level as LogLevel,
    intervalMs: (interval as number | undefined) ?? def.defaultIntervalMs ?? 60_000,
    settings,
  };
}

function applySelect(raw: unknown, sel: NonNullable<LoadOptions['select']>): void {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return;
  const top = raw as Record<string, unknown>;
  const ints = (top['integrations'] ??= {}) as Record<string, unknown>;
  if (typeof ints !== 'object' || ints === null || Array.isArray(ints)) return;
  const typeOf = (k: string): unknown => {
    const v = ints[k];
    return v && typeof v === 'object' && 'type' in v ? (v as Record<string, unknown>)['type'] : k;
  };
  let name = sel.name ?? Object.keys(ints).find((k) => typeOf(k) === sel.type);
  if (name === undefined) {
    name = sel.type;
    ints[name] = {};
  } else if (ints[name] === undefined) {
    ints[name] = { type: sel.type };
  }
  const body = (ints[name] ??= {}) as Record<string, unknown>;
  if (typeof body === 'object' && sel.set) Object.assign(body, sel.set);
}

function sortIssues(src: YamlSource, issues: Issue[]): Issue[] {
  // Report in file order so the list reads top to bottom like the file.
  const line = (i: Issue): number => Number(/:(\d+):\d+:/.exec(formatIssue(src, i))?.[1] ?? 0);
  return [...issues].sort((a, b) => line(a) - line(b));
}
