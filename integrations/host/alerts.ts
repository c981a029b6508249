/**
 * Threshold state machines: one alert when a metric crosses its threshold and stays past it for
 * `hold`, one when it comes back past the `clear` level for `hold`. Nothing in between, however
 * long it stays there, so a sink never needs to de-duplicate. Pure: time comes from the caller.
 */
import type { ThresholdRule } from './metrics.js';

export interface AlertEvent {
  /** `recovered` with `gone` set: the metric itself disappeared (a device or interface removed). */
  state: 'fired' | 'recovered';
  gone?: boolean;
  /** The threshold key as configured (memory.percent, disk.size.percent, load…). */
  key: string;
  /** The concrete metric, relative to the instance prefix (disk.size.root.percent). */
  metric: string;
  value: number;
  direction: 'above' | 'below';
  threshold: number;
  clear: number;
  holdMs: number;
  /** When the condition that led to this event started (ms since the epoch). */
  since: number;
  /** When the event was raised. */
  at: number;
}

/** Where a rule recovers when no `clear` is given: 5 % of |value| back from the threshold. */
export function defaultClear(direction: 'above' | 'below', value: number): number {
  const band = Math.abs(value) * 0.05;
  return direction === 'above' ? value - band : value + band;
}

interface State {
  firing: boolean;
  /** When the pending transition's condition was first seen; undefined when none is pending. */
  pendingSince: number | undefined;
}

export interface AlertEngine {
  /** Feed one sample; returns the alerts it raises (usually none). */
  observe(metric: string, value: number, now: number): AlertEvent[];
  /** Alerts currently firing. */
  active(): number;
  /** Whether any rule could ever watch this metric (cached; lets callers skip the work). */
  watches(metric: string): boolean;
  /**
   * Forget the metrics under `prefix` (a device or interface that disappeared). Alerts firing on
   * them are closed with a `gone` recovery: otherwise they would stay active forever.
   */
  forget(prefix: string, now: number): AlertEvent[];
}

const MAX_CACHED_NAMES = 10_000;

export function createAlertEngine(rules: readonly ThresholdRule[]): AlertEngine {
  const states = new Map<string, State>();
  // Metric names repeat every interval: resolve which rules watch a name once.
  const byMetric = new Map<string, readonly ThresholdRule[]>();
  let firing = 0;

  const rulesFor = (metric: string): readonly ThresholdRule[] => {
    let found = byMetric.get(metric);
    if (!found) {
      found = rules.filter((r) => r.matches(metric));
      if (byMetric.size >= MAX_CACHED_NAMES) byMetric.clear();
      byMetric.set(metric, found);
    }
    return found;
  };

  return {
    watches: (metric) => rules.length > 0 && rulesFor(metric).length > 0,
    forget(prefix, now) {
      const out: AlertEvent[] = [];
      for (const [id, st] of states) {
        const [key, metric] = id.split('\u0000') as [string, string];
        if (!metric.startsWith(prefix)) continue;
        states.delete(id);
        byMetric.delete(metric);
        if (!st.firing) continue;
        firing--;
        const rule = rules.find((r) => r.key === key)!;
        out.push({
          state: 'recovered',
          gone: true,
          key,
          metric,
          value: Number.NaN,
          direction: rule.direction,
          threshold: rule.value,
          clear: rule.clear ?? defaultClear(rule.direction, rule.value),
          holdMs: rule.holdMs,
          since: now,
          at: now,
        });
      }
      return out;
    },
    active: () => firing,
    observe(metric, value, now) {
      if (rules.length === 0) return [];
      const out: AlertEvent[] = [];
      for (const rule of rulesFor(metric)) {
        const id = `${rule.key}\u0000${metric}`;
        let st = states.get(id);
        if (!st) states.set(id, (st = { firing: false, pendingSince: undefined }));
        const clear = rule.clear ?? defaultClear(rule.direction, rule.value);
        const above = rule.direction === 'above';
        // Firing needs a strict crossing; recovery needs the value back at or past `clear`.
        const wantsChange = st.firing
          ? above ? value <= clear : value >= clear
          : above ? value > rule.value : value < rule.value;
        if (!wantsChange) {
          st.pendingSince = undefined;
          continue;
        }
        st.pendingSince ??= now;
        if (now - st.pendingSince < rule.holdMs) continue;
        const since = st.pendingSince;
        st.pendingSince = undefined;
        st.firing = !st.firing;
        firing += st.firing ? 1 : -1;
        out.push({
          state: st.firing ? 'fired' : 'recovered',
          key: rule.key,
          metric,
          value,
          direction: rule.direction,
          threshold: rule.value,
          clear,
          holdMs: rule.holdMs,
          since,
          at: now,
        });
      }
      return out;
    },
  };
}

/** One human line for logs and chat: "ALERT memory.percent 91.2 > 80 (host web1)". */
export function describeAlert(e: AlertEvent, fullMetric: string, host: string): string {
  const op = e.direction === 'above' ? '>' : '<';
  const back = e.direction === 'above' ? '<=' : '>=';
  const v = Math.round(e.value * 100) / 100;
  if (e.gone) return `RECOVERED ${fullMetric}: no longer reported (device or interface gone) on ${host}`;
  return e.state === 'fired'
    ? `ALERT ${fullMetric} = ${v} ${op} ${e.threshold} on ${host}`
    : `RECOVERED ${fullMetric} = ${v} ${back} ${e.clear} on ${host}`;
}
