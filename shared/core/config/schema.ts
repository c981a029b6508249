/**
 * A small strict schema language for integrations.yaml.
 *
 * Why not zod: we need every issue at once, mapped to YAML positions, with messages written for
 * ops engineers ("expected a duration like 10s, 5m, 1h"), and durations/addresses as first-class
 * types. That is ~250 lines here versus a dependency whose messages we would rewrite anyway.
 *
 * Validators work on plain values (the YAML document converted to JS) and report issues by path;
 * the loader maps paths back to file:line:col.
 */

export type Path = readonly (string | number)[];

export interface Issue {
  path: Path;
  message: string;
  /** Point at the key itself rather than its value (unknown keys). */
  atKey?: boolean;
}

export interface ParseContext {
  issues: Issue[];
}

/** Marker for "this value failed"; the issue has already been recorded. */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

export interface Schema<T> {
  /** What the user should write, for messages and `telltale check`. */
  readonly expected: string;
  readonly isOptional: boolean;
  readonly defaultValue: T | undefined;
  /** TSDoc-ish one-liner shown by docs generators. */
  readonly doc: string | undefined;
  parse(value: unknown, path: Path, ctx: ParseContext): T | Invalid;
  optional(): Schema<T | undefined>;
  default(value: T): Schema<T>;
  describe(doc: string): Schema<T>;
  refine(check: (value: T) => string | undefined): Schema<T>;
  map<U>(fn: (value: T) => U): Schema<U>;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Build a schema from a parse function, for shapes the combinators do not cover (a value that
 * may be a number or a mapping, say). optional()/default()/describe() keep the custom parsing.
 */
export function custom<T>(expected: string, parseFn: (value: unknown, path: Path, ctx: ParseContext) => T | Invalid): Schema<T> {
  return make(expected, parseFn);
}

function make<T>(
  expected: string,
  parseFn: (value: unknown, path: Path, ctx: ParseContext) => T | Invalid,
  opts: { isOptional?: boolean; defaultValue?: T | undefined; doc?: string | undefined } = {},
): Schema<T> {
  const self: Schema<T> = {
    expected,
    isOptional: opts.isOptional ?? false,
    defaultValue: opts.defaultValue,
    doc: opts.doc,
    parse(value, path, ctx) {
      if (value === undefined || value === null) {
        if (opts.defaultValue !== undefined) return opts.defaultValue;
        if (opts.isOptional) return undefined as T;
        ctx.issues.push({ path, message: `required: expected ${expected}` });
        return INVALID;
      }
      return parseFn(value, path, ctx);
    },
    optional: () => make<T | undefined>(expected, parseFn, { ...opts, isOptional: true }),
    default: (v) => make<T>(expected, parseFn, { ...opts, defaultValue: v }),
    describe: (doc) => make<T>(expected, parseFn, { ...opts, doc }),
    refine: (check) =>
      make<T>(
        expected,
        (value, path, ctx) => {
          const r = parseFn(value, path, ctx);
          if (r === INVALID) return r;
          const problem = check(r);
          if (problem) {
            ctx.issues.push({ path, message: problem });
            return INVALID;
          }
          return r;
        },
        opts,
      ),
    map: <U>(fn: (value: T) => U) =>
      make<U>(
        expected,
        (value, path, ctx) => {
          const r = parseFn(value, path, ctx);
          return r === INVALID ? INVALID : fn(r as T);
        },
        { isOptional: opts.isOptional ?? false, doc: opts.doc },
      ),
  };
  return self;
}

export function str(o: { nonEmpty?: boolean; pattern?: RegExp; patternHint?: string } = {}): Schema<string> {
  return make('a string', (v, path, ctx) => {
    if (typeof v !== 'string') {
      // Numbers are common for things like names; accept them as their text.
      if (typeof v === 'number') return String(v);
      ctx.issues.push({ path, message: `expected a string, got ${typeName(v)}` });
      return INVALID;
    }
    if (o.nonEmpty && v.length === 0) {
      ctx.issues.push({ path, message: 'must not be empty' });
      return INVALID;
    }
    if (o.pattern && !o.pattern.test(v)) {
      ctx.issues.push({ path, message: `expected ${o.patternHint ?? `a string matching ${o.pattern}`}, got ${typeName(v)}` });
      return INVALID;
    }
    return v;
  });
}

function numeric(kind: 'an integer' | 'a number', v: unknown): number | undefined {
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  // Interpolated ${VARS} arrive as strings; accept "8125" where a number is expected.
  else if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) n = Number(v);
  if (n === undefined || !Number.isFinite(n)) return undefined;
  if (kind === 'an integer' && !Number.isInteger(n)) return undefined;
  return n;
}

