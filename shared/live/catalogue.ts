/**
 * Maps a fully qualified metric name to the chart it belongs to. The catalogue comes from the
 * integrations' MetricDoc lists (prefixed by the runtime); names nobody declared go under
 * "other", grouped by their parent path so siblings (`requests.200`, `requests.404`) share a chart.
 */
import type { MetricType } from '../core/integration.js';

/** What the runtime hands the hub: one entry per MetricDoc, with the instance prefix applied. */
export interface LiveCatalogueEntry {
  /** Full metric name with `<placeholders>`, e.g. `telltale.myhost.host.disk.size.<mount>.percent`. */
  pattern: string;
  type: MetricType;
  unit: string;
  description: string;
  /** Heading the chart is grouped under (the integration's instance name or type). */
  integration: string;
}

/** How a series is aggregated into buckets: what the emitter call was, not what the docs say. */
export type SeriesKind = 'counter' | 'gauge' | 'timer' | 'set' | 'datapoint';

/** One chart on the page. */
export interface Family {
  key: string;
  integration: string;
  title: string;
  kind: SeriesKind;
  /** As declared; the page shows counters as `<unit>/s`. */
  unit: string;
  description: string;
}

export interface Classified {
  family: Family;
  /** Legend label inside the chart: the placeholder values, or the last node. */
  label: string;
  /** The name is the family's only possible member (a catalogue entry without placeholders). */
  exact: boolean;
}

interface Compiled {
  entry: LiveCatalogueEntry;
  title: string;
  /** Placeholders match one node here… */
  strict: RegExp;
  /** …and any number of nodes here, tried only when no strict pattern matched. */
  loose: RegExp;
}

export interface Classifier {
  classify(name: string, kind: SeriesKind): Classified;
}

function escape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

function compile(pattern: string, placeholder: string): RegExp {
  const parts = pattern.split(/<[^<>]*>/);
  return new RegExp(`^${parts.map(escape).join(placeholder)}$`);
}

/** The dotted prefix shared by every pattern of one integration (stripped from chart titles). */
function commonPrefix(patterns: string[]): string {
  if (patterns.length < 2) return '';
  const split = patterns.map((p) => p.split('.'));
  const first = split[0]!;
  let n = 0;
  // Keep at least one node of every title.
  while (n < first.length - 1 && split.every((s) => s.length - 1 > n && s[n] === first[n] && !first[n]!.includes('<'))) n++;
  return n === 0 ? '' : first.slice(0, n).join('.') + '.';
}

export interface ClassifierOptions {
  /**
   * The core's own namespace (`<root>.telltale`: runtime, emitter and per-instance self-metrics).
   * Only catalogue patterns written under it may claim its names; the rest are grouped by parent
   * path under a "telltale" heading, so an integration's catch-all pattern (access_log's
   * mod_statsd `<prefix.><path.key>.<METHOD>.<STATUS><.suffix>`) cannot swallow them.
   */
  coreNamespace?: string;
}

export function createClassifier(catalogue: readonly LiveCatalogueEntry[], o: ClassifierOptions = {}): Classifier {
  const core = o.coreNamespace ? `${o.coreNamespace}.` : undefined;
  const byIntegration = new Map<string, string[]>();
  for (const e of catalogue) {
    const list = byIntegration.get(e.integration) ?? [];
    list.push(e.pattern);
    byIntegration.set(e.integration, list);
  }
  const prefixes = new Map([...byIntegration].map(([k, v]) => [k, commonPrefix(v)]));
  const compiled: Compiled[] = catalogue.map((entry) => ({
    entry,
    title: entry.pattern.slice((prefixes.get(entry.integration) ?? '').length),
    strict: compile(entry.pattern, '([^.]+)'),
    loose: compile(entry.pattern, '(.+)'),
  }));
  // Most specific first: exact names, then the most literal text, so `a.b.total` beats
  // `a.b.<status>` and a catch-all like `<prefix.><path.key>.<METHOD>` only takes what nothing
  // more precise claims.
  const literal = (p: string): number => p.replace(/<[^<>]*>/g, '').replace(/\./g, '').length;
  compiled.sort(
    (a, b) =>
      Number(a.entry.pattern.includes('<')) - Number(b.entry.pattern.includes('<')) ||
      literal(b.entry.pattern) - literal(a.entry.pattern),
  );

  const fromEntry = (c: Compiled, m: RegExpExecArray, name: string, kind: SeriesKind): Classified => ({
    family: {
      key: `${c.entry.pattern}|${kind}`,
      integration: c.entry.integration,
      title: c.title,
      kind,
      unit: c.entry.unit,
      description: c.entry.description,
    },
    label: m.length > 1 ? m.slice(1).join(' ') : name.slice(name.lastIndexOf('.') + 1),
    exact: m.length === 1,
  });

  return {
    classify(name, kind) {
      const inCore = core !== undefined && name.startsWith(core);
      for (const re of ['strict', 'loose'] as const) {
        for (const c of compiled) {
          if (inCore && !c.entry.pattern.startsWith(core)) continue;
          const m = c[re].exec(name);
          if (m) return fromEntry(c, m, name, kind);
        }
      }
      const dot = name.lastIndexOf('.');
      const parent = dot > 0 ? name.slice(0, dot) : '';
      const title = parent ? `${parent}.*` : name;
      return {
        family: { key: `${title}|${kind}`, integration: inCore ? 'telltale' : 'other', title, kind, unit: '', description: '' },
        label: dot > 0 ? name.slice(dot + 1) : name,
        exact: false,
      };
    },
  };
}
