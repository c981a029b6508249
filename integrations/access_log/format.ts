/**
 * Access-log formats compiled into a flat token program the byte scanner in parse.ts runs.
 *
 * Why compile instead of one regex per format: a regex needs a string per line (UTF-8 decode and
 * an allocation) and backtracks on the long quoted fields; the token program walks the Buffer
 * once, jumps between quotes with Buffer#indexOf, and allocates nothing per line.
 */
import { splitApache, splitNginx, type Directive, type Piece } from './format-syntax.js';
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
  SCAN_BRACKETED,
  SCAN_QUOTED,
  SCAN_TO_BYTE,
  SCAN_TO_END,
  type LineFormat,
  type Token,
} from './line-format.js';

const APACHE_COMMON = '%h %l %u %t \\"%r\\" %>s %b';
const APACHE_COMBINED = '%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"';
// varnishncsa's default (-F unset): NCSA combined; %s is the status sent, %r carries the absolute URL.
const VARNISHNCSA = '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i"';
const NGINX_COMBINED =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/** The named formats accepted by `format:`. */
export const PRESETS: Readonly<Record<string, string>> = {
  common: APACHE_COMMON,
  combined: APACHE_COMBINED,
  // Debian's apache2.conf: %O (bytes incl. headers) where the manual has %b.
  vhost_combined: '%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"',
  nginx_combined: NGINX_COMBINED,
  nginx_combined_rt: `${NGINX_COMBINED} $request_time "$upstream_response_time"`,
  combined_D: `${APACHE_COMBINED} %D`,
  varnishncsa: VARNISHNCSA,
  // The -F format the README recommends: total time (µs), time to first byte (s), handling, hit/miss.
  varnishncsa_extended: `${VARNISHNCSA} %D %{Varnish:time_firstbyte}x %{Varnish:handling}x %{Varnish:hitmiss}x`,
};

export const PRESET_NAMES: readonly string[] = [...Object.keys(PRESETS), 'json'];

/** Default key names of an nginx `escape=json` log_format. */
const DEFAULT_JSON_KEYS: Record<string, { role: number; timeUnitUs: number }> = {
  status: { role: ROLE_STATUS, timeUnitUs: 0 },
  request: { role: ROLE_REQUEST, timeUnitUs: 0 },
  request_method: { role: ROLE_METHOD, timeUnitUs: 0 },
  method: { role: ROLE_METHOD, timeUnitUs: 0 },
  body_bytes_sent: { role: ROLE_BYTES, timeUnitUs: 0 },
  request_time: { role: ROLE_TIME, timeUnitUs: 1e6 },
  request_uri: { role: ROLE_PATH, timeUnitUs: 0 },
  uri: { role: ROLE_PATH, timeUnitUs: 0 },
};

const enc = new TextEncoder();

