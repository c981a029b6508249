/**
 * The event header line (`ver:3.0 server:… serial:… pool:… poolserial:… eventname:… len:…`):
 * the few fields the protocol and the model need are read up front, the rest on demand.
 */
export interface EventHeader {
  ver: string;
  server: string;
  /** Global event serial of this supervisord run; a redelivered event keeps it. */
  serial: number | undefined;
  pool: string;
  /** Per-pool serial; gaps mean supervisord discarded events (buffer overflow). */
  poolserial: number | undefined;
  eventname: string;
  len: number;
  /** Every token as sent, including ones this version does not know. */
  tokens: Record<string, string>;
}

/** text[from..to) as a non-negative decimal of at most 15 digits (exact in a double), else undefined. */
function digitsIn(text: string, from: number, to: number): number | undefined {
  if (from < 0 || to <= from || to - from > 15) return undefined;
  let v = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) return undefined;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** Every `key:value` token of a line of space-separated tokens; the last of a repeated key wins. */
export function splitTokens(text: string): Record<string, string> {
  const tokens: Record<string, string> = {};
  const n = text.length;
  for (let i = 0; i < n; ) {
    let sp = text.indexOf(' ', i);
    if (sp < 0) sp = n;
    const c = text.indexOf(':', i);
    if (c > i && c < sp) tokens[text.slice(i, c)] = text.slice(c + 1, sp);
    i = sp + 1;
  }
  return tokens;
}

/**
 * A header that only extracts what the protocol and the model need (len, eventname, serials)
 * up front; the rest is read from the line when asked for. This runs once per event *before*
 * the answer is written, and building a token record cost a string interning per key.
 */
class ParsedHeader implements EventHeader {
  serial: number | undefined;
  poolserial: number | undefined;
  eventname: string;
  len: number;
  #text: string;
  #tokens: Record<string, string> | undefined;
  constructor(text: string, serial: number | undefined, poolserial: number | undefined, eventname: string, len: number) {
    this.#text = text;
    this.serial = serial;
    this.poolserial = poolserial;
    this.eventname = eventname;
    this.len = len;
  }
  get tokens(): Record<string, string> {
    return (this.#tokens ??= splitTokens(this.#text));
  }
  get ver(): string {
    return this.tokens['ver'] ?? '';
  }
  get server(): string {
    return this.tokens['server'] ?? '';
  }
  get pool(): string {
    return this.tokens['pool'] ?? '';
  }
}

export function parseHeaderLine(text: string, maxLen: number): { header: EventHeader; problem: string | undefined } {
  // Hand-rolled rather than split/regex, keeping positions instead of slices.
  let eventname = '';
  let lenAt = -1;
  let lenEnd = -1;
  let serialAt = -1;
  let serialEnd = -1;
  let poolserialAt = -1;
  let poolserialEnd = -1;
  const n = text.length;
  for (let i = 0; i < n; ) {
    let sp = text.indexOf(' ', i);
    if (sp < 0) sp = n;
    const c = text.indexOf(':', i);
    if (c > i && c < sp) {
      switch (c - i) {
        case 3:
          if (text.startsWith('len', i)) {
            lenAt = c + 1;
            lenEnd = sp;
          }
          break;
        case 6:
          if (text.startsWith('serial', i)) {
            serialAt = c + 1;
            serialEnd = sp;
          }
          break;
        case 9:
          if (text.startsWith('eventname', i)) eventname = text.slice(c + 1, sp);
          break;
        case 10:
          if (text.startsWith('poolserial', i)) {
            poolserialAt = c + 1;
            poolserialEnd = sp;
          }
          break;
      }
    }
    i = sp + 1;
  }
  let problem: string | undefined;
  let len = 0;
  if (lenAt < 0) problem = 'header has no len';
  else {
    const l = digitsIn(text, lenAt, lenEnd);
    if (l === undefined || l > maxLen) problem = `header has an unusable len:${text.slice(lenAt, Math.min(lenEnd, lenAt + 20))}`;
    else len = l;
  }
  if (!problem && eventname === '') problem = 'header has no eventname';
  return { header: new ParsedHeader(text, digitsIn(text, serialAt, serialEnd), digitsIn(text, poolserialAt, poolserialEnd), eventname, len), problem };
}
