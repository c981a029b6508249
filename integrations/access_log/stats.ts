/**
 * Per-source aggregation. Counters live in a typed array indexed by status code / slot and are
 * handed to the emitter once per flush, so a million lines cost a handful of counter calls.
 * Response times are all kept (statsd needs every value for its percentiles), collected in a
 * typed array and handed over with one emitter.timingBatch() call per read chunk and per flush.
 */
import { isUtf8 } from 'node:buffer';
import type { Emitter } from '../../shared/emitter/types.js';
import { compileParser, type LineParser } from './codegen.js';
import type { LineFormat } from './line-format.js';
import {
  CACHE_HIT,
  CACHE_MISS,
  CACHE_NAMES,
  CACHE_OTHER,
  CACHE_PASS,
  CACHE_PIPE,
  CACHE_SYNTH,
  newParsedLine,
  type MethodTable,
  type ParsedLine,
} from './fields.js';
import { QuoteFinder } from './quotes.js';

/** What the line loop emits through: a worker thread passes a collector instead of an emitter. */
export type StatsEmitter = Pick<Emitter, 'counter' | 'timing' | 'timingBatch'>;

/** The timers' names under the source: `<src>.response_time`, `<src>.first_byte_time`. */
export const RESPONSE_TIME = 'response_time';
export const FIRST_BYTE_TIME = 'first_byte_time';

// Slots below 100 are ours; 100..599 are per-status-code counts.
const REQUESTS = 0;
const GOOD = 1;
const BAD = 2;
const BYTES = 3;
const UNPARSED = 4;
const TOO_LONG = 5;
const INVALID = 6;
const ROTATIONS = 7;
const TRUNCATIONS = 8;
const GAPS = 9;
const RECOVERED = 10;
/** Requests logged with `-` for a status (varnishncsa's piped requests). */
const NO_STATUS = 11;
const CLASS_BASE = 20; // 21..25 = 1xx..5xx
const CACHE_BASE = 30; // 31..36 = CACHE_HIT..CACHE_OTHER
const SLOTS = 600;

const ALWAYS: readonly [number, string][] = [
  [REQUESTS, 'requests'],
  [GOOD, 'good'],
  [BAD, 'bad'],
  [BYTES, 'bytes'],
  [UNPARSED, 'unparsed'],
];
const WHEN_SEEN: readonly [number, string][] = [
  [TOO_LONG, 'lines.too_long'],
  [INVALID, 'lines.invalid'],
  [ROTATIONS, 'tailer.rotations'],
  [TRUNCATIONS, 'tailer.truncations'],
  [GAPS, 'tailer.gaps'],
  [RECOVERED, 'tailer.recovered_lines'],
  [NO_STATUS, 'status.none'],
  [CACHE_BASE + CACHE_OTHER, `cache.${CACHE_NAMES[CACHE_OTHER]}`],
];

export interface ModStatsdOptions {
  prefix: string;
  suffix: string;
  exclude: readonly RegExp[];
  /** Empty: every method we recognise; otherwise the rest become OtherVerbs. */
  verbs: readonly string[];
  maxKeys: number;
  legacyMode: boolean;
}

/**
 * Apache mod_statsd's names: `<prefix.><path.key>.<METHOD>.<STATUS><.suffix>` as a counter and a
 * timer (integer ms). The key comes from the URL path, so the number of distinct keys is capped:
 * scanners hitting random URLs must not create unbounded Graphite files.
 */
export class ModStatsd {
  readonly #o: ModStatsdOptions;
  readonly #keys = new Map<string, string>();
  readonly #counts = new Map<string, number>();
  overflowed = 0;

  constructor(o: ModStatsdOptions) {
    this.#o = o;
  }

  #key(rawPath: string): string {
    let k = this.#keys.get(rawPath);
    if (k !== undefined) return k;
    const parts: string[] = [];
    for (const part of rawPath.split('/')) {
      if (part === '') continue;
      if (this.#o.exclude.some((re) => re.test(part))) continue;
      parts.push(part.replace(/[.:|]/g, '_'));
    }
    k = parts.length === 0 ? 'ROOT' : parts.join('.');
    if (this.#keys.size >= this.#o.maxKeys) {
      this.overflowed++;
      return '_other';
    }
    this.#keys.set(rawPath, k);
    return k;
  }

  record(buf: Buffer, p: ParsedLine, method: string, emitter: StatsEmitter): void {
    const path = p.pathStart >= 0 ? buf.toString('latin1', p.pathStart, p.pathEnd) : '';
    const verbs = this.#o.verbs;
    const verb = method === 'OTHER' || (verbs.length > 0 && !verbs.includes(method)) ? 'OtherVerbs' : method;
    const name = `${this.#o.prefix}${this.#key(path)}.${verb}.${p.status === 0 ? 'none' : p.status}${this.#o.suffix}`;
    if (this.#o.legacyMode) this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
    if (p.timeUs >= 0 && p.status !== 101 && p.status !== 0) emitter.timing(name, Math.floor(p.timeUs / 1000));
  }

