/**
 * Client-side hash routing against the real thing: every metric name the integrations emit on
 * their test data, routed by telltale's ring and by `carbon-c-relay -t` (Debian carbon-c-relay,
 * which prints where each input line would go without sending anything), for every hash type,
 * replication 1 to 3, members keyed by host:port, by =instance, and on several hosts.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../integrations/index.js';
import { createHashRing, type HashRouting, type RingMember } from '../../shared/emitter/carbon-hash.js';
import { requireBinary } from '../helpers/binaries.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

const RELAY = requireBinary('carbon-c-relay', 'apt-get install carbon-c-relay');

interface Cluster {
  name: string;
  kind: HashRouting;
  replication: number;
  members: RingMember[];
}

// Port bases and host names keep every member unique across clusters: the relay insists a
// host:port has one instance, and it merges members of different clusters that share a host name
// it cannot resolve (it then routes with the first one's port).
function members(base: number, spec: readonly (string | [string, string])[]): RingMember[] {
  return spec.map((s, i) => (typeof s === 'string' ? { host: s, port: base + i } : { host: s[0], port: base + i, instance: s[1] }));
}
const CLUSTERS: Cluster[] = [];
for (const replication of [1, 2, 3]) {
  const b = 10_000 + replication * 1000;
  CLUSTERS.push(
    { name: `fnv_ports_r${replication}`, kind: 'fnv1a_ch', replication, members: members(b, ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']) },
    { name: `fnv_hosts_r${replication}`, kind: 'fnv1a_ch', replication, members: members(b + 100, ['10.0.0.1', '10.0.0.2', `cache-c${replication}.example`, '10.0.0.4', '10.0.0.5']) },
    { name: `fnv_inst_r${replication}`, kind: 'fnv1a_ch', replication, members: members(b + 200, [['127.0.0.1', '4d79d13554fa1301476c1f9fe968b0ac'], ['127.0.0.1', 'b2c1f0e9d8c7b6a5'], ['127.0.0.1', 'cache-three']]) },
    { name: `carbon_inst_r${replication}`, kind: 'carbon_ch', replication, members: members(b + 300, [['127.0.0.1', 'a'], ['127.0.0.1', 'b'], ['127.0.0.1', 'c']]) },
    { name: `carbon_hosts_r${replication}`, kind: 'carbon_ch', replication, members: members(b + 400, ['10.1.0.1', '10.1.0.2', ['10.1.0.3', 'x'], `cache-d${replication}.example`]) },
    { name: `jump_r${replication}`, kind: 'jump_fnv1a_ch', replication, members: members(b + 500, ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']) },
    { name: `jump_inst_r${replication}`, kind: 'jump_fnv1a_ch', replication, members: members(b + 600, ['10.2.0.1', ['10.2.0.2', '2'], ['10.2.0.3', '10'], ['10.2.0.4', 'b'], '10.2.0.5']) },
  );
}

function relayConf(): string {
  const member = (m: RingMember): string => `${m.host}:${m.port}${m.instance === undefined ? '' : `=${m.instance}`}`;
  const clusters = CLUSTERS.map((c) => `cluster ${c.name}\n    ${c.kind} replication ${c.replication}\n${c.members.map((m) => `        ${member(m)}\n`).join('')}    ;\n`);
  return `${clusters.join('')}match * send to ${CLUSTERS.map((c) => c.name).join(' ')};\n`;
}

/** `carbon-c-relay -t` output: per name, per cluster, the destinations in the relay's order. */
function parseRelayTest(out: string): Map<string, Map<string, string[]>> {
  const routes = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  let dests: string[] | undefined;
  for (const line of out.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^ {4}\* -> (\S+)$/.exec(line))) {
      current = new Map();
      routes.set(m[1]!, current);
      dests = undefined;
    } else if (current && (m = /^ {4}(?:carbon|fnv1a|jump_fnv1a)_ch\((\w+)\)$/.exec(line))) {
      dests = [];
      current.set(m[1]!, dests);
    } else if (dests && (m = /^ {8}(\S+:\d+)$/.exec(line))) dests.push(m[1]!);
  }
  return routes;
}

async function collect(args: string[], input?: Buffer): Promise<string> {
  const run = runCli(args, input === undefined ? {} : { input });
  const code = await run.exited;
  if (code !== 0) throw new Error(`telltale ${args.join(' ')} exited ${code}:\n${run.stderr().slice(-2000)}`);
  return run.stderr();
}

