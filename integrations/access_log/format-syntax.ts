/**
 * Reading a custom format string: Apache LogFormat directives and nginx log_format variables,
 * each turned into what its field means to us (role, priority, time unit) and whether its value
 * can hold a separator. format.ts makes tokens of the pieces.
 */
import {
  FormatError,
  ROLE_BYTES,
  ROLE_CACHE,
  ROLE_FIRST_BYTE,
  ROLE_IGNORE,
  ROLE_METHOD,
  ROLE_PATH,
  ROLE_REQUEST,
  ROLE_STATUS,
  ROLE_TIME,
} from './line-format.js';

export interface Directive {
  role: number;
  /** ROLE_CACHE: which varnishncsa variable it is. */
  cache?: 'handling' | 'hitmiss';
  /** Higher wins when two fields claim the same role (%>s over %s, %b over %O, %D over %T). */
  priority: number;
  timeUnitUs: number;
  bracketed: boolean;
  /** The value never holds a space, quote or bracket (addresses, ports, numbers, fixed stamps). */
  safe: boolean;
  source: string;
}

/**
 * Apache fields whose value cannot contain a separator: addresses (%h is an address or a name
 * from the resolver, which rejects PTR answers that are not valid host names), ports, numbers,
 * ids. Everything else (%u, %l from identd, %{…}i headers, %V from the Host header, %q, %U, %m…)
 * is filled by the client and may hold spaces.
 */
const APACHE_SAFE = new Set(['a', 'A', 'h', 'p', 'P', 's', 'b', 'B', 'O', 'I', 'S', 'D', 'T', 'k', 'X', 'v', 'L']);
/** The same for nginx variables; `$remote_user`, `$http_*`, `$request_uri`, `$uri`, `$host`… may hold spaces. */
const NGINX_SAFE = new Set([
  'remote_addr',
  'remote_port',
  'server_addr',
  'server_port',
  'status',
  'body_bytes_sent',
  'bytes_sent',
  'request_length',
  'request_time',
  'msec',
  'connection',
  'connection_requests',
  'pid',
  'pipe',
  'time_iso8601',
  // Server-written, `07/Dec/2026:13:11:18 +0000`: holds a space, never a bracket or a quote.
  'time_local',
]);

function apacheDirective(letter: string, arg: string | undefined, modifier: string, source: string): Directive {
  const d = (role: number, priority = 1, timeUnitUs = 0): Directive => ({
    role,
    priority,
    timeUnitUs,
    bracketed: false,
    safe: APACHE_SAFE.has(letter),
    source,
  });
  switch (letter) {
    case 'r':
      return d(ROLE_REQUEST);
    case 'm':
      return d(ROLE_METHOD);
    case 'U':
      return d(ROLE_PATH);
    case 's':
      return d(ROLE_STATUS, modifier === '>' ? 3 : modifier === '<' ? 1 : 2);
    case 'b':
    case 'B':
      return d(ROLE_BYTES, 2);
    case 'O':
      return d(ROLE_BYTES, 1);
    case 'D':
      return d(ROLE_TIME, 3, 1);
    case 'T': {
      const unit = arg === undefined || arg === 's' ? 1e6 : arg === 'ms' ? 1e3 : arg === 'us' ? 1 : undefined;
      if (unit === undefined) throw new FormatError(`${source}: unknown time unit "${arg}" (expected s, ms or us)`);
      return d(ROLE_TIME, unit === 1e6 ? 1 : 2, unit);
    }
    case 't':
      // %t prints its own brackets; %{strftime}t does not.
      return { ...d(ROLE_IGNORE), bracketed: arg === undefined };
    case '^FB':
      // Apache 2.4.13+ (LogIOTrackTTFB On): microseconds.
      return d(ROLE_FIRST_BYTE, 1, 1);
    case 'x':
      // varnishncsa's extended variables, written by Varnish itself (a number, a word, b or c, an
      // id), so they hold no separator. Other %{…}x (Apache mod_ssl's, varnishncsa's VCL_Log:key
      // and VSL:…, which VCL and clients fill) are read and ignored.
      if (arg === 'Varnish:time_firstbyte') return { ...d(ROLE_FIRST_BYTE, 2, 1e6), safe: true };
      if (arg === 'Varnish:handling') return { ...d(ROLE_CACHE, 2), cache: 'handling', safe: true };
      if (arg === 'Varnish:hitmiss') return { ...d(ROLE_CACHE, 1), cache: 'hitmiss', safe: true };
      return { ...d(ROLE_IGNORE), safe: arg === 'Varnish:side' || arg === 'Varnish:vxid' };
    default:
      return d(ROLE_IGNORE);
  }
}

