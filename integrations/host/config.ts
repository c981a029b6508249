/**
 * The host integration's own config keys (the core adds enabled, prefix, log_level, interval).
 */
import {
  INVALID,
  duration,
  int,
  list,
  num,
  obj,
  oneOf,
  record,
  str,
  tagged,
  type Infer,
  type Issue,
  type ParseContext,
  type Path,
  type Schema,
} from '../../shared/core/config/schema.js';
import { mountNode, resolveThreshold, ThresholdKeyError, type ThresholdSpec } from './metrics.js';

const richThreshold = obj({
  /** Fire when the metric goes above this value. */
  above: num().optional().describe('fire when the metric goes above this value'),
  /** Fire when the metric goes below this value. */
  below: num().optional().describe('fire when the metric goes below this value'),
  /** Recover only once the metric is back to this value (hysteresis). */
  clear: num().optional().describe('recover only once the metric is back to this value (hysteresis)'),
  /** How long a crossing (and a recovery) must last before it counts. */
  hold: duration().optional().describe('how long a crossing (and a recovery) must last before it counts'),
})
  .refine((t) => {
    if ((t.above === undefined) === (t.below === undefined)) return 'give exactly one of above or below';
    if (t.clear !== undefined) {
      if (t.above !== undefined && t.clear > t.above) return `clear (${t.clear}) must not be above the "above" value (${t.above})`;
      if (t.below !== undefined && t.clear < t.below) return `clear (${t.clear}) must not be below the "below" value (${t.below})`;
    }
    return undefined;
  })
  .map(
    (t): ThresholdSpec => ({
      direction: t.above !== undefined ? 'above' : 'below',
      value: (t.above ?? t.below)!,
      clear: t.clear,
      holdMs: t.hold ?? 0,
    }),
  );

/**
 * A threshold is either a number (`memory.percent: 80`, meaning above 80) or a mapping
 * (`{ above: 80, clear: 70, hold: 30s }`). The schema language has no untagged union (on
 * purpose: its messages stay precise), so this wraps the mapping schema and takes the number
 * form first. Only `parse` and `expected` are meaningful here; it is used inside record() only.
 */
function thresholdSpec(): Schema<ThresholdSpec> {
  const expected = 'a number, or a mapping with above or below (and optional clear, hold)';
  return {
    ...richThreshold,
    expected,
    parse(value: unknown, path: Path, ctx: ParseContext): ThresholdSpec | typeof INVALID {
      if (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))) {
        const n = Number(value);
        if (!Number.isFinite(n)) {
          ctx.issues.push({ path, message: `expected ${expected}` });
          return INVALID;
        }
        return { direction: 'above', value: n, clear: undefined, holdMs: 0 };
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        ctx.issues.push({ path, message: `expected ${expected}, got ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}` });
        return INVALID;
      }
      return richThreshold.parse(value, path, ctx);
    },
  };
}

/**
 * The thresholds mapping. Keys are checked against the metric catalogue here, so a typo like
 * `memory.percnt` is reported by the loader at its file:line:col. Keys that depend on sibling
 * settings (a mount in `disks`, a command name) are checked again in create(), which sees them.
 */
function thresholdsSchema(doc: string): Schema<Record<string, ThresholdSpec>> {
  // default() and describe() are applied to the base: the wrapper's own would drop this parse.
  const base = record(thresholdSpec()).default({}).describe(doc);
  return {
    ...base,
    parse(value: unknown, path: Path, ctx: ParseContext) {
      const r = base.parse(value, path, ctx);
      if (r === INVALID) return r;
      let bad = false;
      for (const [key, spec] of Object.entries(r)) {
        try {
          resolveThreshold(key, spec, {});
        } catch (e) {
          if (!(e instanceof ThresholdKeyError)) throw e;
          ctx.issues.push({ path: [...path, key], atKey: true, message: e.detail });
          bad = true;
        }
      }
      return bad ? INVALID : r;
    },
  };
}

/** A name that becomes metric path nodes: `queue.pending` → `command.queue.pending`. */
const metricName = str({
  nonEmpty: true,
  pattern: /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/,
  patternHint: 'a metric name of letters, digits, _ and -, with dots between nodes (like queue.pending)',
});

const commandGauge = obj({
  /** The gauge name under `command.` (dots add hierarchy). */
  name: metricName.describe('the gauge name under command. (dots add hierarchy)'),
  /** A shell command (run by /bin/sh -c) whose stdout is a single number. */
  command: str({ nonEmpty: true }).optional().describe('a shell command (sh -c) whose stdout is a single number'),
  /** A file whose whole content is a single number (written by another process). */
  file: str({ nonEmpty: true }).optional().describe('a file whose content is a single number'),
  /** Kill the command (its whole process group) and count an error after this long. */
  timeout: duration({ minMs: 1, maxMs: 300_000 }).default(5000).describe('kill the command and count an error after this long'),
  /** Run at most this often; default every sample. Spawning a shell each second costs CPU. */
  interval: duration({ minMs: 1 }).optional().describe('run at most this often (default: every sample)'),
}).refine((c) =>
  (c.command === undefined) === (c.file === undefined) ? 'give exactly one of command or file' : undefined,
);

