/**
 * One rule for repeated errors in logs: the first of a kind is logged, then at most one line per
 * interval (a minute by default) saying how many were held back. Every occurrence is still
 * counted by the caller (stats, self-metrics); only the log lines are thinned, so a statsd that is
 * down, or a disk that is gone, cannot flood stderr.
 */
export const LOG_EVERY_MS = 60_000;

export interface LogThrottle {
  /**
   * Whether to log this occurrence of `key` now: the number of occurrences held back since the
   * last one logged (0 for none), or undefined to hold this one back.
   */
  pass(key?: string): number | undefined;
  /** Forget `key`: its next occurrence is logged (a new outage after a recovery). */
  reset(key?: string): void;
}

export function createLogThrottle(everyMs: number = LOG_EVERY_MS, now: () => number = Date.now): LogThrottle {
  const seen = new Map<string, { at: number; held: number }>();
  return {
    pass(key = '') {
      const t = now();
      const s = seen.get(key);
      if (s && t - s.at < everyMs) {
        s.held++;
        return undefined;
      }
      seen.set(key, { at: t, held: 0 });
      return s?.held ?? 0;
    },
    reset(key = '') {
      seen.delete(key);
    },
  };
}
