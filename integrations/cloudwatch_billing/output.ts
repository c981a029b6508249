/** Fetched series → timestamped datapoints. Pure. */
import { metricPath, PERIOD_SECONDS, type Point, type SeriesIdentity } from './plan.js';
import { spendPerHour } from './rate.js';

export interface Datapoint {
  name: string;
  value: number;
  ts: number;
}

/**
 * Every datapoint of every series with its CloudWatch bucket timestamp, ascending per series (a
 * statsd sink turns datapoints into gauges, so the newest must come last), plus the derived
 * spend rate when asked for.
 */
export function buildDatapoints(
  series: readonly { identity: SeriesIdentity; points: readonly Point[] }[],
  o: { spendRate: boolean },
): { datapoints: Datapoint[]; decreases: number } {
  const datapoints: Datapoint[] = [];
  let decreases = 0;
  for (const s of series) {
    const charges = metricPath(s.identity, 'estimated_charges');
    for (const p of s.points) datapoints.push({ name: charges, value: p.value, ts: p.ts });
    if (!o.spendRate) continue;
    const rate = spendPerHour(s.points, PERIOD_SECONDS);
    decreases += rate.decreases;
    const name = metricPath(s.identity, 'spend_per_hour');
    for (const p of rate.rates) datapoints.push({ name, value: p.value, ts: p.ts });
  }
  return { datapoints, decreases };
}