const webhookAlert = obj({
  /** Where to POST each alert (http or https). */
  url: str({ nonEmpty: true, pattern: /^https?:\/\/[^\s/]+/, patternHint: 'an http:// or https:// URL' }).describe('where to POST each alert'),
  /**
   * Body shape: `json` (telltale's alert object with a Slack-readable `text`), `slack` (only
   * `{text}`), `sentry` (a Sentry store-API event).
   */
  format: oneOf(['json', 'slack', 'sentry'] as const).default('json').describe('body shape: json, slack or sentry'),
  /** Extra request headers (authentication, e.g. X-Sentry-Auth). */
  headers: record(str()).default({}).describe('extra request headers (authentication)'),
  /** Abort one delivery attempt after this long (a hanging receiver). */
  timeout: duration({ minMs: 1, maxMs: 120_000 }).default(5000).describe('abort one delivery attempt after this long'),
  /** Retries after the first attempt (connection errors, timeouts, 429 and 5xx). */
  retries: int({ min: 0, max: 20 }).default(5).describe('retries after the first attempt'),
  /** First retry delay; doubles each retry (with jitter) up to max_backoff. */
  backoff: duration({ minMs: 1 }).default(1000).describe('first retry delay; doubles each retry up to max_backoff'),
  /** Longest delay between retries. */
  max_backoff: duration({ minMs: 1 }).default(60_000).describe('longest delay between retries'),
  /** Alerts waiting for delivery beyond this are dropped (counted and logged). */
  queue_size: int({ min: 1, max: 10_000 }).default(100).describe('alerts waiting beyond this are dropped (counted)'),
});

export const hostSchema = obj({
  /** Where procfs is mounted; tests point it at fixture trees, containers at the host's /proc. */
  proc_root: str({ nonEmpty: true }).default('/proc').describe('where procfs is mounted (default /proc)'),
  /** Mount points whose size is reported as disk.size.<mount>.* ("/" is named "root"). */
  disks: list(str({ nonEmpty: true, pattern: /^\//, patternHint: 'an absolute mount point like /var' }), { single: true })
    .default(['/'])
    .describe('mount points reported as disk.size.<mount>.*'),
  /** Block devices for disk.io.*; default every device except loop, ram, zram, fd and sr. */
  devices: list(str({ nonEmpty: true }), { single: true }).optional().describe('block devices for disk.io.* (default: all but loop/ram/zram/fd/sr)'),
  /** Network interfaces for net.*; default every interface except lo. */
  interfaces: list(str({ nonEmpty: true }), { single: true }).optional().describe('network interfaces for net.* (default: all but lo)'),
  /** Gauges from shell commands or files that print one number (queue lengths, row counts). */
  commands: list(commandGauge).default([]).describe('gauges from commands or files that print one number'),
  /** metric → threshold; the metric is relative to the prefix (memory.percent, disk.size.percent, load). */
  thresholds: thresholdsSchema('metric: threshold (number = above), or {above|below, clear, hold}'),
  /** Where alerts go besides the log (always on). */
  alerts: list(tagged('type', { log: obj({}), webhook: webhookAlert })).default([]).describe('alert sinks besides the log: webhook'),
});

export type HostConfig = Infer<typeof hostSchema>;
export type WebhookConfig = Infer<typeof webhookAlert>;
export type CommandConfig = HostConfig['commands'][number];

/**
 * Checks across keys: mounts and command names must give distinct metric nodes, and a
 * threshold may name only a configured mount or command (the schema alone cannot see siblings).
 */
export function validateHost(config: HostConfig): Issue[] {
  const issues: Issue[] = [];
  const mountNodes = config.disks.map(mountNode);
  // At the second of the two entries, so file:line:col points at the one to change.
  const dupMount = mountNodes.findIndex((n, i) => mountNodes.indexOf(n) !== i);
  if (dupMount !== -1) issues.push({ path: ['disks', dupMount], message: `two mount points map to the same metric node "${mountNodes[dupMount]}"` });
  const commandNames = config.commands.map((c) => c.name);
  const dupCommand = commandNames.findIndex((n, i) => commandNames.indexOf(n) !== i);
  if (dupCommand !== -1) issues.push({ path: ['commands', dupCommand, 'name'], message: `the name "${commandNames[dupCommand]}" is used twice` });
  for (const [key, spec] of Object.entries(config.thresholds)) {
    try {
      resolveThreshold(key, spec, { mounts: config.disks, commands: commandNames });
    } catch (e) {
      if (!(e instanceof ThresholdKeyError)) throw e;
      issues.push({ path: e.path, atKey: true, message: e.detail });
    }
  }
  return issues;
}
