/**
 * Bounding YAML alias expansion in a loaded document.
 *
 * YAML loaders keep an alias as a shared reference, so a few hundred bytes (`a1: &a1 [*a0 ×10]`,
 * eight levels) describe 10^8 nodes that only blow up when something walks or stringifies the
 * value: a validator, an error message, JSON.stringify. This measures the expanded size without
 * expanding: each distinct object is visited once and its expanded size memoised, so a bomb costs
 * what its text costs. Call it on anything loaded from YAML before walking it.
 */

export interface AliasLimits {
  /** Alias references: objects reached again through another parent. */
  maxAliases: number;
  /** Nodes with every alias expanded: what a stringify or a full walk would visit. */
  maxExpandedNodes: number;
}

/** A document over its AliasLimits, or with a recursive alias (`&a [*a]` resolves to a cycle). */
export class AliasLimitError extends Error {
  /** Keys from the root to where the limit was hit (for FILE:LINE:COL). */
  readonly path: (string | number)[];
  constructor(message: string, path: (string | number)[]) {
    super(message);
    this.name = 'AliasLimitError';
    this.path = path;
  }
}

const IN_PROGRESS = -1;

export function checkAliasExpansion(doc: unknown, limits: AliasLimits): void {
  if (doc === null || typeof doc !== 'object') return;
  const sizes = new Map<object, number>();
  const path: (string | number)[] = [];
  let aliases = 0;
  const fail = (message: string): never => {
    throw new AliasLimitError(message, [...path]);
  };
  const visit = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const known = sizes.get(v);
    if (known === IN_PROGRESS) fail('recursive alias (a node contains itself)');
    if (known !== undefined) {
      if (++aliases > limits.maxAliases) fail(`more than ${limits.maxAliases} alias references`);
      return known;
    }
    sizes.set(v, IN_PROGRESS);
    let total = 1;
    // Depth is bounded by the loaders' own nesting limits, so recursion is safe here.
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((c, i) => [i, c]) : v instanceof Map ? [...v.entries()] : Object.entries(v);
    for (const [key, child] of entries) {
      path.push(key);
      total += visit(child);
      if (total > limits.maxExpandedNodes) fail(`aliases expand to more than ${limits.maxExpandedNodes} nodes`);
      path.pop();
    }
    sizes.set(v, total);
    return total;
  };
  visit(doc);
}
