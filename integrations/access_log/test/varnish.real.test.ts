/**
 * Real Varnish in front of a small backend this test serves, varnishncsa writing the extended
 * format to a file the way a service does (-a -w -D -P), a logrotate `create` + SIGHUP in the
 * middle of the load, and telltale following the file. The truth is Varnish's own counters
 * (varnishstat before and after) and the lines varnishncsa wrote to all the files.
 */
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { seededRandom } from '../../../test/helpers/random.js';
import { freePort, until } from '../../../test/helpers/servers.js';
import { startVarnish, startVarnishncsa, type Varnish, type Varnishncsa } from '../../../test/helpers/varnish.js';
import { allGenerations, logrotate } from '../../../test/helpers/webservers.js';
import { PRESETS } from '../format.js';
import { instance, tempDir, totals, type Instance } from './harness.js';

const varnishd = requireBinary('varnishd', 'apt-get install varnish');
const varnishncsa = requireBinary('varnishncsa', 'apt-get install varnish');
const logrotateBin = requireBinary('logrotate', 'apt-get install logrotate');

/** The backend: what Varnish caches, passes, fails on, is decided by path. */
function backend(): http.Server {
  return http.createServer((req, res) => {
    const url = req.url ?? '/';
    req.resume();
    if (url.startsWith('/static/')) res.writeHead(200, { 'Cache-Control': 'max-age=3600', 'Content-Type': 'text/plain' }).end(`static ${url}\n`);
    else if (url.startsWith('/err/')) res.writeHead(500).end('boom\n'); // not cacheable: hit-for-miss after the first
    else if (url.startsWith('/api/') || url.startsWith('/hfp/') || url.startsWith('/pipe/')) res.writeHead(200).end('{"ok":true}\n');
    else res.writeHead(404).end('no\n'); // cacheable by default (120 s): hits after the first
  });
}

function vcl(backendPort: number, deadPort: number): string {
  return `vcl 4.1;
backend default { .host = "127.0.0.1"; .port = "${backendPort}"; }
# Nothing listens there: a fetch fails at once and Varnish answers 503.
backend dead { .host = "127.0.0.1"; .port = "${deadPort}"; .connect_timeout = 1s; }
sub vcl_recv {
  if (req.url ~ "^/api/") { return (pass); }
  if (req.url ~ "^/pipe/") { return (pipe); }
  if (req.url ~ "^/deny") { return (synth(403, "denied")); }
  if (req.url ~ "^/dead/") { set req.backend_hint = dead; }
}
sub vcl_backend_response {
  # hit-for-pass: later requests for the object are passes found in the cache (cache_hitpass).
  if (bereq.url ~ "^/hfp/") { return (pass(60s)); }
}
`;
}

/** The load: a deterministic mix of hits, misses, passes, pipes, synths and errors. */
function requests(n: number, seed: number): { method: string; path: string }[] {
  const r = seededRandom(seed);
  const out: { method: string; path: string }[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    const k = Math.floor(r() * 12);
    if (x < 0.45) out.push({ method: r() < 0.9 ? 'GET' : 'HEAD', path: `/static/${k}${r() < 0.2 ? `?v=${k % 3}` : ''}` });
    else if (x < 0.55) out.push({ method: 'POST', path: `/static/${k}` }); // builtin VCL: not GET/HEAD → pass
    else if (x < 0.65) out.push({ method: 'GET', path: `/api/v1/items/${k}` });
    else if (x < 0.72) out.push({ method: 'GET', path: `/hfp/${k % 4}` });
    else if (x < 0.8) out.push({ method: 'GET', path: `/err/${k % 3}` });
    else if (x < 0.87) out.push({ method: 'GET', path: `/missing/${k % 5}` });
    else if (x < 0.92) out.push({ method: 'GET', path: '/deny' });
    else if (x < 0.96) out.push({ method: 'GET', path: `/dead/${k}` });
    else out.push({ method: 'GET', path: `/pipe/${k}` });
  }
  return out;
}

interface Line {
  method: string;
  url: string;
  status: string;
  D: number;
  ttfb: string;
  handling: string;
  hitmiss: string;
}