  flush(emitter: StatsEmitter): number {
    let n = 0;
    for (const [name, v] of this.#counts) {
      emitter.counter(name, v);
      n++;
    }
    this.#counts.clear();
    return n;
  }
}

export class SourceStats {
  readonly name: string;
  readonly #c = new Float64Array(SLOTS);
  readonly #methods: Float64Array;
  readonly #methodNames: readonly string[];
  readonly #emitter: StatsEmitter;
  readonly #mod: ModStatsd | undefined;
  readonly #response: TimerBatch | undefined;
  readonly #firstByte: TimerBatch | undefined;
  readonly #cached: boolean;
  /** cache.* counters sent every flush, zeros included: the words the format's cache field has. */
  readonly #cacheAlways: readonly number[];

  constructor(
    name: string,
    methods: MethodTable,
    emitter: StatsEmitter,
    mod: ModStatsd | undefined,
    format: Pick<LineFormat, 'hasTime' | 'hasFirstByte' | 'cache'>,
  ) {
    this.name = name;
    this.#methodNames = methods.names;
    this.#methods = new Float64Array(methods.names.length);
    this.#emitter = emitter;
    this.#mod = mod;
    this.#response = format.hasTime ? new TimerBatch(`${name}.${RESPONSE_TIME}`) : undefined;
    this.#firstByte = format.hasFirstByte ? new TimerBatch(`${name}.${FIRST_BYTE_TIME}`) : undefined;
    this.#cached = format.cache !== 'none';
    this.#cacheAlways =
      format.cache === 'handling'
        ? [CACHE_HIT, CACHE_MISS, CACHE_PASS, CACHE_PIPE, CACHE_SYNTH]
        : format.cache === 'hitmiss'
          ? [CACHE_HIT, CACHE_MISS]
          : [];
  }

