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
 * Split a Psych-written report into its root-key blocks, as byte offsets into the file. Inside a
 * YAML document only root keys start at column 0 with a letter: nested keys and scalar
 * continuations are indented, and root-level sequence items start with '-'. Returns undefined
 * when the file is not in that layout (legacy ZAML indents root keys; JSON starts with '{').
 *
 * It works on the bytes: the bulk of a report is resource_statuses, which the fast path never
 * decodes (decoding a 4 MB report to a string cost more than everything else it does).
 */
export function splitRootBlocks(data: Buffer): Map<string, Block> | undefined {
  const blocks = new Map<string, Block>();
  let current: { key: string; start: number } | undefined;
  const docStart = startsWith(data, 0, DOC_START);
  let pos = docStart ? data.indexOf(NL) + 1 : 0;
  if (pos === 0 && docStart) return undefined;
  for (;;) {
    if (pos >= data.length) break;
    const c = data[pos]!;
    const isKeyStart = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
    if (isKeyStart) {
      const nl = data.indexOf(NL, pos);
      const colon = data.indexOf(COLON, pos);
      if (colon === -1 || (nl !== -1 && colon > nl)) return undefined;
      const key = data.toString('utf8', pos, colon);
      // A key twice is not a Psych dump (and the full parse refuses it): the current one counts too.
      if (!/^\w+$/.test(key) || blocks.has(key) || current?.key === key) return undefined;
      if (current) blocks.set(current.key, { start: current.start, end: pos });
      current = { key, start: pos };
    } else if (startsWith(data, pos, DOC_END)) {
      break;
    } else if (c !== 32 && c !== 45) {
      // Anything else at column 0 ('{', a quote, a tab, a second '---'): not a Psych dump.
      return undefined;
    }
    // The next line that starts with neither a space, a '-' nor a newline: Buffer.indexOf walks
    // the ~130,000 lines of a 4 MB report in a few milliseconds.
    let next = data.indexOf(NL, pos);
    while (next !== -1) {
      const d = data[next + 1];
      if (d !== 32 && d !== 45 && d !== NL) break;
      next = data.indexOf(NL, next + 1);
    }
    if (next === -1) {
      pos = data.length;
      break;
    }
    pos = next + 1;
  }
  if (current) blocks.set(current.key, { start: current.start, end: Math.min(pos, data.length) });
  return blocks.size > 0 ? blocks : undefined;
}

const NL = 0x0a;
const COLON = 0x3a;
const DOC_START = Buffer.from('---');
const DOC_END = Buffer.from('...');

function startsWith(data: Buffer, at: number, what: Buffer): boolean {
  return data.length - at >= what.length && data.compare(what, 0, what.length, at, at + what.length) === 0;
}

/** A log entry's level line: `- level: x` (first key) or `  level: x` (a later key). */
const LEVEL_LINE = /^(?:- | {2})level: ['"]?(\w+)['"]?\s*$/;

/**
 * Log levels counted straight from the text of the root `logs:` block. Psych writes every log
 * entry as `- level: x` (first key at column 0) or with `level:` at column 2; continuation lines of
 * multi-line messages are indented deeper, so they cannot match.
 */
export function countLogLevelsInBlock(block: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(LEVEL_LINE.source, 'gm');
  for (let m = re.exec(block); m; m = re.exec(block)) {
    const level = m[1]!;
    out[level] = (out[level] ?? 0) + 1;
  }
  return out;
}

const LEVEL = Buffer.from('level: ');
// Line terminators a multiline RegExp knows besides \n: CR, U+2028, U+2029.
const OTHER_BREAKS = [Buffer.from('\r'), Buffer.from('\u2028'), Buffer.from('\u2029')];

/**
 * The same count from the block's bytes, decoding only the lines that hold `level: ` at column 0
 * or 2 (a 1 MB logs block has a few thousand): the same pattern, line by line, so the same count.
 * A block with another line terminator is decoded whole, where the RegExp sees its lines.
 */
export function countLogLevelsInBytes(block: Buffer): Record<string, number> {
  if (OTHER_BREAKS.some((b) => block.includes(b))) return countLogLevelsInBlock(block.toString('utf8'));
  const out: Record<string, number> = {};
  for (let p = block.indexOf(LEVEL); p !== -1; p = block.indexOf(LEVEL, p + 1)) {
    const start = p - 2;
    if (start < 0 || (start > 0 && block[start - 1] !== NL)) continue;
    const nl = block.indexOf(NL, p);
    const m = LEVEL_LINE.exec(block.toString('utf8', start, nl === -1 ? block.length : nl));
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + 1;
  }
  return out;
}

/** Start of the line holding `pos`. */
function lineStart(data: Buffer, pos: number): number {
  // Buffer.lastIndexOf counts a negative offset from the end: line 0 needs no search.
  return pos <= 0 ? 0 : data.lastIndexOf(NL, pos - 1) + 1;
}

/** A resource_statuses entry starts at indent 2: `  Type[title]:`, `  "Type[t]":` or `  ? key`. */
function isEntryStart(data: Buffer, at: number): boolean {
  if (data[at] !== 32 || data[at + 1] !== 32) return false;
  const c = data[at + 2];
  return c !== undefined && c !== 32 && c !== 45 /* - */ && c !== 58 /* : (explicit-key value) */;
}

// `failed` is never a status's first key, so it always sits on its own line at indent 4.
const FLAGS = [Buffer.from('\n    failed: true\n'), Buffer.from('\n    failed_to_restart: true\n')];

/**
 * The failed flags of a block in order. Each flag's next position is remembered, so a flag that
 * is rare or absent (`failed_to_restart`) is not searched for again to the block's end after
 * every entry.
 */
function flagFinder(block: Buffer): (from: number) => { at: number; length: number } | undefined {
  const next = FLAGS.map(() => -2);
  return (from) => {
    let best: { at: number; length: number } | undefined;
    FLAGS.forEach((f, i) => {
      if (next[i] !== -1 && next[i]! < from) next[i] = block.indexOf(f, from);
      const at = next[i]!;
      if (at !== -1 && (best === undefined || at < best.at)) best = { at, length: f.length };
    });
    return best;
  };
}

/**
 * The resource_statuses entries of failed resources, as text: find the `    failed: true` lines
 * (indent 4: a status's own keys) and cut out the entry each one belongs to. Only those entries
 * are decoded.
 */
export function failedEntryChunks(block: Buffer): string[] {
  const chunks = new Map<number, string>();
  const nextFlag = flagFinder(block);
  for (let flag = nextFlag(0); flag; ) {
    let next = flag.at + flag.length;
    let start = lineStart(block, flag.at);
    while (start > 0 && !isEntryStart(block, start)) start = lineStart(block, start - 1);
    if (start !== 0 && !chunks.has(start)) {
      let end = block.indexOf(NL, flag.at + 1) + 1;
      while (end > 0 && end < block.length && !isEntryStart(block, end)) {
        const nl = block.indexOf(NL, end);
        end = nl === -1 ? block.length : nl + 1;
      }
      chunks.set(start, block.toString('utf8', start, end > 0 ? end : block.length));
      next = Math.max(next, end > 0 ? end - 1 : block.length);
    }
    flag = nextFlag(next);
  }
  return [...chunks.values()];
}
