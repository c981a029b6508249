/**
 * What a compiled access-log format is: the flat token program (LineFormat, its Tokens and the
 * role and scan codes in them) that format.ts produces and parse.ts and codegen.ts run, and the
 * error a format that cannot be compiled raises. Its own module so the compiler's pieces and the
 * scanners all depend on it and never on each other.
 */

/** What a field means to us; everything else is skipped. */
export const ROLE_IGNORE = 0;
export const ROLE_REQUEST = 1;
export const ROLE_STATUS = 2;
export const ROLE_BYTES = 3;
export const ROLE_TIME = 4;
export const ROLE_METHOD = 5;
export const ROLE_PATH = 6;
/** Time to first byte (varnishncsa %{Varnish:time_firstbyte}x, Apache %^FB). */
export const ROLE_FIRST_BYTE = 7;
/** How a cache handled the request (varnishncsa %{Varnish:handling}x or %{Varnish:hitmiss}x). */
export const ROLE_CACHE = 8;

/** How the scanner finds the end of a field. */
export const SCAN_TO_BYTE = 0;
/** Inside "…": the first `"` not preceded by an odd run of backslashes (Apache's `\"`). */
export const SCAN_QUOTED = 1;
/** Apache `%t`: the field itself is `[…]`. */
export const SCAN_BRACKETED = 2;
/** The last token of the format: the field runs to the end of the line. */
export const SCAN_TO_END = 3;

/**
 * Later occurrences of a literal tried per line, over all retrying fields together. A real line
 * needs one per space-holding field value at most; the bound keeps a hostile line linear.
 */
export const RETRY_BUDGET = 32;

export interface Token {
  /** A literal to match byte for byte (empty for fields). */
  readonly literal: Uint8Array;
  readonly isField: boolean;
  readonly role: number;
  readonly scan: number;
  /** SCAN_TO_BYTE: the byte that ends the field (first byte of the next literal). */
  readonly term: number;
  /** The whole literal after the field (empty when none): a field that may hold spaces ends at it. */
  readonly until: Uint8Array;
  /**
   * SCAN_TO_BYTE only: the field's value can contain its own terminator (a client fills it: a user
   * name, a header, a URL). It then ends at the first occurrence of the whole next literal, and
   * when the rest of the line does not fit from there, at the next one (bounded by RETRY_BUDGET).
   * Fields that cannot (addresses, ports, numbers) end at the first byte of the literal.
   */
  readonly retry: boolean;
  /** ROLE_TIME: microseconds per unit of the logged number (1e6 for seconds). */
  readonly timeUnitUs: number;
  /** The directive as written, for messages. */
  readonly source: string;
}

export interface LineFormat {
  readonly kind: 'tokens' | 'json';
  /** The format name or the custom string, for logs and errors. */
  readonly name: string;
  readonly tokens: readonly Token[];
  /** json: key names per role. */
  readonly jsonKeys: ReadonlyMap<string, { role: number; timeUnitUs: number }>;
  readonly hasTime: boolean;
  readonly hasFirstByte: boolean;
  /**
   * The cache field: `handling` (hit, miss, pass, pipe, synth), `hitmiss` (hit or miss: varnishncsa
   * counts pass, pipe and synth as misses there), or `none`.
   */
  readonly cache: 'handling' | 'hitmiss' | 'none';
}

export class FormatError extends Error {
  override name = 'FormatError' as const;
}
