/**
 * The standard flags every telltale-based program accepts, so an operator can turn stats on and
 * point them somewhere without reading the program's own docs. Pure: argv and env in, flags out.
 */
import { parseArgs } from 'node:util';
import { isLogLevel, LOG_LEVELS, type LogLevel } from '../../core/log/logger.js';

/** The parsed standard flags (after applying environment fallbacks and defaults). */
export interface AppFlags {
  /** `--stats`: send metrics. Off by default: without it nothing is sent and nothing is opened. */
  stats: boolean;
  /**
   * `--stats-host`: statsd host (default `127.0.0.1`). A full address such as
   * `tcp://statsd:8125` or `unix:///run/statsd.sock` is accepted too, and then `--stats-port`
   * is ignored.
   */
  statsHost: string;
  /** `--stats-port`: statsd port, 1-65535 (default 8125). */
  statsPort: number;
  /**
   * `--stats-environment`: the first node of every metric name (`<environment>.<name>.…`).
   * Default: `NODE_ENV`, else `development`.
   */
  statsEnvironment: string;
  /** `--log-level`: debug, info, warn, error or silent (default info). */
  logLevel: LogLevel;
  /** `--config`: a path handed to the program as is; telltale does not read it. */
  config?: string;
}

/** What {@link parseAppFlags} returns. */
export interface ParsedAppArgs {
  flags: AppFlags;
  /**
   * Every argument that is not a standard flag (the program's own flags, their values and
   * positionals), in the original order and spelling, ready for the program's own parser. A
   * `--` and everything after it is always left here.
   */
  rest: string[];
}

/** Thrown for a malformed standard flag or environment variable; the message names it. */
export class AppUsageError extends Error {
  override readonly name = 'AppUsageError';
}

/**
 * Environment variables read as fallbacks (a flag on the command line always wins). Handy in
 * containers where editing the command line is awkward.
 */
export const APP_ENV_VARS = {
  stats: 'TELLTALE_STATS',
  statsHost: 'TELLTALE_STATS_HOST',
  statsPort: 'TELLTALE_STATS_PORT',
  statsEnvironment: 'TELLTALE_STATS_ENVIRONMENT',
  logLevel: 'TELLTALE_LOG_LEVEL',
  config: 'TELLTALE_CONFIG',
} as const;

const OPTIONS = {
  stats: { type: 'boolean' },
  'stats-host': { type: 'string' },
  'stats-port': { type: 'string' },
  'stats-environment': { type: 'string' },
  'log-level': { type: 'string' },
  config: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

/**
 * Parse the standard flags out of `argv` (without the node and script paths, i.e.
 * `process.argv.slice(2)`), falling back to {@link APP_ENV_VARS} in `env`.
 *
 * Unknown flags are not an error: they are left, untouched, in `rest` for the program. Because
 * an unknown flag's value cannot be told from a positional, prefer `--flag=value` for the
 * program's own flags if they might be confused with ours (they never are consumed by us).
 *
 * @throws AppUsageError naming the flag or variable for a missing or malformed value.
 */
export function parseAppFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParsedAppArgs {
  const { tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const consumed = new Set<number>();
  const given: Partial<Record<OptionName, string | true>> = {};
  for (const t of tokens) {
    if (t.kind === 'option-terminator') break;
    if (t.kind !== 'option' || !isOptionName(t.name)) continue;
    // A short-flag group like -vx shares one index with other flags; ours are all long, so an
    // index we consume is always wholly ours.
    consumed.add(t.index);
    if (OPTIONS[t.name].type === 'boolean') {
      if (t.value !== undefined) throw new AppUsageError(`--${t.name} takes no value (got "--${t.name}=${t.value}")`);
      given[t.name] = true;
      continue;
    }
    if (t.value === undefined) throw new AppUsageError(`--${t.name} needs a value, e.g. --${t.name}=VALUE`);
    if (!t.inlineValue) consumed.add(t.index + 1);
    given[t.name] = t.value;
  }
  const rest = argv.filter((_, i) => !consumed.has(i));

  const str = (flag: OptionName, envName: string): { value: string; from: string } | undefined => {
    const v = given[flag];
    if (typeof v === 'string') return { value: v, from: `--${flag}` };
    const e = env[envName];
    return e === undefined || e === '' ? undefined : { value: e, from: envName };
  };

  let stats = given.stats === true;
  if (!stats) {
    const raw = env[APP_ENV_VARS.stats];
    if (raw !== undefined && raw !== '') {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) stats = true;
      else if (!['0', 'false', 'no', 'off'].includes(v)) {
        throw new AppUsageError(`${APP_ENV_VARS.stats} must be 1/true/yes/on or 0/false/no/off, got "${raw}"`);
      }
    }
  }

  const host = str('stats-host', APP_ENV_VARS.statsHost);
  const statsHost = host?.value.trim() ?? '127.0.0.1';
  if (statsHost === '') throw new AppUsageError(`${host?.from ?? '--stats-host'} must not be empty`);

  const port = str('stats-port', APP_ENV_VARS.statsPort);
  let statsPort = 8125;
  if (port) {
    if (!/^\d{1,5}$/.test(port.value.trim()) || Number(port.value) < 1 || Number(port.value) > 65535) {
      throw new AppUsageError(`${port.from} must be a port number 1-65535, got "${port.value}"`);
    }
    statsPort = Number(port.value);
  }

  const envName = str('stats-environment', APP_ENV_VARS.statsEnvironment);
  const statsEnvironment = (envName?.value ?? env['NODE_ENV'] ?? 'development').trim();
  if (!/^[A-Za-z0-9_-]+$/.test(statsEnvironment)) {
    // A dot would add a hierarchy level and shift every dashboard's wildcard positions.
    throw new AppUsageError(
      `${envName?.from ?? 'NODE_ENV'} must be one metric node ([A-Za-z0-9_-], no dots), got "${statsEnvironment}"`,
    );
  }

  const lvl = str('log-level', APP_ENV_VARS.logLevel);
  const logLevel = lvl?.value.trim().toLowerCase() ?? 'info';
  if (!isLogLevel(logLevel)) {
    throw new AppUsageError(`${lvl?.from ?? '--log-level'} must be one of ${LOG_LEVELS.join(', ')}, got "${lvl?.value ?? ''}"`);
  }

  const flags: AppFlags = { stats, statsHost, statsPort, statsEnvironment, logLevel };
  const config = str('config', APP_ENV_VARS.config);
  if (config) flags.config = config.value;
  return { flags, rest };
}

/**
 * The statsd address the flags describe: `--stats-host` verbatim when it already is an address
 * (`udp://`, `tcp://`, `unix://`), else `udp://host:port` (IPv6 hosts bracketed).
 */
export function statsAddress(flags: Pick<AppFlags, 'statsHost' | 'statsPort'>): string {
  if (flags.statsHost.includes('://')) return flags.statsHost;
  const host = flags.statsHost.includes(':') && !flags.statsHost.startsWith('[') ? `[${flags.statsHost}]` : flags.statsHost;
  return `udp://${host}:${flags.statsPort}`;
}
