/**
 * What the built command loads, per command: `--version`, `--help` and `check` load no
 * integration's running code and no package but the YAML parser `check` reads the file with;
 * a one-shot loads only its own integration's code and dependencies (the AWS SDK only for
 * cloudwatch_billing, chokidar and js-yaml only for puppet_reports, ws never without the live
 * page). And the compile cache: used on Node >= 22 in a safe directory, silently skipped on
 * Node 20 or in a directory others can write to.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { recordLoadedModules, type LoadedModules } from '../helpers/loaded-modules.js';

const BIN = join(REPO_ROOT, 'dist/cli/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'telltale-lazy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const logs = join(dir, 'logs');
mkdirSync(logs);
writeFileSync(join(logs, 'access.log'), '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.4.0"\n');
const config = join(dir, 'integrations.yaml');
writeFileSync(
  config,
  `emitter:
  sinks:
    - type: statsd
      address: udp://127.0.0.1:9
live:
  enabled: false
state_dir: ${join(dir, 'state')}
integrations:
  host: {}
  billing:
    type: cloudwatch_billing
    endpoint: http://127.0.0.1:9
    max_attempts: 1
    timeout: 5s
  puppet:
    type: puppet_reports
    reportdir: ${join(dir, 'reports')}
  web:
    type: access_log
    path: ${join(logs, '*.log')}
  supervisor: {}
`,
);

/** The integrations' run files among the loaded files: ['host/poller.js', ...]. */
function runFiles(r: LoadedModules): string[] {
  return r.files
    .map((f) => /\/dist\/integrations\/([^/]+\/(?:service|poller|listener)\.js)$/.exec(f)?.[1])
    .filter((f): f is string => f !== undefined)
    .sort();
}

let runs = 0;
/** One run of the command; each with a cache directory of its own (a first start) unless given one. */
async function record(args: string[], cache = join(dir, `cache-${runs++}`)): Promise<LoadedModules> {
  return recordLoadedModules([BIN, ...args], {
    cwd: dir,
    env: { TELLTALE_CACHE_DIR: cache, AWS_ACCESS_KEY_ID: 'AKIDFAKE', AWS_SECRET_ACCESS_KEY: 'x', AWS_EC2_METADATA_DISABLED: 'true' },
    timeoutMs: 30_000,
  });
}

describe('the command loads only what it runs', () => {
  it('--version loads the entry and the version file only', async () => {
    const r = await record(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.files.filter((f) => f.includes('/dist/')).map((f) => f.slice(f.indexOf('/dist/') + 6)).sort()).toEqual(['cli/bin.js', 'cli/cache-dir.js', 'cli/compile-cache.js', 'cli/version.js']);
  });

  it('--version and --help: no package, no running code', async () => {
    for (const flag of ['--version', '--help']) {
      const r = await record([flag]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.packages).toEqual([]);
      expect(runFiles(r)).toEqual([]);
    }
  });

  it('check: the YAML parser and nothing of any integration beyond its definition', async () => {
    const r = await record(['check', '--config', config]);
    // The statsd port 9 probe fails (exit 1); the file itself is valid.
    expect(r.stdout).toContain('(valid)');
    expect(r.packages).toEqual(['yaml']);
    expect(runFiles(r)).toEqual([]);
  });

  it('a one-shot loads its own integration only', async () => {
    const host = await record(['host', '--once', '--config', config]);
    expect(host.status, host.stderr).toBe(0);
    expect(runFiles(host)).toEqual(['host/poller.js']);
    expect(host.packages).toEqual(['yaml']);

    const web = await record(['access_log', '--once', '--config', config]);
    expect(web.status, web.stderr).toBe(0);
    expect(runFiles(web)).toEqual(['access_log/service.js']);
    expect(web.packages).toEqual(['yaml']);

    const puppet = await record(['puppet_reports', '--once', '--config', config]);
    expect(puppet.status, puppet.stderr).toBe(0);
    expect(runFiles(puppet)).toEqual(['puppet_reports/service.js']);
    expect(puppet.packages).toEqual(expect.arrayContaining(['chokidar', 'js-yaml', 'yaml']));
    expect(puppet.packages.filter((p) => p.startsWith('@aws-sdk/') || p === 'ws')).toEqual([]);

    // Nothing answers on port 9: the poll fails, but the SDK had to load for it.
    const billing = await record(['cloudwatch_billing', '--once', '--config', config]);
    expect(runFiles(billing)).toEqual(['cloudwatch_billing/poller.js']);
    expect(billing.packages).toContain('@aws-sdk/client-cloudwatch');
    expect(billing.packages).not.toContain('chokidar');
    expect(billing.packages).not.toContain('ws');
  });
});

describe('parsed-config cache', () => {
  it('once the file has been parsed, a one-shot and check load no package at all', async () => {
    const cache = join(dir, 'cache-warm');
    const cold = await record(['host', '--once', '--config', config], cache);
    expect(cold.status, cold.stderr).toBe(0);
    expect(cold.packages).toEqual(['yaml']);
    expect(readdirSync(join(cache, 'config'))).toHaveLength(1);
    const warm = await record(['host', '--once', '--config', config], cache);
    expect(warm.status, warm.stderr).toBe(0);
    expect(runFiles(warm)).toEqual(['host/poller.js']);
    expect(warm.packages).toEqual([]);
    const check = await record(['check', '--config', config], cache);
    expect(check.stdout).toContain('(valid)');
    expect(check.packages).toEqual([]);
  });

  it('a mistake in a cached file is still reported at its FILE:LINE:COL (the parser loads then)', async () => {
    const cache = join(dir, 'cache-mistake');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'integrations:\n  host:\n    interval: soon\n');
    const first = await record(['check', '--config', bad], cache);
    const second = await record(['check', '--config', bad], cache);
    expect(first.status).toBe(78);
    expect(second.status).toBe(78);
    expect(second.stderr).toContain(`${bad}:3:15: integrations.host.interval:`);
    expect(second.stderr).toBe(first.stderr);
    expect(second.packages).toEqual(['yaml']);
  });
});

describe('compile cache', () => {
  const major = Number(process.versions.node.split('.')[0]);

  it(major >= 22 ? 'Node >= 22: the command fills a private cache directory' : 'Node 20: no cache, and no directory made for one', async () => {
    const cc = join(dir, 'cc-private');
    // --help: --version is answered before anything is compiled.
    const r = await recordLoadedModules([BIN, '--help'], { cwd: dir, env: { TELLTALE_CACHE_DIR: cc } });
    expect(r.status, r.stderr).toBe(0);
    if (major >= 22) {
      expect(readdirSync(join(cc, 'compile-cache')).length).toBeGreaterThan(0);
    } else {
      expect(existsSync(join(cc, 'compile-cache'))).toBe(false);
    }
  });

  it('a directory others can write to is not used, and the command still runs', async () => {
    const shared = join(dir, 'cc-shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const r = await recordLoadedModules([BIN, '--help'], { cwd: dir, env: { TELLTALE_CACHE_DIR: shared } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage|telltale/);
    expect(readdirSync(shared)).toEqual([]);
  });
});
