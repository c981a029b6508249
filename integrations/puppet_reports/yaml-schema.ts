/**
 * A js-yaml schema that loads every Puppet report format as plain data.
 *
 * Puppet 5+ tags only the root (`--- !ruby/object:Puppet::Transaction::Report`); Puppet ≤ 4
 * (ZAML/Psych) tagged every nested Metric/Log/Status/Event, wrote symbols as `!ruby/sym x`, non
 * UTF-8 strings as the *local* tag `!binary`, and shared arrays through `&id001` anchors (js-yaml
 * resolves those itself). Types whose serialisation Puppet never defined (pxp-agent#466) show up
 * as arbitrary `!ruby/...` tags, so a catch-all keeps one odd value from failing the whole report.
 * None of these constructors instantiate anything: they return the plain mapping/list/string.
 */
import { DEFAULT_SCHEMA, Type, type Schema } from 'js-yaml';

function asMapping(data: unknown): Record<string, unknown> {
  return data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : {};
}

export const PUPPET_YAML_SCHEMA: Schema = DEFAULT_SCHEMA.extend([
  // Order matters: js-yaml tries `multi` types in order and takes the first prefix match.
  new Type('!ruby/object:', { kind: 'mapping', multi: true, construct: asMapping }),
  new Type('!ruby/sym', { kind: 'scalar', multi: true, construct: (d: unknown) => String(d ?? '') }),
  new Type('!binary', {
    kind: 'scalar',
    // The bytes are not UTF-8 by definition; a lossy string is all a metric pipeline needs.
    construct: (d: unknown) => Buffer.from(String(d ?? '').replace(/\s+/g, ''), 'base64').toString('latin1'),
  }),
  new Type('!', { kind: 'mapping', multi: true, construct: asMapping }),
  new Type('!', { kind: 'sequence', multi: true, construct: (d: unknown) => (Array.isArray(d) ? d : []) }),
  new Type('!', { kind: 'scalar', multi: true, construct: (d: unknown) => String(d ?? '') }),
]);

/**
 * How far aliases may expand a loaded document. js-yaml keeps an alias as a shared reference, so
 * a 9.5 KB file can describe 10^8 nodes (`a1: &a1 [*a0 ×10]` … eight levels) that only blow up
 * when something walks or stringifies the value. Real reports use a few `&id001` anchors for
 * shared tag lists (Puppet ≤ 4), each expanding to a handful of nodes; a 64 MiB report holds
 * about 3 million nodes. Both bounds are far above that and far below a bomb.
 */
export const ALIAS_LIMITS = {
  /** Alias references (`*name`) in one document. */
  maxAliases: 100_000,
  /** Nodes in the document with every alias expanded (what a stringify or a deep walk visits). */
  maxExpandedNodes: 5_000_000,
} as const;

/** A document over ALIAS_LIMITS, or with a recursive alias (js-yaml resolves `&a [*a]` to a cycle). */
export class AliasLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AliasLimitError';
  }
}

/** An anchor (`&name`) at a node position; without one no alias can resolve (js-yaml throws). */
const ANCHOR_RE = /(?:^|[\s[{,:-])&[^\s,[\]{}]/;

/**
 * Measures the loaded document's expanded size without expanding it: each distinct object is
 * visited once and its expanded size memoised, so a bomb costs what its text costs. Skipped when
 * the text defines no anchor (every Puppet ≥ 5 report), so the common path pays one regex scan.
 */
export function checkAliasExpansion(doc: unknown, text: string, limits: { maxAliases: number; maxExpandedNodes: number } = ALIAS_LIMITS): void {
  if (doc === null || typeof doc !== 'object' || !ANCHOR_RE.test(text)) return;
  const IN_PROGRESS = -1;
  const sizes = new Map<object, number>();
  let aliases = 0;
  const visit = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const known = sizes.get(v);
    if (known === IN_PROGRESS) throw new AliasLimitError('recursive alias (a node contains itself)');
    if (known !== undefined) {
      if (++aliases > limits.maxAliases) throw new AliasLimitError(`more than ${limits.maxAliases} alias references`);
      return known;
    }
    sizes.set(v, IN_PROGRESS);
    let total = 1;
    // Depth is bounded by js-yaml's maxDepth (100), so recursion is safe here.
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      total += visit(child);
      if (total > limits.maxExpandedNodes) {
        throw new AliasLimitError(`aliases expand to more than ${limits.maxExpandedNodes} nodes`);
      }
    }
    sizes.set(v, total);
    return total;
  };
  visit(doc);
}