const NGINX_ROLES: Record<string, Omit<Directive, 'source' | 'bracketed' | 'safe'>> = {
  status: { role: ROLE_STATUS, priority: 1, timeUnitUs: 0 },
  request: { role: ROLE_REQUEST, priority: 1, timeUnitUs: 0 },
  request_method: { role: ROLE_METHOD, priority: 1, timeUnitUs: 0 },
  body_bytes_sent: { role: ROLE_BYTES, priority: 2, timeUnitUs: 0 },
  bytes_sent: { role: ROLE_BYTES, priority: 1, timeUnitUs: 0 },
  request_time: { role: ROLE_TIME, priority: 1, timeUnitUs: 1e6 },
  request_uri: { role: ROLE_PATH, priority: 1, timeUnitUs: 0 },
  uri: { role: ROLE_PATH, priority: 2, timeUnitUs: 0 },
};

/** A format string read left to right: literal text, or a field with what it means to us. */
export type Piece = { lit: string } | { dir: Directive };

/** Apache LogFormat syntax: %h, %>s, %{Referer}i, %!200,304r, %{ms}T, %^FB, %%; \" \\ \t \n escapes. */
export function splitApache(fmt: string): Piece[] {
  const out: Piece[] = [];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c === '\\' && i + 1 < fmt.length) {
      const n = fmt[++i]!;
      lit += n === 't' ? '\t' : n === 'n' ? '\n' : n;
      continue;
    }
    if (c !== '%') {
      lit += c;
      continue;
    }
    const start = i;
    i++;
    if (fmt[i] === '%') {
      lit += '%';
      continue;
    }
    let modifier = '';
    let arg: string | undefined;
    // Conditions (%!200,304r, %400r) and redirect modifiers (< >) may come in any order.
    for (;;) {
      const m = fmt[i];
      if (m === '<' || m === '>') modifier = m;
      else if (m === '!' || m === ',' || (m !== undefined && m >= '0' && m <= '9')) {
        /* condition: it only decides whether the field is "-" */
      } else if (m === '{') {
        const close = fmt.indexOf('}', i);
        if (close === -1) throw new FormatError(`"${fmt.slice(start)}": unclosed %{ at column ${start + 1}`);
        arg = fmt.slice(i + 1, close);
        i = close;
      } else break;
      i++;
    }
    let letter = fmt[i];
    if (letter === '^') letter = fmt.slice(i, i + 3);
    if (letter === undefined || !/^(?:[A-Za-z]|\^[A-Za-z]{2})$/.test(letter)) {
      throw new FormatError(`"${fmt}": a % at column ${start + 1} is not followed by a directive letter`);
    }
    i += letter.length - 1;
    if (lit) out.push({ lit });
    lit = '';
    out.push({ dir: apacheDirective(letter, arg, modifier, fmt.slice(start, i + 1)) });
  }
  if (lit) out.push({ lit });
  return out;
}

/** nginx log_format syntax: $var or ${var}; everything else is literal. */
export function splitNginx(fmt: string): Piece[] {
  const out: Piece[] = [];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '$') {
      lit += c;
      continue;
    }
    let name: string;
    let end: number;
    if (fmt[i + 1] === '{') {
      end = fmt.indexOf('}', i);
      if (end === -1) throw new FormatError(`"${fmt}": unclosed \${ at column ${i + 1}`);
      name = fmt.slice(i + 2, end);
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(fmt.slice(i + 1));
      if (!m) {
        lit += c;
        continue;
      }
      name = m[0];
      end = i + name.length;
    }
    if (lit) out.push({ lit });
    lit = '';
    const known = NGINX_ROLES[name];
    out.push({
      dir: known
        ? { ...known, bracketed: false, safe: NGINX_SAFE.has(name), source: `$${name}` }
        : { role: ROLE_IGNORE, priority: 0, timeUnitUs: 0, bracketed: false, safe: NGINX_SAFE.has(name), source: `$${name}` },
    });
    i = end;
  }
  if (lit) out.push({ lit });
  return out;
}
