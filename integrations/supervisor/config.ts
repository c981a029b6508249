import { bool, duration, int, obj, oneOf, str, type Infer } from '../../shared/core/config/schema.js';

export const supervisorSchema = obj({
  /**
   * Metric names. `none`: telltale's scheme (`<group>.<process>.*`, counters, gauges, timers).
   * `sulphite`: only Sulphite's names (`<proc>[_<group>].<from_state>.<event_name>[.suffix] 1 <ts>`)
   * as timestamped datapoints, for dashboards built on Sulphite; point a Graphite sink at it.
   * `both`: the two side by side while migrating.
   */
  compat: oneOf(['none', 'sulphite', 'both'] as const)
    .default('none')
    .describe("none = telltale's metric scheme; sulphite = Sulphite's exact names only; both = the two together"),
  /** Sulphite's `--graphite-suffix` (e.g. the short host name), appended to every Sulphite name. */
  sulphite_suffix: str({ nonEmpty: true }).optional().describe("Sulphite's --graphite-suffix, appended to every Sulphite name"),
  /**
   * Read the full process table from supervisord's XML-RPC (`getAllProcessInfo`) at start and on
   * TICK events, so gauges are right even for events lost before the listener was RUNNING.
   * Needs `SUPERVISOR_SERVER_URL` (set by supervisord when it has a [unix_http_server] or
   * [inet_http_server]) or `server_url`.
   */
  resync: bool().default(true).describe('resync process states from XML-RPC getAllProcessInfo at start and on TICK'),
  /** Overrides `SUPERVISOR_SERVER_URL`: `unix:///run/supervisor.sock` or `http://127.0.0.1:9001`. */
  server_url: str({ pattern: /^(unix:\/\/\/|http:\/\/)/, patternHint: 'unix:///path/to.sock or http://host:port' })
    .optional()
    .describe('supervisord XML-RPC URL; default: SUPERVISOR_SERVER_URL from the environment'),
  /** Resync on every Nth TICK event (TICK_60 with 5 → every 5 minutes). */
  resync_every: int({ min: 1, max: 10_000 }).default(1).describe('resync on every Nth TICK event'),
  /** Give up on one XML-RPC call after this long (the protocol never waits for it). */
  rpc_timeout: duration({ minMs: 100, maxMs: 60_000 }).default(2000).describe('timeout of one XML-RPC call'),
  /**
   * Count gaps in `poolserial` as `listener.dropped`. Only meaningful with `numprocs=1` (with more
   * listeners in the pool every member sees gaps); `auto` turns it off when
   * `SUPERVISOR_PROCESS_NAME` differs from `SUPERVISOR_GROUP_NAME` (a pool with numprocs > 1).
   */
  detect_drops: oneOf(['auto', 'on', 'off'] as const).default('auto').describe('count poolserial gaps as listener.dropped'),
  /**
   * Events (vertical lines on dashboards, graphite_events sink): `crashes` = FATAL and unexpected
   * exits; `crashes_and_starts` adds every start (deploys that restart processes); `off`.
   */
  events: oneOf(['crashes', 'crashes_and_starts', 'off'] as const).default('crashes').describe('crashes (FATAL, unexpected exits), crashes_and_starts, or off'),
  /** Report the listener's own process like any other (its restarts are worth seeing). */
  include_self: bool().default(true).describe("report the listener's own process state too"),
  /**
   * supervisor 3.x counts `len` in bytes, 4.x in code points. When a non-ASCII payload is complete
   * by bytes but not by code points, wait this long for more bytes before deciding it was 3.x.
   */
  len_grace: duration({ minMs: 10, maxMs: 5000 }).default(250).describe('wait for more payload bytes before reading len as bytes (supervisor 3.x)'),
});

export type SupervisorConfig = Infer<typeof supervisorSchema>;
