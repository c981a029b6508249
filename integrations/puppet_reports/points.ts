/**
 * Turns a parsed run into metric points (names relative to the instance prefix). Pure.
 *
 * Paths are built from metric *names* (`config_retrieval`), never labels (`Config retrieval`):
 * a space in a Graphite plaintext line makes carbon drop it as an invalid line, which is how the
 * label-based processors (evenup, nareshov) silently lost every multi-word metric.
 */
import { sanitizeNode } from '../../shared/emitter/names.js';
import { LOG_LEVELS, catalogCompiled, labelize, type Run } from './run.js';

export type Compat = 'default' | 'krux' | 'evenup';

export interface NamingOptions {
  compat: Compat;
  /** evenup: the `graphite_suffix` node after the host ('' for none). */
  evenupSuffix: string;
  /** evenup: `com.example.node01` instead of `node01.example.com`. */
  evenupReverseHost: boolean;
}

export interface Point {
  name: string;
  value: number;
}

/** One Graphite node for a certname: dots and anything outside [A-Za-z0-9_-] become '_'. */
export function hostNode(host: string): string {
  return sanitizeNode(host) || 'unknown_host';
}

function evenupHost(host: string, reverse: boolean): string {
  const parts = host.split('.').map((p) => sanitizeNode(p)).filter((p) => p !== '');
  return (reverse ? parts.reverse() : parts).join('.') || 'unknown_host';
}

function flag(v: boolean | undefined): number | undefined {
  return v === undefined ? undefined : v ? 1 : 0;
}

/**
 * The per-category metrics in the chosen naming, plus `<host>.run.*` derived gauges (always in
 * the default naming: they are new series, so no dashboard depends on an old shape).
 */
export function runPoints(run: Run, naming: NamingOptions): Point[] {
  const host = hostNode(run.host);
  const out: Point[] = [];
  for (const m of run.metrics) {
    const name = sanitizeNode(m.name);
    const category = sanitizeNode(m.category);
    if (naming.compat === 'krux') out.push({ name: `${category}.${name}`, value: m.value });
    else if (naming.compat === 'evenup') {
      const suffix = naming.evenupSuffix ? `.${sanitizeNode(naming.evenupSuffix)}` : '';
      // evenup used the label; we keep its capitalisation but never its spaces (§1.2 of the note).
      const label = sanitizeNode(m.label ?? labelize(m.name));
      out.push({ name: `${evenupHost(run.host, naming.evenupReverseHost)}${suffix}.${label}.${category}`, value: m.value });
    } else out.push({ name: `${host}.${category}.${name}`, value: m.value });
  }
  const run_ = `${host}.run`;
  if (run.status !== undefined) {
    for (const s of ['failed', 'changed', 'unchanged'] as const) out.push({ name: `${run_}.status.${s}`, value: run.status === s ? 1 : 0 });
  }
  const flags: [string, number | undefined][] = [
    ['noop', flag(run.noop)],
    ['noop_pending', flag(run.noopPending)],
    ['corrective_change', flag(run.correctiveChange)],
    ['transaction_completed', flag(run.transactionCompleted)],
  ];
  for (const [n, v] of flags) if (v !== undefined) out.push({ name: `${run_}.${n}`, value: v });
  const compiled = catalogCompiled(run.metrics);
  const cached = run.cachedCatalogStatus === 'on_failure' || run.cachedCatalogStatus === 'explicitly_requested';
  out.push({ name: `${run_}.catalog.compiled`, value: compiled && !cached ? 1 : 0 });
  if (run.cachedCatalogStatus !== undefined) out.push({ name: `${run_}.catalog.cached`, value: cached ? 1 : 0 });
  if (run.logLevels) {
    const levels = new Set<string>([...LOG_LEVELS, ...Object.keys(run.logLevels)]);
    for (const level of levels) out.push({ name: `${run_}.logs.${sanitizeNode(level)}`, value: run.logLevels[level] ?? 0 });
  }
  const total = run.metrics.find((m) => m.category === 'time' && m.name === 'total');
  if (total) out.push({ name: `${run_}.duration`, value: total.value });
  return out;
}