export function int(o: { min?: number; max?: number } = {}): Schema<number> {
  return bounded('an integer', o);
}

export function num(o: { min?: number; max?: number } = {}): Schema<number> {
  return bounded('a number', o);
}

function bounded(kind: 'an integer' | 'a number', o: { min?: number; max?: number }): Schema<number> {
  const range =
    o.min !== undefined && o.max !== undefined
      ? ` from ${o.min} to ${o.max}`
      : o.min !== undefined
        ? ` >= ${o.min}`
        : o.max !== undefined
          ? ` <= ${o.max}`
          : '';
  return make(kind + range, (v, path, ctx) => {
    const n = numeric(kind, v);
    if (n === undefined || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
      ctx.issues.push({ path, message: `expected ${kind}${range}, got ${typeName(v)}` });
      return INVALID;
    }
    return n;
  });
}

export function bool(): Schema<boolean> {
  return make('true or false', (v, path, ctx) => {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    ctx.issues.push({ path, message: `expected true or false, got ${typeName(v)}` });
    return INVALID;
  });
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "250ms", "10s", "5m", "1h", "2d" (or a bare number of seconds) into milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!);
}

/** A duration, returned in milliseconds. */
export function duration(o: { minMs?: number; maxMs?: number } = {}): Schema<number> {
  return make('a duration like 500ms, 10s, 5m, 1h', (v, path, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.issues.push({ path, message: `expected a duration like 500ms, 10s, 5m, 1h, got ${typeName(v)}` });
      return INVALID;
    }
    if ((o.minMs !== undefined && ms < o.minMs) || (o.maxMs !== undefined && ms > o.maxMs)) {
      ctx.issues.push({
        path,
        message: `duration out of range (${o.minMs ?? 0}ms..${o.maxMs ?? '∞'}ms), got ${typeName(v)}`,
      });
      return INVALID;
    }
    return ms;
  });
}

export function oneOf<const V extends string>(values: readonly V[]): Schema<V> {
  const expected = `one of ${values.join(', ')}`;
  return make(expected, (v, path, ctx) => {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as V;
    ctx.issues.push({ path, message: `expected ${expected}, got ${typeName(v)}` });
    return INVALID;
  });
}

export function list<T>(item: Schema<T>, o: { minItems?: number; single?: boolean } = {}): Schema<T[]> {
  return make(`a list of ${item.expected}`, (v, path, ctx) => {
    // `single`: a lone value is accepted as a one-item list (path: a.log vs [a.log, b.log]).
    const arr = Array.isArray(v) ? v : o.single ? [v] : undefined;
    if (!arr) {
      ctx.issues.push({ path, message: `expected a list, got ${typeName(v)}` });
      return INVALID;
    }
    if (o.minItems !== undefined && arr.length < o.minItems) {
      ctx.issues.push({ path, message: `expected at least ${o.minItems} item(s)` });
      return INVALID;
    }
    const out: T[] = [];
    let bad = false;
    arr.forEach((x, i) => {
      const r = item.parse(x, Array.isArray(v) ? [...path, i] : path, ctx);
      if (r === INVALID) bad = true;
      else out.push(r);
    });
    return bad ? INVALID : out;
  });
}