function toTokens(name: string, pieces: Piece[]): LineFormat {
  // Keep only the best field per role; the others are scanned but ignored.
  const best = new Map<number, Directive>();
  for (const p of pieces) {
    if (!('dir' in p) || p.dir.role === ROLE_IGNORE) continue;
    const cur = best.get(p.dir.role);
    if (!cur || p.dir.priority > cur.priority) best.set(p.dir.role, p.dir);
  }
  if (!best.has(ROLE_STATUS)) {
    throw new FormatError(`format "${name}" has no status field (%s/%>s or $status): nothing to count`);
  }
  const tokens: Token[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if ('lit' in p) {
      tokens.push({
        literal: enc.encode(p.lit),
        isField: false,
        role: ROLE_IGNORE,
        scan: 0,
        term: -1,
        until: new Uint8Array(0),
        retry: false,
        timeUnitUs: 0,
        source: p.lit,
      });
      continue;
    }
    const prev = pieces[i - 1];
    const next = pieces[i + 1];
    if (next && 'dir' in next) {
      throw new FormatError(
        `format "${name}": ${p.dir.source} and ${next.dir.source} are adjacent with no separator, so a line cannot be split between them`,
      );
    }
    const nextLit = next !== undefined && 'lit' in next ? next.lit : undefined;
    const quoted = prev !== undefined && 'lit' in prev && prev.lit.endsWith('"') && nextLit !== undefined && nextLit.startsWith('"');
    const scan = p.dir.bracketed ? SCAN_BRACKETED : quoted ? SCAN_QUOTED : nextLit !== undefined ? SCAN_TO_BYTE : SCAN_TO_END;
    const role = best.get(p.dir.role) === p.dir ? p.dir.role : ROLE_IGNORE;
    // Numbers end at any non-digit, so they never need a second try.
    const numeric = p.dir.role === ROLE_STATUS || p.dir.role === ROLE_BYTES || p.dir.role === ROLE_TIME || p.dir.role === ROLE_FIRST_BYTE;
    tokens.push({
      literal: new Uint8Array(0),
      isField: true,
      role,
      scan,
      term: nextLit !== undefined ? nextLit.charCodeAt(0) : -1,
      until: nextLit !== undefined ? enc.encode(nextLit) : new Uint8Array(0),
      retry: scan === SCAN_TO_BYTE && !numeric && !p.dir.safe,
      timeUnitUs: p.dir.timeUnitUs,
      source: p.dir.source,
    });
  }
  return {
    kind: 'tokens',
    name,
    tokens,
    jsonKeys: new Map(),
    hasTime: best.has(ROLE_TIME),
    hasFirstByte: best.has(ROLE_FIRST_BYTE),
    cache: best.get(ROLE_CACHE)?.cache ?? 'none',
  };
}

/**
 * Compile `format:` — a preset name, `json`, or a custom Apache LogFormat / nginx log_format
 * string. `jsonKeys` overrides key names for `json` (role name → key).
 */
export function compileFormat(format: string, jsonKeys?: Readonly<Record<string, string>>): LineFormat {
  if (format === 'json') {
    const keys = new Map(Object.entries(DEFAULT_JSON_KEYS));
    if (jsonKeys) {
      const roles: Record<string, { role: number; timeUnitUs: number }> = {
        status: { role: ROLE_STATUS, timeUnitUs: 0 },
        request: { role: ROLE_REQUEST, timeUnitUs: 0 },
        method: { role: ROLE_METHOD, timeUnitUs: 0 },
        bytes: { role: ROLE_BYTES, timeUnitUs: 0 },
        request_time: { role: ROLE_TIME, timeUnitUs: 1e6 },
        request_time_ms: { role: ROLE_TIME, timeUnitUs: 1e3 },
        request_time_us: { role: ROLE_TIME, timeUnitUs: 1 },
        path: { role: ROLE_PATH, timeUnitUs: 0 },
        // varnishncsa -j: "%{Varnish:time_firstbyte}x" (s) and "%{Varnish:handling}x".
        first_byte_time: { role: ROLE_FIRST_BYTE, timeUnitUs: 1e6 },
        handling: { role: ROLE_CACHE, timeUnitUs: 0 },
      };
      for (const [roleName, key] of Object.entries(jsonKeys)) {
        const r = roles[roleName];
        if (!r) throw new FormatError(`json_keys.${roleName}: unknown role; known: ${Object.keys(roles).join(', ')}`);
        for (const [k, v] of keys) if (v.role === r.role) keys.delete(k);
        keys.set(key, r);
      }
    }
    const roles = new Set([...keys.values()].map((v) => v.role));
    return {
      kind: 'json',
      name: 'json',
      tokens: [],
      jsonKeys: keys,
      hasTime: roles.has(ROLE_TIME),
      hasFirstByte: roles.has(ROLE_FIRST_BYTE),
      cache: roles.has(ROLE_CACHE) ? 'handling' : 'none',
    };
  }
  const preset = PRESETS[format];
  const text = preset ?? format;
  if (preset === undefined && !text.includes('%') && !text.includes('$')) {
    throw new FormatError(
      `unknown format "${format}": expected one of ${PRESET_NAMES.join(', ')}, or an Apache LogFormat / nginx log_format string`,
    );
  }
  // An Apache directive is %<letter> or %{, %>, %<, %!; nginx never uses %.
  const apache = /%[{<>!^A-Za-z0-9]/.test(text);
  return toTokens(format, apache ? splitApache(text) : splitNginx(text));
}
