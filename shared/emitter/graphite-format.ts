/**
 * Graphite plaintext value formatting: what statsd writes (JS number to string), except that
 * NaN/Infinity are never written (carbon silently drops NaN and stores `inf`) and exponent forms,
 * which some backends do not parse, become fixed-point.
 */
export function formatGraphiteValue(v: number): string | undefined {
  if (!Number.isFinite(v)) return undefined;
  const s = String(v);
  if (!s.includes('e')) return s;
  if (Math.abs(v) < 1e-6) return '0';
  return BigInt(Math.round(v)).toString();
}

/** Graphite lines longer than this are rejected client-side (carbon drops the connection at 16 KiB). */
export const MAX_GRAPHITE_LINE = 4096;
