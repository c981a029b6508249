/**
 * Field rules on lines real servers wrote (nginx 1.22.1 and Apache 2.4.71, Debian; captured by
 * real-servers.test.ts's requests, provenance in fixtures/SOURCE.md): user names with spaces,
 * brackets, quotes, backslashes and UTF-8 (valid logins, a failed login, nginx's user from an
 * Authorization header on an unprotected page), HTTP/0.9, raw spaces and quotes in the target,
 * hostile referer / user agent, an unquoted X-Forwarded-For list, %h from HostnameLookups, a TLS
 * handshake. Each line must give the status, bytes and time of the server's second log, written
 * in an unambiguous format (nginx escape=json, Apache tab-separated) for the same request.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA_DIR } from './harness.js';
import { APACHE_FIELDS_FORMAT, apacheTruth, NGINX_FIELDS_FORMAT, nginxTruth, parseEach, type Truth } from './truth.js';

describe('field rules on lines real servers wrote', () => {
  it('nginx: every line gives the status, bytes and time of its escape=json twin', () => {
    const got = parseEach(NGINX_FIELDS_FORMAT, readFileSync(join(DATA_DIR, 'real-fields-nginx.log')));
    expect(got).toEqual(nginxTruth(readFileSync(join(DATA_DIR, 'real-fields-nginx.truth.jsonl'), 'utf8')));
  });

  it('Apache: every line gives the status, bytes and time of its tab-separated twin', () => {
    const got = parseEach(APACHE_FIELDS_FORMAT, readFileSync(join(DATA_DIR, 'real-fields-apache.log')));
    expect(got).toEqual(apacheTruth(readFileSync(join(DATA_DIR, 'real-fields-apache.truth.tsv'), 'utf8')));
  });

  it('the combined presets read the same user names (the first 7 lines of each file, cut to combined)', () => {
    const cut = (file: string, fields: number): Buffer =>
      Buffer.from(
        readFileSync(join(DATA_DIR, file), 'latin1')
          .split('\n')
          .slice(0, 7)
          .map((l) => l.replace(new RegExp(`((?:"[^"]*" ){${fields}})\\S+.*$`), '$1').trimEnd())
          .join('\n') + '\n',
        'latin1',
      );
    const n = parseEach('nginx_combined', cut('real-fields-nginx.log', 3));
    const a = parseEach('combined', cut('real-fields-apache.log', 3));
    expect(n.map((x) => (x === 'unparsed' ? x : x.status))).toEqual([200, 200, 200, 200, 200, 401, 200]);
    expect(a.map((x) => (x === 'unparsed' ? x : x.status))).toEqual([200, 200, 200, 200, 200, 401, 200]);
  });

  it('a user name holding " [" and "] " is tried from each " [" until the rest fits, within a bound', () => {
    // Apache's %t is one bracketed field, so a user "a [b] c" first ends at "a", %t reads "[b]",
    // and the literal ' "' does not follow: the next " [" is tried. Neither server writes a raw
    // '"' in a user name (Apache \", nginx \x22), so the " [" after which the rest fits is unique.
    const line = (user: string): string => `127.0.0.1 - ${user} [07/Dec/2026:13:11:18 +0000] "GET /auth HTTP/1.1" 200 3 "-" "-"`;
    const one = (l: string): Truth | 'unparsed' => parseEach('combined', Buffer.from(`${l}\n`))[0]!;
    expect(one(line('user name'))).toEqual({ status: 200, bytes: 3, timeUs: -1 });
    expect(one(line('a [b] c [d] e'))).toEqual({ status: 200, bytes: 3, timeUs: -1 });
    // 40 " [x]" pieces: more tries than the budget, so the line is unparsed (and counted as such), quickly.
    expect(one(line('u [x]'.repeat(40)))).toBe('unparsed');
  });
});