/** Graphite names from console (--print) output, i.e. what the graphite sink would send. */
function namesIn(text: string): string[] {
  return text.split('\n').flatMap((l) => {
    const m = /^([A-Za-z0-9_.-]+) \S+ \d+$/.exec(l);
    return m ? [m[1]!] : [];
  });
}

describe.skipIf(!RELAY)('hash routing agrees with carbon-c-relay -t', () => {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-hash-'));
  const names = new Set<string>();

  beforeAll(async () => {
    const emitter = 'emitter:\n  prefix: telltale.{host}\n  sinks:\n    - type: console\nlive:\n  enabled: false\n';
    // access_log on a real Apache log with mod_statsd's per-path names: thousands of names.
    const al = join(dir, 'access_log.yaml');
    writeFileSync(
      al,
      `${emitter}integrations:\n  web:\n    type: access_log\n    path: ${join(REPO_ROOT, 'integrations/access_log/test/fixtures/elastic-examples-apache_logs.log')}\n` +
        `    format: combined\n    start_at: beginning\n    state_file: ${join(dir, 'offsets.json')}\n    compat: mod_statsd\n    mod_statsd:\n      prefix: www\n      max_keys: 5000\n`,
    );
    // puppet_reports over every stored fixture report, one certname each.
    const reports = join(dir, 'reports');
    const fixtures = join(REPO_ROOT, 'integrations/puppet_reports/test/fixtures');
    for (const f of readdirSync(fixtures).filter((n) => n.endsWith('.report.yaml'))) {
      const host = join(reports, `${f.replace(/\.report\.yaml$/, '').replace(/[^a-z0-9]+/gi, '-')}.example.com`);
      mkdirSync(host, { recursive: true });
      copyFileSync(join(fixtures, f), join(host, '202401010000.yaml'));
    }
    const pr = join(dir, 'puppet.yaml');
    writeFileSync(pr, `${emitter}integrations:\n  puppet:\n    type: puppet_reports\n    reportdir: ${reports}\n    backfill: true\n`);
    const sv = join(dir, 'supervisor.yaml');
    writeFileSync(sv, `${emitter}integrations:\n  supervisor:\n    type: supervisor\n`);
    const host = join(dir, 'host.yaml');
    writeFileSync(host, `${emitter}integrations:\n  host:\n    type: host\n`);
    const outputs = await Promise.all([
      collect(['access_log', '--once', '--config', al]),
      collect(['puppet_reports', '--once', '--config', pr]),
      collect(['supervisor', '--config', sv], readFileSync(join(REPO_ROOT, 'integrations/supervisor/test/fixtures/capture.bin'))),
      collect(['host', '--once', '--config', host]),
    ]);
    for (const o of outputs) for (const n of namesIn(o)) names.add(n);
    // Every catalogued metric of every integration (cloudwatch_billing's need AWS), placeholders filled.
    for (const def of registry) for (const m of def.metrics) names.add(`telltale.web01.${def.type}.${m.name.replace(/[^A-Za-z0-9_.-]+/g, 'x')}`);
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('routes every name of every integration to the same destinations, in the same order', async () => {
    // Enough real names, and from every integration, or the comparison proves little.
    expect(names.size).toBeGreaterThan(3000);
    for (const def of registry) expect([...names].some((n) => n.includes(`.${def.type}.`) || n.includes(`.telltale.${def.type}.`)), def.type).toBe(true);

    const conf = join(dir, 'relay.conf');
    writeFileSync(conf, relayConf());
    const input = [...names].map((n) => `${n} 1 1700000000\n`).join('');
    const relay = spawn(RELAY!, ['-t', '-f', conf], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    relay.stdout.on('data', (d: Buffer) => (out += d.toString()));
    relay.stdin.end(input);
    const code = await new Promise<number | null>((resolve) => relay.on('close', resolve));
    expect(code).toBe(0);
    const routes = parseRelayTest(out);
    expect(routes.size).toBe(names.size);

    let compared = 0;
    const mismatches: string[] = [];
    for (const c of CLUSTERS) {
      const ring = createHashRing(c.kind, c.members);
      for (const name of names) {
        const mine = ring.pick(name, c.replication).map((i) => `${c.members[i]!.host}:${c.members[i]!.port}`);
        const theirs = routes.get(name)?.get(c.name);
        compared++;
        if (mine.join(' ') !== theirs?.join(' ')) mismatches.push(`${c.name} ${name}: telltale ${mine.join(' ')}, relay ${theirs?.join(' ')}`);
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(compared).toBe(names.size * CLUSTERS.length);
  });
});
