import { bool, duration, int, num, obj, oneOf, str, type Infer, type Issue } from '../../shared/core/config/schema.js';

/** Options of one `type: puppet_reports` instance. At least one of `reportdir` and `summary`. */
export const puppetReportsSchema = obj({
  /**
   * Puppet's `reportdir` with `reports = store`: `<reportdir>/<certname>/<YYYYMMDDHHMM>.yaml`.
   * Debian: /var/cache/puppet/reports; AIO server: /opt/puppetlabs/server/data/puppetserver/reports.
   */
  reportdir: str({ nonEmpty: true }).optional().describe('Puppet reportdir (<certname>/<YYYYMMDDHHMM>.yaml) to watch'),
  /** An agent's `last_run_summary.yaml` (Debian: /var/cache/puppet/public/last_run_summary.yaml). */
  summary: str({ nonEmpty: true }).optional().describe("an agent's last_run_summary.yaml to watch"),
  /** Host node for `summary` metrics (the summary carries no certname). Default: this machine's hostname. */
  host: str({ nonEmpty: true }).optional().describe('host name for summary metrics (default: os hostname)'),
  /**
   * At start, emit every stored report with its own timestamp instead of only the newest per
   * host. Safe to repeat on Graphite (same path + time overwrites); statsd has no timestamps, so
   * leave it off there.
   */
  backfill: bool().default(false).describe('at start, emit all stored reports, not just the newest per host'),
  /**
   * Worker threads that read and parse stored reports for a backfill (0 = one per core; never
   * more than the reports; 1 = all in the main thread). What is emitted, and in which order, is
   * the same either way. The default is 1: since the fast path reads a report's bytes without
   * decoding them whole, 50 reports of 4 MB took the same time on 2 threads as on one (what is
   * left is the emitting, which stays in the main thread; bench/README.md).
   */
  threads: int({ min: 0, max: 256 }).default(1).describe('worker threads for a backfill; 0 = one per core'),
  /**
   * Per-category metric naming. `default`: `<host>.<category>.<name>`. `krux`: `<category>.<name>`
   * (the krux graphite.yaml processor; no host). `evenup`: `<host reversed>.<suffix>.<Label>.<category>`
   * with the label's spaces replaced by `_`.
   */
  compat: oneOf(['default', 'krux', 'evenup'] as const).default('default').describe('metric naming: default, krux or evenup'),
  /** Only for `compat: evenup`: its `graphite_suffix` and `graphite_reverse_hostname`. */
  evenup: obj({
    suffix: str().default('puppet').describe("node after the host ('' for none)"),
    reverse_host: bool().default(true).describe('com.example.node01 instead of node01.example.com'),
  }),
  /** The agents' runinterval: a host is stale after `stale_after_runs` × this without a run. */
  /** An event (graphite_events, dashboards' vertical lines) for every run that changed or failed something. */
  events: bool().default(true).describe('send an event for each run that changed or failed something'),
  runinterval: duration({ minMs: 1000 }).default(30 * 60_000).describe("the agents' runinterval"),
  stale_after_runs: num({ min: 1 }).default(2).describe('a host is stale after this many runintervals without a run'),
  /** Hosts without a run for this long are dropped from the fleet counts (decommissioned nodes). */
  forget_after: duration({ minMs: 1000 }).default(14 * 86_400_000).describe('forget hosts silent for this long'),
  /** How often `run.age_seconds` and the `_fleet.*` gauges are emitted. */
  tick: duration({ minMs: 100 }).default(60_000).describe('how often to emit age and fleet gauges'),
  /**
   * How often host directories whose mtime changed are listed again: the safety net for events a
   * watcher can miss (NFS, overflow), and how a reportdir that did not exist at start is picked up.
   */
  rescan: duration({ minMs: 100 }).default(60_000).describe('how often to rescan changed host directories'),
  /** Files bigger than this are skipped and counted (a 5,000-resource report is ~7 MB). */
  max_report_bytes: int({ min: 1024 }).default(64 * 1024 * 1024).describe('skip (and count) report files bigger than this'),
  /** Failed runs: log at most this many failed resources (with titles) per report. */
  failed_resources_limit: int({ min: 0 }).default(20).describe('failed resources logged per report'),
  /** Wait for a file to stop changing this long before reading it (copied-in files). */
  settle: duration({ maxMs: 60_000 }).default(200).describe('wait for files to stop changing this long'),
  /** Poll instead of inotify (NFS-mounted reportdirs). */
  polling: bool().default(false).describe('poll the filesystem (NFS) instead of inotify'),
});

export type PuppetReportsConfig = Infer<typeof puppetReportsSchema>;

/** At least one of the two inputs: an instance with neither would watch nothing. */
export function validatePuppetReports(config: PuppetReportsConfig): Issue[] {
  if (config.reportdir !== undefined || config.summary !== undefined) return [];
  return [{ path: [], message: 'set reportdir (a Puppet reportdir) and/or summary (a last_run_summary.yaml)' }];
}
