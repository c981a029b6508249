import { bool, duration, int, list, num, obj, oneOf, record, str, type Infer, type Issue } from '../../shared/core/config/schema.js';
import { compileFormat } from './format.js';
import { FormatError } from './line-format.js';

/** Methods counted under their own name; anything else is `method.OTHER`. */
export const DEFAULT_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'TRACE',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
] as const;

const METHOD = str({ pattern: /^[A-Z]{1,10}$/, patternHint: 'an HTTP method in upper case, like GET' });

export const accessLogSchema = obj({
  /** Log file path(s); `*`, `?` and `[…]` glob within a path segment. Relative paths are resolved against the working directory. */
  path: list(str({ nonEmpty: true }), { single: true, minItems: 1 }).describe(
    'Access log path or glob (a list is accepted): /var/log/nginx/access.log, /var/log/nginx/*.access.log',
  ),
  /** Globs (whole path) of files to leave alone even though `path` matches them. */
  exclude: list(str({ nonEmpty: true }), { single: true }).default([]).describe('Paths to skip even if `path` matches them'),
  /**
   * `combined` (default), `common`, `vhost_combined`, `nginx_combined`, `nginx_combined_rt`
   * (combined + ` $request_time "$upstream_response_time"`), `combined_D` (combined + ` %D`),
   * `varnishncsa` (its default), `varnishncsa_extended` (+ %D, time to first byte, handling,
   * hitmiss), `json` (nginx escape=json), or a custom Apache LogFormat / nginx log_format string.
   */
  format: str({ nonEmpty: true }).default('combined').describe('Log format: a preset name, json, or a LogFormat/log_format string'),
  /** For `format: json`: key names by role (status, request, method, bytes, request_time, request_time_ms, request_time_us, path, first_byte_time, handling). */
  json_keys: record(str({ nonEmpty: true })).optional().describe('JSON key names by role, for format: json'),
  /** Metric source name (`<name>.requests`…). Default: each file's name without `.log` (`access.log` → `access`). */
  name: str({ nonEmpty: true }).optional().describe('Metric source name; default from each file name'),
  /** Where to begin in a file that has no saved position when the service first starts. Files that appear later are always read from their start. */
  start_at: oneOf(['end', 'beginning'] as const).default('end').describe('end (default) or beginning, for files without a saved position'),
  /** Read positions (JSON, written atomically after each flush). Default `<state_dir>/<instance>/offsets.json`. */
  state_file: str({ nonEmpty: true }).optional().describe('Read-position file; default under the state directory'),
  /** How often counters are summed into metrics and positions saved. Keep it ≥ the emitter's flush interval. */
  flush_interval: duration({ minMs: 100 }).default(10_000).describe('Counter flush and position-save interval'),
  /** How often files are checked for new lines, rotation and truncation. */
  poll_interval: duration({ minMs: 10 }).default(250).describe('How often files are checked'),
  /** How long a rotated or deleted file is kept open after it stops growing (late writers). */
  rotate_wait: duration().default(30_000).describe('How long a rotated file is drained after its last write'),
  /** Longer lines are skipped and counted (`lines.too_long`), never buffered. */
  max_line_bytes: int({ min: 256, max: 512 * 1024 }).default(64 * 1024).describe('Longest line accepted, in bytes'),
  /**
   * `--once` over several files: worker threads that parse them in parallel (0 = one per core;
   * never more than the files; 1 = all in the main thread). Counts are the same either way. The
   * default is 1 because on 2 cores, 4 files of 250 k lines measured slower on 2 threads than on
   * one (each worker boots V8 and warms the parser up again; bench/README.md).
   */
  threads: int({ min: 0, max: 256 }).default(1).describe('Worker threads for --once over several files; 0 = one per core'),
  /** Methods counted by name; others become `method.OTHER` (keeps junk like TLS handshakes out of metric names). */
  methods: list(METHOD, { minItems: 1 }).default([...DEFAULT_METHODS]).describe('HTTP methods counted by name'),
  /** Requests per second the service is known to handle: drawn as a horizontal line on its dashboard graph (`telltale dashboard`, live page). */
  safe_qps: num({ min: 0 }).optional().describe('Known safe requests/s, drawn as a line on the service graph'),
  /** `mod_statsd`: also emit Apache mod_statsd names `<prefix.><path.key>.<METHOD>.<STATUS><.suffix>`. */
  compat: oneOf(['none', 'mod_statsd'] as const).default('none').describe('none, or mod_statsd for mod_statsd-compatible names too'),
  /** Options of `compat: mod_statsd`, mirroring its directives. */
  mod_statsd: obj({
    /** StatsdPrefix: put before the key (a trailing dot is added). */
    prefix: str().default(''),
    /** StatsdSuffix: put after the status (a leading dot is added). */
    suffix: str().default(''),
    /** StatsdExclude: path parts matching any of these (case-insensitive) regexes are dropped. */
    exclude: list(str({ nonEmpty: true }), { single: true }).default([]),
    /** StatsdHTTPVerbs: methods kept by name; others become OtherVerbs. Empty: all of `methods`. */
    verbs: list(METHOD).default([]),
    /** Distinct path keys before the rest are counted as `_other`. */
    max_keys: int({ min: 1, max: 100_000 }).default(1000),
    /** StatsdLegacyMode: also send the counter (statsd ≥ 0.6 counts timers itself). */
    legacy_mode: bool().default(true),
  }),
});

export type AccessLogConfig = Infer<typeof accessLogSchema>;

/** The format must compile and mod_statsd's exclude patterns must be regular expressions. */
export function validateAccessLog(config: AccessLogConfig): Issue[] {
  const issues: Issue[] = [];
  try {
    compileFormat(config.format, config.json_keys);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    issues.push({ path: ['format'], message: e.message });
  }
  config.mod_statsd.exclude.forEach((r, i) => {
    try {
      new RegExp(r, 'i');
    } catch (e) {
      issues.push({ path: ['mod_statsd', 'exclude', i], message: `invalid regular expression ${JSON.stringify(r)}: ${(e as Error).message}` });
    }
  });
  return issues;
}
