/**
 * Where a quoted field ends, fast, on buffers holding many lines.
 */
const QUOTE = 0x22;
/** Bytes scanned in JS before a quote search falls back to Buffer#indexOf. */
const NEAR = 4;
const BACKSLASH = 0x5c;

/**
 * Finds field ends with Buffer#indexOf (memchr) after a few bytes of JS scanning: measured
 * faster than a JS byte loop for all but the shortest fields. Remembers the last indexOf answer
 * per byte value: when a line lacks the byte, indexOf runs on into the following lines, and
 * without the memo a block of such lines would rescan the same bytes again and again (quadratic).
 *
 * It also holds what the compiled parser (codegen.ts) searches with instead: a DataView on the
 * buffer, so a field end is found four bytes per step inside the line (no native call, and no
 * memo needed because the search stops at the line's end).
 */
export class QuoteFinder {
  /** The buffer the memo and the view describe. */
  buf: Buffer | undefined;
  readonly #from = new Float64Array(256).fill(-1);
  readonly #at = new Float64Array(256).fill(-1);
  readonly #words: boolean;
  view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  /** Words may be read at offsets below this: buf.length - 3, or 0 when words are off. */
  wordLimit = 0;
  /** Later literal occurrences the current line may still try (format.ts RETRY_BUDGET). */
  tries = 0;

  /** `words: false` makes the compiled parser go byte by byte (tests compare both paths). */
  constructor(o: { words?: boolean } = {}) {
    this.#words = o.words ?? true;
  }

  reset(buf: Buffer): void {
    this.buf = buf;
    this.#from.fill(-1);
    this.#at.fill(-1);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    this.wordLimit = this.#words ? Math.max(0, buf.length - 3) : 0;
  }

  /** First position of `byte` in [from, end), or -1. */
  byte(buf: Buffer, from: number, end: number, byte: number): number {
    const near = from + NEAR < end ? from + NEAR : end;
    for (let i = from; i < near; i++) if (buf[i] === byte) return i;
    if (near >= end) return -1;
    const q = this.#index(buf, near, byte);
    return q < end ? q : -1;
  }

  #index(buf: Buffer, p: number, byte: number): number {
    if (buf !== this.buf) this.reset(buf);
    if (p >= this.#from[byte]! && p <= this.#at[byte]!) return this.#at[byte]!;
    let q = buf.indexOf(byte, p);
    if (q === -1) q = buf.length;
    this.#from[byte] = p;
    this.#at[byte] = q;
    return q;
  }

  /** First position in [from, end) where all of `lit` (length ≥ 1) starts, or -1. */
  literal(buf: Buffer, from: number, end: number, lit: Uint8Array): number {
    const n = lit.length;
    for (let p = from; ; p++) {
      p = this.byte(buf, p, end, lit[0]!);
      if (p < 0 || p + n > end) return -1;
      let k = 1;
      while (k < n && buf[p + k] === lit[k]) k++;
      if (k === n) return p;
    }
  }

  /** The first unescaped `"` at or after `from`, or -1 if none before `end`. */
  find(buf: Buffer, from: number, end: number): number {
    const near = from + NEAR < end ? from + NEAR : end;
    let i = from;
    while (i < near) {
      const b = buf[i]!;
      if (b === QUOTE) return i;
      i += b === BACKSLASH ? 2 : 1;
    }
    if (i >= end) return -1;
    let p = i;
    for (;;) {
      const q = this.#index(buf, p, QUOTE);
      if (q >= end) return -1;
      // Apache writes `\"` inside a field and `\\` for a backslash: the quote is escaped when an
      // odd number of backslashes precede it.
      let bs = 0;
      for (let k = q - 1; k >= from && buf[k] === BACKSLASH; k--) bs++;
      if ((bs & 1) === 0) return q;
      p = q + 1;
    }
  }
}
