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
import { checkAliasExpansion, type AliasLimits } from '../../shared/core/yaml/alias-expansion.js';

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
 * How far aliases may expand a loaded report. Real reports use a few `&id001` anchors for shared
 * tag lists (Puppet ≤ 4), each expanding to a handful of nodes; a 64 MiB report holds about
 * 3 million nodes. Both bounds are far above that and far below a bomb.
 */
export const ALIAS_LIMITS: AliasLimits = {
  maxAliases: 100_000,
  maxExpandedNodes: 5_000_000,
};

/** An anchor (`&name`) at a node position; without one no alias can resolve (js-yaml throws). */
const ANCHOR_RE = /(?:^|[\s[{,:-])&[^\s,[\]{}]/;

/**
 * checkAliasExpansion for a js-yaml document, skipped when the text defines no anchor (every
 * Puppet ≥ 5 report): the common path pays one regex scan.
 */
export function checkReportAliases(doc: unknown, text: string): void {
  if (ANCHOR_RE.test(text)) checkAliasExpansion(doc, ALIAS_LIMITS);
}