/** A mapping with free-form keys (e.g. thresholds: {metric: value}). */
export function record<T>(value: Schema<T>): Schema<Record<string, T>> {
  return make(`a mapping of ${value.expected}`, (v, path, ctx) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      ctx.issues.push({ path, message: `expected a mapping, got ${typeName(v)}` });
      return INVALID;
    }
    const out: Record<string, T> = {};
    let bad = false;
    for (const [k, x] of Object.entries(v)) {
      const r = value.parse(x, [...path, k], ctx);
      if (r === INVALID) bad = true;
      else out[k] = r;
    }
    return bad ? INVALID : out;
  });
}

export type Shape = Record<string, Schema<unknown>>;
export type InferShape<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

export interface ObjectSchema<S extends Shape> extends Schema<InferShape<S>> {
  readonly shape: S;
  extend<E extends Shape>(extra: E): ObjectSchema<S & E>;
}

/** A strict mapping: unknown keys are errors (a typo must never be silently ignored). */
export function obj<S extends Shape>(shape: S): ObjectSchema<S> {
  const parseFn = (v: unknown, path: Path, ctx: ParseContext): InferShape<S> | Invalid => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      ctx.issues.push({ path, message: `expected a mapping, got ${typeName(v)}` });
      return INVALID;
    }
    const input = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    let bad = false;
    for (const key of Object.keys(input)) {
      if (!Object.prototype.hasOwnProperty.call(shape, key)) {
        const known = Object.keys(shape);
        const hint = closest(key, known);
        ctx.issues.push({
          path: [...path, key],
          atKey: true,
          message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}; known keys: ${known.join(', ')}`,
        });
        bad = true;
      }
    }
    for (const [key, schema] of Object.entries(shape)) {
      const r = schema.parse(input[key], [...path, key], ctx);
      if (r === INVALID) bad = true;
      else out[key] = r;
    }
    return bad ? INVALID : (out as InferShape<S>);
  };
  const base = make<InferShape<S>>('a mapping', parseFn);
  // An object is present-or-defaulted: a missing mapping parses as {} so nested defaults apply.
  const withEmptyDefault: Schema<InferShape<S>> = {
    ...base,
    parse: (v, path, ctx) => parseFn(v ?? {}, path, ctx),
  };
  return Object.assign(withEmptyDefault, {
    shape,
    extend: <E extends Shape>(extra: E) => obj({ ...shape, ...extra }),
  });
}

/** A union discriminated by an explicit key (never untagged: messages stay precise). */
export function tagged<K extends string, M extends Record<string, ObjectSchema<Shape>>>(
  key: K,
  variants: M,
): Schema<{ [T in keyof M]: Infer<M[T]> & Record<K, T> }[keyof M]> {
  type Out = { [T in keyof M]: Infer<M[T]> & Record<K, T> }[keyof M];
  const names = Object.keys(variants);
  return make<Out>(`a mapping with ${key}: ${names.join(' | ')}`, (v, path, ctx) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      ctx.issues.push({ path, message: `expected a mapping with ${key}: ${names.join(' | ')}, got ${typeName(v)}` });
      return INVALID;
    }
    const tag = (v as Record<string, unknown>)[key];
    const variant = typeof tag === 'string' ? variants[tag] : undefined;
    if (!variant) {
      ctx.issues.push({ path: [...path, key], message: `expected one of ${names.join(', ')}, got ${typeName(tag)}` });
      return INVALID;
    }
    const { [key]: _omit, ...rest } = v as Record<string, unknown>;
    const r = variant.parse(rest, path, ctx);
    if (r === INVALID) return r;
    return { ...(r as object), [key]: tag } as Out;
  });
}

/** Levenshtein-closest candidate within distance 2, for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** Run a schema over a value; returns the parsed value or the full list of issues. */
export function validate<T>(schema: Schema<T>, value: unknown, path: Path = []): { value: T } | { issues: Issue[] } {
  const ctx: ParseContext = { issues: [] };
  const r = schema.parse(value, path, ctx);
  if (r === INVALID || ctx.issues.length > 0) return { issues: ctx.issues };
  return { value: r };
}
