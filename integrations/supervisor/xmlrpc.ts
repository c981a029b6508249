/**
 * Just enough XML-RPC for supervisord's `getAllProcessInfo`: build a call, parse a response
 * (arrays, structs, strings, ints, booleans, doubles, faults). Pure; throws XmlRpcError with a
 * readable message on anything it cannot read.
 */

export type XmlRpcValue = string | number | boolean | null | XmlRpcValue[] | { [k: string]: XmlRpcValue };

export class XmlRpcError extends Error {
  override readonly name = 'XmlRpcError';
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function buildCall(method: string, params: readonly string[] = []): string {
  const ps = params.map((p) => `<param><value><string>${escapeXml(p)}</string></value></param>`).join('');
  return `<?xml version="1.0"?>\n<methodCall><methodName>${escapeXml(method)}</methodName><params>${ps}</params></methodCall>\n`;
}

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, ent: string) => {
    if (ent === 'amp') return '&';
    if (ent === 'lt') return '<';
    if (ent === 'gt') return '>';
    if (ent === 'quot') return '"';
    if (ent === 'apos') return "'";
    const code = ent.startsWith('#x') ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
  });
}

interface Cursor {
  s: string;
  i: number;
}

const TAG = /<(\/?)([A-Za-z0-9_.:-]+)\s*(\/?)>/y;

/** Next tag at or after the cursor (skipping text, comments and the XML declaration). */
function nextTag(c: Cursor): { close: boolean; name: string; selfClosing: boolean; start: number } | undefined {
  for (;;) {
    const lt = c.s.indexOf('<', c.i);
    if (lt < 0) return undefined;
    if (c.s.startsWith('<?', lt) || c.s.startsWith('<!--', lt)) {
      const end = c.s.indexOf(c.s.startsWith('<?', lt) ? '?>' : '-->', lt);
      if (end < 0) return undefined;
      c.i = end + 2;
      continue;
    }
    TAG.lastIndex = lt;
    const m = TAG.exec(c.s);
    if (!m) throw new XmlRpcError(`malformed tag at offset ${lt}`);
    c.i = TAG.lastIndex;
    return { close: m[1] === '/', name: m[2]!, selfClosing: m[3] === '/', start: lt };
  }
}

function expectOpen(c: Cursor, name: string): boolean {
  const t = nextTag(c);
  if (!t) throw new XmlRpcError(`expected <${name}>, got end of document`);
  if (t.close || t.name !== name) throw new XmlRpcError(`expected <${name}>, got <${t.close ? '/' : ''}${t.name}>`);
  return !t.selfClosing;
}

function expectClose(c: Cursor, name: string): void {
  const t = nextTag(c);
  if (!t || !t.close || t.name !== name) throw new XmlRpcError(`expected </${name}>`);
}

function textUntilClose(c: Cursor, name: string): string {
  const end = c.s.indexOf(`</${name}>`, c.i);
  if (end < 0) throw new XmlRpcError(`unterminated <${name}>`);
  const text = c.s.slice(c.i, end);
  c.i = end + name.length + 3;
  return unescapeXml(text);
}

/** Parses from just after `<value>` up to and including `</value>`. */
function parseValueBody(c: Cursor): XmlRpcValue {
  const save = c.i;
  const t = nextTag(c);
  if (!t) throw new XmlRpcError('unterminated <value>');
  if (t.close && t.name === 'value') return unescapeXml(c.s.slice(save, t.start)); // bare string
  if (t.close) throw new XmlRpcError(`unexpected </${t.name}> in <value>`);
  let v: XmlRpcValue;
  if (t.selfClosing) {
    v = t.name === 'nil' ? null : t.name === 'array' || t.name === 'struct' ? (t.name === 'array' ? [] : {}) : '';
  } else {
    switch (t.name) {
      case 'string':
        v = textUntilClose(c, 'string');
        break;
      case 'int':
      case 'i4':
      case 'i8':
      case 'double': {
        const raw = textUntilClose(c, t.name).trim();
        const n = Number(raw);
        if (raw === '' || !Number.isFinite(n)) throw new XmlRpcError(`bad <${t.name}> ${JSON.stringify(raw)}`);
        v = n;
        break;
      }
      case 'boolean':
        v = textUntilClose(c, 'boolean').trim() === '1';
        break;
      case 'nil':
        textUntilClose(c, 'nil');
        v = null;
        break;
      case 'dateTime.iso8601':
      case 'base64':
        v = textUntilClose(c, t.name);
        break;
      case 'array': {
        const arr: XmlRpcValue[] = [];
        if (expectOpen(c, 'data')) {
          for (;;) {
            const save2 = c.i;
            const u = nextTag(c);
            if (!u) throw new XmlRpcError('unterminated <data>');
            if (u.close && u.name === 'data') break;
            c.i = save2;
            if (expectOpen(c, 'value')) arr.push(parseValueBody(c));
            else arr.push('');
          }
        }
        expectClose(c, 'array');
        v = arr;
        break;
      }
      case 'struct': {
        const obj: { [k: string]: XmlRpcValue } = {};
        for (;;) {
          const u = nextTag(c);
          if (!u) throw new XmlRpcError('unterminated <struct>');
          if (u.close && u.name === 'struct') break;
          if (u.close || u.name !== 'member') throw new XmlRpcError(`expected <member>, got <${u.name}>`);
          expectOpen(c, 'name');
          const key = textUntilClose(c, 'name');
          obj[key] = expectOpen(c, 'value') ? parseValueBody(c) : '';
          expectClose(c, 'member');
        }
        v = obj;
        break;
      }
      default:
        throw new XmlRpcError(`unsupported XML-RPC type <${t.name}>`);
    }
  }
  expectClose(c, 'value');
  return v;
}

/** Parses a methodResponse; a `<fault>` becomes an XmlRpcError carrying faultString. */
export function parseResponse(xml: string): XmlRpcValue {
  const c: Cursor = { s: xml, i: 0 };
  expectOpen(c, 'methodResponse');
  const save = c.i;
  const t = nextTag(c);
  if (t && !t.close && t.name === 'fault') {
    expectOpen(c, 'value');
    const f = parseValueBody(c);
    const msg = typeof f === 'object' && f !== null && !Array.isArray(f) ? `${String(f['faultString'] ?? '')} (code ${String(f['faultCode'] ?? '?')})` : 'fault';
    throw new XmlRpcError(`XML-RPC fault: ${msg}`);
  }
  c.i = save;
  expectOpen(c, 'params');
  expectOpen(c, 'param');
  expectOpen(c, 'value');
  return parseValueBody(c);
}
