/**
 * One naming rule valid on Etsy statsd, DogStatsD, Telegraf, carbon/whisper and
 * VictoriaMetrics alike: nodes of [A-Za-z0-9_-] joined by '.', no empty nodes.
 *
 * Why this strict: carbon turns '/' into directories, ';' into tagged series, a trailing '.'
 * into a hidden .wsp, and drops the whole connection on invalid UTF-8; statsd splits on ':'
 * and '|' and silently deletes non-ASCII. Sanitising once, here, means both sinks agree on
 * every path.
 */

const MAX_NODE = 200;
const MAX_PATH = 900;

/** Sanitise one dotted path. Returns '' when nothing usable is left (the caller drops it). */
export function sanitizePath(raw: string): string {
  // Fast path: already clean names (the overwhelming majority) skip the regex work.
  if (/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(raw) && raw.length <= MAX_PATH) {
    if (raw.length <= MAX_NODE) return raw;
  }
  const nodes: string[] = [];
  let total = 0;
  for (const part of raw.split('.')) {
    let node = part.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/_{2,}/g, '_');
    if (node === '' || node === '_') continue;
    if (node.length > MAX_NODE) node = node.slice(0, MAX_NODE);
    if (total + node.length + (nodes.length ? 1 : 0) > MAX_PATH) break;
    total += node.length + (nodes.length ? 1 : 0);
    nodes.push(node);
  }
  return nodes.join('.');
}

/**
 * Sanitise a single node (a host name, a process name): dots become '_' too, so a value never
 * adds hierarchy levels.
 */
export function sanitizeNode(raw: string): string {
  return sanitizePath(raw.replace(/\./g, '_'));
}

/** This machine's short host name as one node: the `{host}` of prefixes and the host tag of events. */
export function hostNode(host: string): string {
  return sanitizeNode(host.split('.')[0] ?? host);
}

/** Set members are raw text on the wire; only the statsd separators and line breaks are unsafe. */
export function sanitizeSetMember(raw: string): string {
  return raw.replace(/[:|\n\r#,]/g, '_');
}

/** Join two already-sanitised paths. */
export function joinPath(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  return `${a}.${b}`;
}

/** '.001' … '.999' without trailing zeros, by thousandths ('' for 0). */
const THOUSANDTHS: readonly string[] = Array.from({ length: 1000 }, (_, m) => (m === 0 ? '' : `.${String(m).padStart(3, '0').replace(/0+$/, '')}`));

/**
 * Format a number for the statsd wire: plain decimal, no exponent (some servers do not parse
 * 1e21 or 1e-7), at most 6 decimals.
 */
export function formatValue(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  // Whole thousandths (a ms timer measured in µs, the common decimal): integer digits plus a
  // table lookup, ~5× faster than the general path below and the same text: below 1e9 such a
  // number rounds to itself at 6 decimals and is its own shortest round-trip form (the test
  // compares both paths over millions of values).
  const k = v * 1000;
  if (Number.isInteger(k) && Math.abs(k) < 1e12) {
    const a = Math.abs(k);
    const i = Math.floor(a / 1000);
    return `${v < 0 ? '-' : ''}${i}${THOUSANDTHS[a - i * 1000]}`;
  }
  if (Math.abs(v) >= 1e21) return BigInt(Math.round(v)).toString();
  // Round to 6 decimals: 1.7207819999999998 is noise on the wire, and toFixed keeps exponents
  // away for tiny values (some Graphite backends do not parse 1e-7).
  const r = Math.round(v * 1e6) / 1e6;
  if (r === 0) return '0';
  const s = String(r);
  return s.includes('e') ? r.toFixed(6).replace(/\.?0+$/, '') : s;
}