  record(buf: Buffer, p: ParsedLine): void {
    const c = this.#c;
    const status = p.status;
    c[REQUESTS]!++;
    if (status > 0) {
      c[status]!++;
      const cls = (status / 100) | 0;
      c[CLASS_BASE + cls]!++;
      if (cls === 2 || cls === 3) c[GOOD]!++;
      else if (cls >= 4) c[BAD]!++;
    } else c[NO_STATUS]!++;
    c[BYTES]! += p.bytes;
    this.#methods[p.method]!++;
    // A 101 is a WebSocket logged when the tunnel closes, a status-less line a varnish pipe: the
    // "response time" is the tunnel's lifetime (hours) and would wreck every percentile.
    if (status !== 101 && status !== 0) {
      if (this.#response && p.timeUs >= 0) this.#response.add(p.timeUs / 1000);
      if (this.#firstByte && p.firstByteUs >= 0) this.#firstByte.add(p.firstByteUs / 1000);
    }
    if (this.#cached) c[CACHE_BASE + p.cache]!++;
    if (this.#mod) this.#mod.record(buf, p, this.#methodNames[p.method]!, this.#emitter);
  }

  /**
   * Hand the collected times to the emitter: after every read chunk (a chunk holds a few
   * thousand lines, so memory stays bounded and a statsd sink sends as it reads) and at flush.
   */
  emitTimes(): void {
    this.#response?.emit(this.#emitter);
    this.#firstByte?.emit(this.#emitter);
  }

  unparsed(): void {
    this.#c[UNPARSED]!++;
  }
  tooLong(): void {
    this.#c[UNPARSED]!++;
    this.#c[TOO_LONG]!++;
  }
  invalid(): void {
    this.#c[UNPARSED]!++;
    this.#c[INVALID]!++;
  }
  rotated(): void {
    this.#c[ROTATIONS]!++;
  }
  truncated(): void {
    this.#c[TRUNCATIONS]!++;
  }
  /** Unread data may have been lost (a truncated file without a findable copy, a vanished file). */
  gap(): void {
    this.#c[GAPS]!++;
  }
  recovered(lines: number): void {
    this.#c[RECOVERED]! += lines;
  }
  /**
   * The interval's counts so far, handed over and zeroed: a worker thread's share of a file,
   * for the main thread's addCounts() (integers, so the sum is exact in any order).
   */
  takeCounts(): { slots: Float64Array<ArrayBuffer>; methods: Float64Array<ArrayBuffer> } {
    const out = { slots: this.#c.slice(), methods: this.#methods.slice() };
    this.#c.fill(0);
    this.#methods.fill(0);
    return out;
  }

  addCounts(slots: Float64Array, methods: Float64Array): void {
    for (let i = 0; i < SLOTS; i++) this.#c[i]! += slots[i]!;
    for (let m = 0; m < this.#methods.length; m++) this.#methods[m]! += methods[m]!;
  }

  /**
   * Times a worker thread collected from one chunk (response times, or times to first byte with
   * `firstByte`), handed to the emitter as emitTimes() would.
   */
  addTimes(ms: Float64Array, firstByte = false): void {
    const timer = firstByte ? this.#firstByte : this.#response;
    if (timer && ms.length > 0) this.#emitter.timingBatch(timer.name, ms, ms.length);
  }

  /** Lines taken in since the last flush (parsed or not), for self-metrics. */
  get lines(): number {
    return this.#c[REQUESTS]! + this.#c[UNPARSED]!;
  }

  /** Hand the interval's sums to the emitter and start a new interval. Returns metrics emitted. */
  flush(): number {
    const c = this.#c;
    const e = this.#emitter;
    const n = this.name;
    let emitted = 0;
    this.emitTimes();
    for (const [slot, suffix] of ALWAYS) {
      e.counter(`${n}.${suffix}`, c[slot]!);
      emitted++;
    }
    for (const [slot, suffix] of WHEN_SEEN) {
      if (c[slot]! > 0) {
        e.counter(`${n}.${suffix}`, c[slot]!);
        emitted++;
      }
    }
    for (const k of this.#cacheAlways) {
      e.counter(`${n}.cache.${CACHE_NAMES[k]}`, c[CACHE_BASE + k]!);
      emitted++;
    }
    for (let cls = 1; cls <= 5; cls++) {
      const v = c[CLASS_BASE + cls]!;
      if (v > 0) {
        e.counter(`${n}.status.${cls}xx`, v);
        emitted++;
      }
    }
    for (let code = 100; code < SLOTS; code++) {
      const v = c[code]!;
      if (v > 0) {
        e.counter(`${n}.status.${code}`, v);
        emitted++;
      }
    }
    for (let m = 0; m < this.#methods.length; m++) {
      const v = this.#methods[m]!;
      if (v > 0) {
        e.counter(`${n}.method.${this.#methodNames[m]}`, v);
        emitted++;
      }
    }
    if (this.#mod) emitted += this.#mod.flush(e);
    c.fill(0);
    this.#methods.fill(0);
    return emitted;
  }
}

/** One timer's values (ms) collected since they were last handed to the emitter. */
class TimerBatch {
  readonly name: string;
  #values = new Float64Array(1024);
  #count = 0;

  constructor(name: string) {
    this.name = name;
  }

  add(ms: number): void {
    if (this.#count === this.#values.length) {
      const t = new Float64Array(this.#values.length * 2);
      t.set(this.#values);
      this.#values = t;
    }
    this.#values[this.#count++] = ms;
  }

  emit(emitter: StatsEmitter): void {
    if (this.#count === 0) return;
    emitter.timingBatch(this.name, this.#values, this.#count);
    this.#count = 0;
  }
}

/** Everything the line loop needs, built once per instance. */
export interface ScanContext {
  /** The compiled line parser (codegen.ts). */
  readonly parse: LineParser;
  readonly methods: MethodTable;
  readonly quotes: QuoteFinder;
  readonly out: ParsedLine;
  readonly maxLineBytes: number;
  readonly wantPath: boolean;
}

export function newScanContext(format: LineFormat, methods: MethodTable, maxLineBytes: number, wantPath: boolean): ScanContext {
  return { parse: compileParser(format), methods, quotes: new QuoteFinder(), out: newParsedLine(), maxLineBytes, wantPath };
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * Count every complete line in view[start, end) into `src`. Returns the offset just past the last
 * `\n` (== start when there is no complete line yet: a partial last line waits for its `\n`).
 *
 * Splits on `\n` only (readline also splits on a bare `\r`, inventing lines in binary junk) and
 * strips one `\r` before it. Lines with NUL bytes or invalid UTF-8 are skipped and counted; the
 * check runs once over the whole chunk and only falls back to per-line checks when it fails.
 */
export function scanLines(view: Buffer, start: number, end: number, sc: ScanContext, src: SourceStats): number {
  const lastNl = view.lastIndexOf(NL, end - 1);
  if (lastNl < start) return start;
  const stop = lastNl + 1;
  const region = view.subarray(start, stop);
  const clean = region.indexOf(0) === -1 && isUtf8(region);
  sc.quotes.reset(view);
  countLines(view, start, stop, clean, sc, src);
  src.emitTimes();
  return stop;
}

/**
 * The line loop, alone in its function with nothing after it. V8 compiles a long loop while its
 * first run is still inside it, so code after the loop has not run yet and has no type feedback;
 * reaching it threw the compiled loop away at the end of every chunk, and each chunk then started
 * in baseline code again (seen with --trace-deopt: once per 1 MiB chunk).
 */
function countLines(view: Buffer, start: number, stop: number, clean: boolean, sc: ScanContext, src: SourceStats): void {
  const { parse, methods, quotes, out, maxLineBytes, wantPath } = sc;
  for (let p = start; p < stop; ) {
    const nl = view.indexOf(NL, p);
    let le = nl;
    if (le > p && view[le - 1] === CR) le--;
    if (nl - p > maxLineBytes) src.tooLong();
    else if (!clean && !validLine(view, p, le)) src.invalid();
    else if (parse(view, p, le, out, methods, quotes, wantPath)) src.record(view, out);
    else src.unparsed();
    p = nl + 1;
  }
}

function validLine(buf: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (buf[i] === 0) return false;
  return isUtf8(buf.subarray(s, e));
}
