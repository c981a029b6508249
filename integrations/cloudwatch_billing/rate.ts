/**
 * Spend rate derived from the month-to-date estimate. Pure.
 *
 * AWS publishes a cumulative "bill so far this month" every few hours and resets it at 00:00 UTC
 * on the 1st. Between two consecutive non-empty buckets (t1,v1) → (t2,v2):
 *  - same UTC month, v2 ≥ v1: (v2 − v1) per hour elapsed;
 *  - t2 in a later month: the counter restarted at the month start, so v2 per hour since then
 *    (at least one period, so the first bucket of a month never divides by zero);
 *  - same month, v2 < v1 (a credit or a revised estimate): no rate for t2 — a negative spend
 *    would be a lie on a graph, and zero would hide the revision. Counted, not emitted.
 * AWS's own recipe `IF(RATE(m)>0, RATE(m)*3600, 0)` zeroes the first day of every month; this
 * does not.
 */
import type { Point } from './plan.js';

export function monthStartUtc(unixSeconds: number): number {
  const d = new Date(unixSeconds * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
}

/** Estimates are in cents; a rate to 1e-6 keeps float noise (1.0500000000000114) off the graphs. */
const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

export function spendPerHour(points: readonly Point[], periodSeconds: number): { rates: Point[]; decreases: number } {
  const rates: Point[] = [];
  let decreases = 0;
  for (let i = 1; i < points.length; i++) {
    const prev = points[i - 1]!;
    const cur = points[i]!;
    if (cur.ts <= prev.ts) continue;
    const start = monthStartUtc(cur.ts);
    if (prev.ts < start) {
      const hours = Math.max(cur.ts - start, periodSeconds) / 3600;
      rates.push({ ts: cur.ts, value: round6(Math.max(cur.value, 0) / hours) });
    } else if (cur.value >= prev.value) {
      rates.push({ ts: cur.ts, value: round6((cur.value - prev.value) / ((cur.ts - prev.ts) / 3600)) });
    } else {
      decreases++;
    }
  }
  return { rates, decreases };
}
