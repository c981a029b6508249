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
