/**
 * Reads YAML keeping node positions, interpolates ${ENV} in scalars, and maps schema issue paths
 * back to FILE:LINE:COL (js-yaml only knows positions for syntax errors; eemeli/yaml keeps them
 * for every node, which is why the config loader uses it).
 */
import type { Alias, Document, LineCounter, Node } from 'yaml';
import { yamlLib as yaml } from '../yaml/yaml-lib.js';
import type { Issue, Path } from './schema.js';

export interface YamlSource {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
  /** Syntax and interpolation problems, already positioned. */
  errors: string[];
  /** A scalar took a value from the environment: the data depends on more than the text. */
  interpolated: boolean;
}

export function readYaml(file: string, text: string, env: NodeJS.ProcessEnv): YamlSource {
  const { LineCounter, parseDocument, Scalar, visit } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const errors: string[] = [];
  let interpolated = false;
  for (const e of doc.errors) {
    const pos = lineCounter.linePos(e.pos[0]);
    errors.push(`${file}:${pos.line}:${pos.col}: ${e.message.split('\n')[0]}`);
  }
  if (errors.length === 0) {
    visit(doc, {
      Scalar(key, node) {
        if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
        interpolated = true;
        const missing: string[] = [];
        const out = node.value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => {
          const v = env[name];
          if (v !== undefined && v !== '') return v;
          if (def !== undefined) return def;
          missing.push(name);
          return '';
        });
        if (missing.length > 0) {
          const pos = node.range ? lineCounter.linePos(node.range[0]) : { line: 0, col: 0 };
          errors.push(`${file}:${pos.line}:${pos.col}: environment variable ${missing.join(', ')} is not set (use \${${missing[0]}:-default} for a default)`);
          return;
        }
        // An unquoted ${PORT} should become the number it spells, as if written inline.
        if (node.type === Scalar.PLAIN) {
          if (/^-?\d+(\.\d+)?$/.test(out)) node.value = Number(out);
          else if (out === 'true' || out === 'false') node.value = out === 'true';
          else node.value = out;
        } else node.value = out;
      },
    });
  }
  return { file, doc, lineCounter, errors, interpolated };
}

/** The node at `path`, or the nearest existing ancestor. `atKey` points at the key of a pair. */
function locate(src: YamlSource, path: Path, atKey: boolean): Node | undefined {
  const { isMap, isPair, isScalar, isSeq } = yaml();
  let node: unknown = src.doc.contents;
  let last: Node | undefined = node as Node | undefined;
  // A missing key is reported at the key that owns the mapping it is missing from.
  let lastKey: Node | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return lastKey ?? last;
      lastKey = pair.key as Node;
      if (atKey && i === path.length - 1) return pair.key as Node;
      node = pair.value;
      last = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (!node) return last;
      last = node as Node;
      lastKey = node as Node;
    } else return last;
  }
  return last;
}

export function formatIssue(src: YamlSource, issue: Issue): string {
  const node = locate(src, issue.path, issue.atKey ?? false);
  const range = node?.range;
  const pos = range ? src.lineCounter.linePos(range[0]) : { line: 1, col: 1 };
  const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  return `${src.file}:${pos.line}:${pos.col}: ${key}: ${issue.message}`;
}

/**
 * FILE:LINE:COL for an alias problem the yaml library reports without a position: the first use
 * of the anchor used most often.
 */
export function aliasProblem(src: YamlSource, message: string): string {
  const { isAlias, visit } = yaml();
  const uses = new Map<string, Alias[]>();
  visit(src.doc, {
    Alias(_key, node) {
      if (!isAlias(node)) return;
      const list = uses.get(node.source);
      if (list) list.push(node);
      else uses.set(node.source, [node]);
    },
  });
  let worst: Alias[] = [];
  for (const list of uses.values()) if (list.length > worst.length) worst = list;
  const first = worst[0];
  const pos = first?.range ? src.lineCounter.linePos(first.range[0]) : { line: 1, col: 1 };
  return `${src.file}:${pos.line}:${pos.col}: ${first ? `*${first.source.slice(0, 80)} (used ${worst.length} times): ` : ''}${message}`;
}

/** A FILE:LINE:COL problem at the n-th alias of the file, or undefined when it has fewer. */
export function nthAlias(src: YamlSource, n: number): string | undefined {
  const { visit } = yaml();
  let seen = 0;
  let at: Alias | undefined;
  visit(src.doc, {
    Alias(_key, node) {
      if (++seen < n) return undefined;
      at = node;
      return visit.BREAK;
    },
  });
  if (!at) return undefined;
  const pos = at.range ? src.lineCounter.linePos(at.range[0]) : { line: 1, col: 1 };
  return `${src.file}:${pos.line}:${pos.col}: more than ${n - 1} aliases in one file`;
}
