/**
 * Client-side consistent hashing that picks the same carbon-cache(s) for a metric name as
 * carbon-c-relay 3.7 (and, for `carbon_ch`, Python carbon-relay) does for the same member list.
 * A client that hashes differently from the relays splits a series over two caches, so this is
 * checked name by name against `carbon-c-relay -t` (test/e2e/carbon-hash-oracle.test.ts).
 *
 * What keys a member on the ring (from carbon-c-relay's documentation, checked with `-t`):
 * - carbon_ch: the host as written and the `=instance` (not the port), as the text of Python's
 *   tuple `('host', 'instance'):i` (or `('host', None):i`) for i in 0..99, MD5, first 2 bytes.
 *   Two members on one host without instances share every ring position: refused by the config.
 * - fnv1a_ch: `i-host:port` for i in 0..99, or `i-instance` when an instance is given (it then
 *   replaces host and port entirely), FNV-1a 32-bit folded to 16 bits.
 * - jump_fnv1a_ch: no ring; members ordered by instance (numeric when both are numbers), those
 *   without one after them in the order written; jump consistent hash (Lamping & Veach) over
 *   FNV-1a 64 of the name; each further replica re-mixes the hash (xorshift) and draws again
 *   from the members not yet chosen.
 * The metric is hashed up to its first space, i.e. the name only.
 */
import { createHash } from 'node:crypto';

export const HASH_ROUTINGS = ['fnv1a_ch', 'carbon_ch', 'jump_fnv1a_ch'] as const;
export type HashRouting = (typeof HASH_ROUTINGS)[number];

export interface RingMember {
  /** Host exactly as the relay config writes it (an address or a name; never resolved). */
  host: string;
  port: number;
  instance?: string | undefined;
}

export interface HashRing {
  /** Indices (into the members given) of the `replicas` distinct destinations of `name`, primary first. */
  pick(name: string, replicas: number): number[];
}

/** carbon-c-relay's HASH_REPLICAS: ring points per member (carbon's value too). */
const POINTS = 100;

/** C `char` is signed on the platforms the relay runs on: bytes >= 0x80 widen with sign. */
function bytesOf(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

function fnv1a16(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul((h ^ (b >= 0x80 ? b | 0xffffff00 : b)) >>> 0, 0x01000193) >>> 0;
  return ((h >>> 16) ^ (h & 0xffff)) & 0xffff;
}

function md5pos(bytes: Uint8Array): number {
  const d = createHash('md5').update(bytes).digest();
  return (d[0]! << 8) + d[1]!;
}

const MASK64 = (1n << 64n) - 1n;

function fnv1a64(bytes: Uint8Array): bigint {
  let h = 14695981039346656037n;
  for (const b of bytes) h = ((h ^ BigInt.asUintN(64, BigInt(b >= 0x80 ? b - 256 : b))) * 1099511628211n) & MASK64;
  return h;
}

/** Lamping & Veach jump hash, with the relay's double arithmetic (same IEEE operations, same result). */
function jumpBucket(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & MASK64;
    j = Math.trunc((b + 1) * (2147483648 / (Number(key >> 33n) + 1)));
  }
  return b;
}

/** strcmp over UTF-8 bytes, as the relay sorts. */
function strcmp(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(bytesOf(a), bytesOf(b));
}

interface Point {
  pos: number;
  member: number;
}

function buildRing(kind: 'fnv1a_ch' | 'carbon_ch', members: readonly RingMember[]): Point[] {
  const points: Point[] = [];
  members.forEach((m, member) => {
    for (let i = 0; i < POINTS; i++) {
      if (kind === 'carbon_ch') {
        const inst = m.instance === undefined ? 'None' : `'${m.instance}'`;
        points.push({ pos: md5pos(bytesOf(`('${m.host}', ${inst}):${i}`)), member });
      } else {
        const key = m.instance === undefined ? `${i}-${m.host}:${m.port}` : `${i}-${m.instance}`;
        points.push({ pos: fnv1a16(bytesOf(key)), member });
      }
    }
  });
  // Ties on a position are ordered by host, then instance (carbon_ch, none last) or port (fnv1a_ch).
  points.sort((a, b) => {
    if (a.pos !== b.pos) return a.pos - b.pos;
    const ma = members[a.member]!;
    const mb = members[b.member]!;
    const d = strcmp(ma.host, mb.host);
    if (d !== 0) return d;
    if (kind === 'fnv1a_ch') return ma.port - mb.port;
    if (ma.instance === undefined) return mb.instance === undefined ? 0 : 1;
    if (mb.instance === undefined) return -1;
    return strcmp(ma.instance, mb.instance);
  });
  // The relay's binary search may land on any of equal positions; it makes them all the first one's.
  for (let i = 0; i + 1 < points.length; i++) if (points[i]!.pos === points[i + 1]!.pos) points[i + 1]!.member = points[i]!.member;
  return points;
}

function jumpOrder(members: readonly RingMember[]): number[] {
  // strtol(s, &end, 10) with *end == '\0': optional leading space and sign, then only digits.
  const numeric = (s: string): boolean => /^\s*[+-]?\d+$/.test(s);
  return members
    .map((_, i) => i)
    .sort((a, b) => {
      const ia = members[a]!.instance;
      const ib = members[b]!.instance;
      if (ia === undefined && ib === undefined) return a - b;
      if (ia === undefined) return 1;
      if (ib === undefined) return -1;
      if (numeric(ia) && numeric(ib)) return Number.parseInt(ia, 10) - Number.parseInt(ib, 10);
      return strcmp(ia, ib);
    });
}

export function createHashRing(kind: HashRouting, members: readonly RingMember[]): HashRing {
  if (members.length === 0) throw new Error('a hash ring needs at least one member');
  if (kind === 'jump_fnv1a_ch') {
    const order = jumpOrder(members);
    return {
      pick(name, replicas) {
        let hash = fnv1a64(bytesOf(name));
        const left = [...order];
        const out: number[] = [];
        let n = left.length;
        while (n > 0 && out.length < replicas) {
          const j = jumpBucket(hash, n);
          out.push(left[j]!);
          // Re-mix for the next replica and take the chosen member out of the draw.
          hash ^= hash >> 12n;
          hash = (hash ^ (hash << 25n)) & MASK64;
          hash ^= hash >> 27n;
          hash = (hash * 2685821657736338717n) & MASK64;
          left[j] = left[--n]!;
        }
        return out;
      },
    };
  }
  const ring = buildRing(kind, members);
  const position = kind === 'carbon_ch' ? md5pos : fnv1a16;
  return {
    pick(name, replicas) {
      const pos = position(bytesOf(name));
      // First point at or after pos (Python's bisect_left), wrapping past the end.
      let lo = 0;
      let hi = ring.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ring[mid]!.pos < pos) lo = mid + 1;
        else hi = mid;
      }
      const out: number[] = [];
      const want = Math.min(replicas, members.length);
      for (let t = lo, seen = 0; out.length < want && seen < ring.length * 2; t++, seen++) {
        const m = ring[t % ring.length]!.member;
        if (!out.includes(m)) out.push(m);
      }
      return out;
    },
  };
}