/** The load's lines in every generation of `base`, read with a regex of the test's own (not the code under test). */
function readLines(base: string): { lines: Line[]; perFile: number[] } {
  const re = /^\S+ - \S+ \[[^\]]+\] "(\S+) (\S+) HTTP\/1\.[01]" (\d{3}|-) (\d+|-) "[^"]*" "[^"]*" (\d+) (\d+\.\d+) (\w+) (\w+)$/;
  const out: Line[] = [];
  const perFile: number[] = [];
  for (const f of allGenerations(base)) {
    perFile.push(0);
    for (const l of f.text.split('\n')) {
      if (l === '' || l.includes('/__ncsa_ready')) continue;
      perFile[perFile.length - 1]!++;
      const m = re.exec(l);
      if (!m) throw new Error(`${f.name}: line not in the extended format: ${l}`);
      out.push({ method: m[1]!, url: m[2]!, status: m[3]!, D: Number(m[5]), ttfb: m[6]!, handling: m[7]!, hitmiss: m[8]! });
    }
  }
  return { lines: out, perFile };
}

function tally<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

describe.skipIf(!varnishd || !varnishncsa || !logrotateBin)('access_log on varnishncsa logs from a real Varnish', () => {
  const tmp = tempDir();
  const log = join(tmp.dir, 'varnishncsa.log');
  let server: http.Server;
  let varnish: Varnish | undefined;
  let ncsa: Varnishncsa | undefined;
  let tt: Instance | undefined;

  beforeAll(async () => {
    server = backend();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    varnish = await startVarnish(vcl(port, await freePort()));
    ncsa = await startVarnishncsa(varnish, log, PRESETS['varnishncsa_extended']);
  });

  afterAll(async () => {
    await tt?.integ.stop?.();
    await ncsa?.stop();
    await varnish?.stop();
    await new Promise((r) => server?.close(r));
    tmp.cleanup();
  });

  it('counts what varnishstat counts, through a logrotate create + SIGHUP', async () => {
    const v = varnish!;
    const before = await v.settled();
    const config = {
      path: log,
      format: 'varnishncsa_extended',
      name: 'varnish',
      start_at: 'end',
      flush_interval: '200ms',
      poll_interval: '50ms',
      rotate_wait: '1s',
      compat: 'mod_statsd',
      mod_statsd: { prefix: 'ms' },
    };
    tt = instance(config, { stateDir: tmp.dir });
    const i = tt;
    await i.integ.start!();

    const load = requests(600, 24);
    let rotation: Promise<unknown> | undefined;
    let done = 0;
    let next = 0;
    // Varnish before 7.2 counts a request that waited for another one fetching the same object
    // twice in MAIN.client_req (varnish-cache#3841; Debian 12 ships 7.1): one request per URL in
    // flight at a time keeps the waiting list out of it, so the comparison is exact everywhere.
    const inFlight = new Map<string, Promise<unknown>>();
    // Eight clients; when half the requests are answered, rotate while the others keep going.
    const worker = async (): Promise<void> => {
      while (next < load.length) {
        const rq = load[next++]!;
        for (let busy = inFlight.get(rq.path); busy; busy = inFlight.get(rq.path)) await busy;
        const req = v.request(rq.path, { method: rq.method });
        inFlight.set(rq.path, req);
        await req;
        inFlight.delete(rq.path);
        if (++done === load.length / 2) {
          rotation = logrotate({ dir: tmp.dir, files: [log], directives: ['create 0640'], postrotate: `kill -HUP ${ncsa!.pid}` });
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await rotation;

    // Varnish has finished with a request when its counters say so and varnishncsa wrote its line.
    const after = await v.settled();
    await until(() => readLines(log).lines.length >= load.length, 10_000, 'varnishncsa to log every request');
    const delta = (k: string): number => after[k]! - before[k]!;
    const { lines, perFile } = readLines(log);
    expect(delta('MAIN.client_req')).toBe(load.length);
    expect(lines.length).toBe(load.length);
    // Two files, both with load lines: the rotation really happened in the middle.
    expect(perFile).toHaveLength(2);
    expect(Math.min(...perFile)).toBeGreaterThan(0);

    await i.sink.waitFor((s) => (s.counters().get('varnish.requests') ?? 0) >= load.length, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; counted ${i.sink.counters().get('varnish.requests')}; log:\n${i.logs.join('')}`);
    });
    // A few more flushes: a line counted twice would show now.
    const flushes = (): number => i.sink.samples.filter((s) => s.kind === 'counter' && s.name === 'varnish.requests').length;
    const k = flushes();
    await i.sink.waitFor(() => flushes() >= k + 3, 10_000);

    const got = totals(i, 'varnish');
    // Varnish's counters.
    expect(got['requests']).toBe(delta('MAIN.client_req'));
    expect({
      hit: got['cache.hit'] ?? 0,
      miss: got['cache.miss'] ?? 0,
      pass: got['cache.pass'] ?? 0,
      pipe: got['cache.pipe'] ?? 0,
      synth: got['cache.synth'] ?? 0,
    }).toEqual({
      hit: delta('MAIN.cache_hit'),
      miss: delta('MAIN.cache_miss'),
      pass: delta('MAIN.s_pass'),
      pipe: delta('MAIN.s_pipe'),
      synth: delta('MAIN.s_synth'),
    });
    // The load reached every kind of handling.
    for (const h of ['hit', 'miss', 'pass', 'pipe', 'synth']) expect(got[`cache.${h}`], h).toBeGreaterThan(0);
    expect(delta('MAIN.cache_hitpass')).toBeGreaterThan(0);
    expect(delta('MAIN.cache_hitmiss')).toBeGreaterThan(0);
    expect(got['unparsed']).toBe(0);

    // The lines of all the files.
    const statuses = tally(lines, (l) => (l.status === '-' ? 'none' : l.status));
    const gotStatuses: Record<string, number> = {};
    for (const [name, n] of Object.entries(got)) {
      const m = /^status\.(\d{3}|none)$/.exec(name);
      if (m) gotStatuses[m[1]!] = n;
    }
    expect(gotStatuses).toEqual(statuses);
    expect(Object.keys(statuses)).toEqual(expect.arrayContaining(['200', '403', '404', '500', '503', 'none']));
    const methods = tally(lines, (l) => l.method);
    const gotMethods: Record<string, number> = {};
    for (const [name, n] of Object.entries(got)) if (name.startsWith('method.')) gotMethods[name.slice(7)] = n;
    expect(gotMethods).toEqual(methods);
    const good = lines.filter((l) => /^[23]/.test(l.status)).length;
    const bad = lines.filter((l) => /^[45]/.test(l.status)).length;
    expect([got['good'], got['bad']]).toEqual([good, bad]);

    // Timers: every request with a status, its %D as response_time and its time to first byte.
    const timed = lines.filter((l) => l.status !== '-');
    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
    expect(sorted(i.sink.timings().get('varnish.response_time') ?? [])).toEqual(sorted(timed.map((l) => l.D / 1000)));
    expect(sorted(i.sink.timings().get('varnish.first_byte_time') ?? [])).toEqual(
      sorted(timed.map((l) => Math.round(Number(l.ttfb) * 1e6) / 1000)),
    );
    expect(got['tailer.rotations']).toBe(1);

    // mod_statsd names from the absolute URLs varnishncsa writes: the path's parts, never the
    // scheme or the host (keys computed here with WHATWG URL, not the code under test).
    const keys = tally(lines, (l) => {
      const parts = new URL(l.url).pathname.split('/').filter((x) => x !== '');
      return `ms.${parts.length ? parts.join('.') : 'ROOT'}.${l.method}.${l.status === '-' ? 'none' : l.status}`;
    });
    const gotKeys: Record<string, number> = {};
    for (const [name, n] of i.sink.counters()) if (name.startsWith('ms.')) gotKeys[name] = n;
    expect(gotKeys).toEqual(keys);
    expect(Object.keys(keys)).toContain('ms.static.3.HEAD.200');
  });
});
