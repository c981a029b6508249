/**
 * `telltale event <what> [--tags a,b] [--data TEXT] [--when EPOCH]`: one event from a deploy
 * script, CI job or cron, sent to every configured sink (graphite_events: a POST to graphite-web;
 * graphite: `<prefix>.events.<what> 1 <when>`; statsd: a counter), then flushed.
 *
 * Exit codes like the other commands: 0 delivered, 1 a sink dropped it (graphite-web down or
 * refusing, after retries), 64 usage, 78 configuration.
 */
import { hostname } from 'node:os';
import { ConfigError, expandPrefix } from '../shared/core/config/load.js';
import { createEmitter } from '../shared/emitter/emitter.js';
import { hostNode } from '../shared/emitter/names.js';
import { createLogger, isLogLevel } from '../shared/core/log/logger.js';
import { buildSinks } from '../shared/core/runtime/sinks.js';
import { parseArgsOrUsage, UsageError } from './args.js';
import { loadConfig } from './config.js';

export const EVENT_USAGE = `Usage: telltale event <what> [--tags a,b] [--data TEXT] [--when EPOCH] [--config FILE]

Sends one event (a deploy, a migration, a config push) to the configured sinks: graphite-web's
/events/ (sink type graphite_events), carbon as <prefix>.events.<what> 1 <when>, statsd as a
counter. The short host name is always added as a tag, so a host's dashboards find it.

  --tags a,b          comma-separated tags (no spaces; graphite-web splits on them)
  --data TEXT         free text shown on hover (a version, a change summary)
  --when EPOCH        unix seconds (default now)
  -c, --config FILE   integrations.yaml (default: $TELLTALE_CONFIG, then /etc/telltale/integrations.yaml)
      --prefix PREFIX override emitter.prefix
      --log-level LEVEL
Exit codes: 0 sent, 1 a sink dropped the event, 64 usage, 78 configuration.
`;

export interface EventArgs {
  what: string;
  tags: string[];
  data: string | undefined;
  when: number | undefined;
  config: string | undefined;
  prefix: string | undefined;
  logLevel: string | undefined;
  help: boolean;
}

export function parseEventArgs(argv: readonly string[]): EventArgs {
  const parsed = parseArgsOrUsage({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      tags: { type: 'string' },
      data: { type: 'string' },
      when: { type: 'string' },
      config: { type: 'string', short: 'c' },
      prefix: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const v = parsed.values;
  const help = v.help ?? false;
  if (!help && parsed.positionals.length !== 1) {
    throw new UsageError(parsed.positionals.length === 0 ? 'event: expected <what>' : `event: one <what> expected (quote it), got ${parsed.positionals.length} arguments`);
  }
  const what = parsed.positionals[0] ?? '';
  if (!help && what.trim() === '') throw new UsageError('event: <what> must not be empty');
  let when: number | undefined;
  if (v.when !== undefined) {
    when = Number(v.when);
    if (!/^\d+$/.test(v.when) || !Number.isSafeInteger(when) || when <= 0) throw new UsageError(`--when: expected unix seconds, got "${v.when.slice(0, 40)}"`);
  }
  const tags = (v.tags ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of tags) if (/\s/.test(t)) throw new UsageError(`--tags: "${t.slice(0, 40)}" contains whitespace`);
  const level = v['log-level'];
  if (level !== undefined && !isLogLevel(level)) throw new UsageError(`--log-level must be debug, info, warn, error or silent, got "${level}"`);
  return { what, tags, data: v.data, when, config: v.config, prefix: v.prefix, logLevel: level, help };
}

export async function cmdEvent(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const a = parseEventArgs(argv);
  if (a.help) {
    process.stdout.write(EVENT_USAGE);
    return 0;
  }
  const config = await loadConfig(a.config, env);
  const log = createLogger({ level: (a.logLevel as 'info' | undefined) ?? config.logLevel });
  const sinks = await buildSinks(config.emitter.sinks, config.emitter.flushIntervalMs, log, (t) => void process.stderr.write(t));
  const emitter = createEmitter({
    prefix: a.prefix !== undefined ? expandPrefix(a.prefix) : config.emitter.prefix,
    sinks,
    flushIntervalMs: config.emitter.flushIntervalMs,
    maxPastSeconds: Math.floor(config.emitter.maxDatapointAgeMs / 1000),
    // One event, not a periodic report: the emitter's own counters would only add noise.
    selfMetrics: false,
  });
  const host = hostNode(hostname());
  emitter.event(a.what, { tags: [...a.tags, ...(host ? [host] : [])], ...(a.data !== undefined ? { data: a.data } : {}), ...(a.when !== undefined ? { when: a.when } : {}) });
  const stats = await emitter.close({ timeoutMs: 15_000 });
  const rejected = Object.entries(stats.rejected);
  if (rejected.length > 0) {
    log.error(`event refused: ${rejected.map(([r, n]) => `${r}=${n}`).join(' ')}`);
    return 1;
  }
  let failed = false;
  for (const [name, s] of Object.entries(stats.sinks)) {
    const dropped = Object.entries(s.dropped).filter(([, n]) => n > 0);
    if (dropped.length > 0) {
      failed = true;
      log.error(`sink ${name} dropped the event`, { ...Object.fromEntries(dropped), last_error: s.lastError });
    }
  }
  return failed ? 1 : 0;
}

export { ConfigError };
