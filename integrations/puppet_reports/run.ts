/**
 * What one Puppet run is, whatever it was read from (a report of any format, a summary), and
 * the facts derived from its metrics. No parsing here: parse.ts and summary.ts build Runs.
 */
export type RunStatus = 'failed' | 'changed' | 'unchanged';

export interface RunMetric {
  /** resources | time | changes | events (or whatever else the file carries). */
  category: string;
  /** The metric's snake_case name: the only safe source for a metric path. */
  name: string;
  /** Puppet's human label ("Config retrieval"); only the evenup compat mode uses it. */
  label: string | undefined;
  value: number;
}

export interface FailedResource {
  /** `Type[title]`. */
  resource: string;
  file: string | undefined;
  line: number | undefined;
  message: string | undefined;
}

export interface Run {
  /** certname from the report, or the configured host for a summary. */
  host: string;
  /** Run start (report `time`) in epoch seconds; for a summary, `time.last_run` (run end). */
  time: number;
  /** Run end in epoch seconds: what "age of the last run" is measured from. */
  endTime: number;
  status: RunStatus | undefined;
  /** `report`: Puppet's own field; `derived`: inferred from metrics (summaries, formats without it). */
  statusSource: 'report' | 'derived';
  reportFormat: number | undefined;
  /** Dedupe key: transaction_uuid when present, else host + time. */
  key: string;
  transactionUuid: string | undefined;
  noop: boolean | undefined;
  noopPending: boolean | undefined;
  correctiveChange: boolean | undefined;
  transactionCompleted: boolean | undefined;
  cachedCatalogStatus: string | undefined;
  metrics: RunMetric[];
  /** Log entries by level; undefined when the source has no logs (summaries). */
  logLevels: Record<string, number> | undefined;
  /** Only filled when resource statuses were read (failed runs below the size cap). */
  failedResources: FailedResource[] | undefined;
  /** The Puppet environment (`production`); undefined for summaries. */
  environment: string | undefined;
  parsedBy: 'fast' | 'full' | 'summary';
}

/**
 * `parse`: not a report; `incomplete`: cut short (a later change may complete it); `limit`: over a
 * bound that protects the process (alias expansion), never retried with the full parse.
 */
export type RunParseErrorKind = 'parse' | 'incomplete' | 'limit';

export class RunParseError extends Error {
  readonly kind: RunParseErrorKind;
  constructor(kind: RunParseErrorKind, message: string) {
    super(message);
    this.kind = kind;
    this.name = 'RunParseError';
  }
}

/** report_format values this parser knows the layout of (Puppet 2.6 to 8). */
export const KNOWN_REPORT_FORMATS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'err', 'alert', 'emerg', 'crit'] as const;

/** Ruby's `name.capitalize.tr('_', ' ')`, for sources that carry no labels. */
export function labelize(name: string): string {
  const lower = name.toLowerCase();
  return (lower.charAt(0).toUpperCase() + lower.slice(1)).replace(/_/g, ' ');
}

export function metricValue(metrics: readonly RunMetric[], category: string, name: string): number | undefined {
  for (const m of metrics) if (m.category === category && m.name === name) return m.value;
  return undefined;
}

/**
 * A catalog was compiled and applied: a config_retrieval time and a non-empty catalog. An agent
 * that never got a catalog writes neither (collectd-puppet's trick; research fixture j).
 */
export function catalogCompiled(metrics: readonly RunMetric[]): boolean {
  return metricValue(metrics, 'time', 'config_retrieval') !== undefined && (metricValue(metrics, 'resources', 'total') ?? 0) > 0;
}

/**
 * Status where the source has none (last_run_summary.yaml, very old reports): `failed` when a
 * resource failed or failed to restart, an event failed, or no catalog was applied; else
 * `changed` when there were changes; else `unchanged`. Mirrors Puppet's `compute_status` plus the
 * catalog check it cannot see from a summary.
 */
export function deriveStatus(metrics: readonly RunMetric[]): RunStatus {
  const failed =
    (metricValue(metrics, 'resources', 'failed') ?? 0) +
    (metricValue(metrics, 'resources', 'failed_to_restart') ?? 0) +
    (metricValue(metrics, 'events', 'failure') ?? 0);
  if (failed > 0 || !catalogCompiled(metrics)) return 'failed';
  if ((metricValue(metrics, 'changes', 'total') ?? 0) > 0) return 'changed';
  return 'unchanged';
}
