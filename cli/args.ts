/**
 * Standard flags every telltale program takes, parsed strictly: an unknown flag is an error,
 * never ignored.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isLogLevel, type LogLevel } from '../shared/core/log/logger.js';
import { yamlLib } from '../shared/core/yaml/yaml-lib.js';

/** The YAML parser loads for --set only: --version and --help never pay for it. */
function parseYamlScalar(text: string): unknown {
  return yamlLib().parse(text);
}

export interface CliArgs {
  command: string | undefined;
  config: string | undefined;
  logLevel: LogLevel | undefined;
  prefix: string | undefined;
  statsd: string | undefined;
  graphite: string | undefined;
  print: boolean;
  once: boolean;
  name: string | undefined;
  set: Record<string, unknown>;
  help: boolean;
  version: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError' as const;
  readonly exitCode = 64;
}

/**
 * node:util's parseArgs with its errors (unknown flag, missing value, a value for a boolean) as
 * UsageError, so every command answers a bad flag alike: its message, then exit 64.
 */
export function parseArgsOrUsage<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function parseCli(argv: readonly string[]): CliArgs {
  const parsed = parseArgsOrUsage({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      'log-level': { type: 'string' },
      prefix: { type: 'string' },
      statsd: { type: 'string' },
      graphite: { type: 'string' },
      print: { type: 'boolean' },
      once: { type: 'boolean' },
      name: { type: 'string' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  const v = parsed.values;
  if (parsed.positionals.length > 1) throw new UsageError(`unexpected argument "${parsed.positionals[1]}"`);
  const level = v['log-level'];
  if (level !== undefined && !isLogLevel(level)) throw new UsageError(`--log-level must be debug, info, warn, error or silent, got "${level}"`);
  const set: Record<string, unknown> = {};
  for (const kv of v.set ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got "${kv}"`);
    // Values are YAML scalars, so --set backfill=true and --set interval=5m mean what they say.
    set[kv.slice(0, eq)] = parseYamlScalar(kv.slice(eq + 1));
  }
  return {
    command: parsed.positionals[0],
    config: v.config,
    logLevel: level as LogLevel | undefined,
    prefix: v.prefix,
    statsd: v.statsd,
    graphite: v.graphite,
    print: v.print ?? false,
    once: v.once ?? false,
    name: v.name,
    set,
    help: v.help ?? false,
    version: v.version ?? false,
  };
}

export function usage(types: readonly { type: string; summary: string; mode: string }[]): string {
  return `Usage:
  telltale run    [options]            start every enabled long-running integration
  telltale check  [options]            validate the config, print effective settings, probe sinks
  telltale <type> [options] [--once]   run one integration on its own (supervisord, cron)
  telltale event <what> [--tags a,b] [--data TEXT] [--when EPOCH]   send an event (deploys, CI)
  telltale dashboard [--format grafana|graphite]   print a dashboard for what the config enables

Integrations:
${types.map((t) => `  ${t.type.padEnd(20)} ${t.summary}${t.mode === 'listener' ? ' (stdin protocol)' : ''}`).join('\n')}

Options:
  -c, --config FILE       integrations.yaml (default: $TELLTALE_CONFIG, then /etc/telltale/integrations.yaml)
      --log-level LEVEL   debug | info | warn | error | silent (logs go to stderr)
      --prefix PREFIX     override emitter.prefix ({host} and {fqdn} are substituted)
      --statsd HOST:PORT  send to this statsd instead of the configured sinks (udp:// tcp:// unix:// accepted)
      --graphite HOST:PORT  send to this carbon instead of the configured sinks
      --print             also print metrics to stderr as Graphite plaintext lines
      --once              process what is available now, emit, flush, exit
      --name INSTANCE     which instance of <type> to run when the config has several
      --set KEY=VALUE     override one setting of the selected instance (repeatable)
  -h, --help              this text
  -V, --version           print the version

Exit codes: 0 ok, 1 failure, 64 usage, 78 configuration, and integration-specific codes
(see each integration's README).
`;
}
