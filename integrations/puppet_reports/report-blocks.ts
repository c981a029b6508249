/**
 * The text-level fast path over a Psych-written report: where its root keys are, log levels by
 * line, and the failed entries of resource_statuses, all without parsing the YAML (a 7 MB report
 * is mostly resource_statuses nobody needs). parse.ts parses what these cut out.
 */
export interface Block {
  start: number;
  end: number;
}

/**
 * Split a Psych-written report into its root-key blocks. Inside a YAML document only root keys
 * start at column 0 with a letter: nested keys and scalar continuations are indented, and
 * root-level sequence items start with '-'. Returns undefined when the text is not in that layout
 * (legacy ZAML indents root keys; JSON starts with '{').
 */
export function splitRootBlocks(text: string): Map<string, Block> | undefined {
  const blocks = new Map<string, Block>();
  let current: { key: string; start: number } | undefined;
  // Only lines that start with neither a space nor '-' can open a root key; a regex finds those
  // few line starts in a 7 MB report far faster than walking its ~150,000 lines.
  const starts = /\n(?![ \-\n])/g;
  let pos = text.startsWith('---') ? text.indexOf('\n') + 1 : 0;
  if (pos === 0 && text.startsWith('---')) return undefined;
  for (;;) {
    if (pos >= text.length) break;
    const c = text.charCodeAt(pos);
    const isKeyStart = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
    if (isKeyStart) {
      const nl = text.indexOf('\n', pos);
      const colon = text.indexOf(':', pos);
      if (colon === -1 || (nl !== -1 && colon > nl)) return undefined;
      const key = text.slice(pos, colon);
      if (!/^\w+$/.test(key) || blocks.has(key)) return undefined;
      if (current) blocks.set(current.key, { start: current.start, end: pos });
      current = { key, start: pos };
    } else if (text.startsWith('...', pos)) {
      break;
    } else if (c !== 32 && c !== 45) {
      // Anything else at column 0 ('{', a quote, a tab, a second '---'): not a Psych dump.
      return undefined;
    }
    starts.lastIndex = pos;
    const m = starts.exec(text);
    if (!m) {
      pos = text.length;
      break;
    }
    pos = m.index + 1;
  }
  if (current) blocks.set(current.key, { start: current.start, end: Math.min(pos, text.length) });
  return blocks.size > 0 ? blocks : undefined;
}

/**
 * Log levels counted straight from the text of the root `logs:` block. Psych writes every log
 * entry as `- level: x` (first key at column 0) or with `level:` at column 2; continuation lines of
 * multi-line messages are indented deeper, so they cannot match.
 */
export function countLogLevelsInBlock(block: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = /^(?:- | {2})level: ['"]?(\w+)['"]?\s*$/gm;
  for (let m = re.exec(block); m; m = re.exec(block)) {
    const level = m[1]!;
    out[level] = (out[level] ?? 0) + 1;
  }
  return out;
}

/** Start of the line holding `pos`. */
function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** A resource_statuses entry starts at indent 2: `  Type[title]:`, `  "Type[t]":` or `  ? key`. */
function isEntryStart(text: string, at: number): boolean {
  if (text.charCodeAt(at) !== 32 || text.charCodeAt(at + 1) !== 32) return false;
  const c = text.charCodeAt(at + 2);
  return c !== 32 && c !== 45 /* - */ && c !== 58 /* : (explicit-key value) */ && !Number.isNaN(c);
}

/**
 * The resource_statuses entries of failed resources, as text: find the `    failed: true` lines
 * (indent 4: a status's own keys) and cut out the entry each one belongs to.
 */
export function failedEntryChunks(block: string): string[] {
  const chunks = new Map<number, string>();
  // `failed` is never a status's first key, so it always sits on its own line at indent 4.
  const flagRe = /\n {4}(?:failed|failed_to_restart): true\n/g;
  for (let m = flagRe.exec(block); m; m = flagRe.exec(block)) {
    let start = lineStart(block, m.index);
    while (start > 0 && !isEntryStart(block, start)) start = lineStart(block, start - 1);
    if (start === 0 || chunks.has(start)) continue;
    let end = block.indexOf('\n', m.index + 1) + 1;
    while (end > 0 && end < block.length && !isEntryStart(block, end)) {
      const nl = block.indexOf('\n', end);
      end = nl === -1 ? block.length : nl + 1;
    }
    chunks.set(start, block.slice(start, end > 0 ? end : block.length));
    flagRe.lastIndex = Math.max(flagRe.lastIndex, end > 0 ? end - 1 : block.length);
  }
  return [...chunks.values()];
}
