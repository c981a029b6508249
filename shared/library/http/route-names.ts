/**
 * Route templates → one metric node each. Pure functions, no state.
 */
import { sanitizeNode } from '../../emitter/names.js';

/**
 * Turn a route template into a single metric node (never a dot, so every route sits at the same
 * depth and `http.requests.*.get.5xx` matches all of them):
 * `/` → `root`, `/users/:id` → `users_id`, `/files/*path` → `files_path`,
 * `/v1/{:lang}` → `v1_lang`. Returns '' when nothing usable is left.
 *
 * Parameter markers are dropped rather than spelled out, so `/users/:id` and a literal
 * `/users/id` share a node; route tables rarely have both.
 */
export function routeNode(template: string): string {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return template.startsWith('/') ? 'root' : '';
  return sanitizeNode(trimmed.replace(/[:*{}?+()]/g, '').replace(/\//g, '_'));
}

const ID_SEGMENT =
  /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[A-Za-z0-9_-]{24,}|.*[%@].*)$/i;

/**
 * A template guessed from a raw URL when the program names no route: the query is dropped and
 * segments that look like identifiers (numbers, UUIDs, long hex or token-like strings, anything
 * percent-encoded or with an @) become `:id`, so `/users/42/posts?x=1` → `/users/:id/posts`.
 * The route cap still protects Graphite from what this misses.
 */
export function guessTemplate(url: string): string {
  const q = url.search(/[?#]/);
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/' || path === '') return '/';
  let out = '';
  for (const seg of path.split('/')) {
    if (seg === '') continue;
    out += ID_SEGMENT.test(seg) ? '/:id' : `/${seg}`;
  }
  return out === '' ? '/' : out;
}

/** The method node: the standard methods in lower case, anything else `other`. */
export function methodNode(method: string | undefined): string {
  switch (method) {
    case 'GET':
      return 'get';
    case 'POST':
      return 'post';
    case 'PUT':
      return 'put';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    case 'HEAD':
      return 'head';
    case 'OPTIONS':
      return 'options';
    default:
      // Node's parser accepts ~35 methods (PROPFIND, MKCOL…); folding them bounds the series.
      return 'other';
  }
}

/** `1xx`…`5xx`; any other code `other`. */
export function statusClass(status: number): string {
  if (status >= 100 && status < 600) return `${Math.floor(status / 100)}xx`;
  return 'other';
}
