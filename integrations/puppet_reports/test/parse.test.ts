/**
 * Parsing and naming against real `puppet apply` runs made here, with every expected value read
 * by Puppet's own Ruby (truth.rb), never by our parser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { testContext } from '../../../test/helpers/context.js';
import { puppetReports } from '../index.js';
import { failedResourcesFromBlock, parseReport } from '../parse.js';
import { RunParseError, type Run } from '../run.js';
import { parseSummary } from '../summary.js';
import { hostNode, runPoints } from '../points.js';
import { applyDirs, bigManifest, defaults, FIXTURES, newestReport, puppetApply, rubyTruth, type Truth } from './puppet.js';

// Several real `puppet apply` runs (one of 500 resources) and a Ruby pass: about 20 s on a quiet
// 2-core machine, several times that while the suite's other real servers share the cores.
const PUPPET_SETUP_MS = 300_000;

const puppet = requireBinary('puppet', 'apt-get install puppet (Debian puppet 7)');
const ruby = requireBinary('ruby', 'apt-get install ruby (comes with puppet)');

interface Scenario {
  name: string;
  certname: string;
  report: string;
  summary: string;
  truth: Truth;
}

function flatMetrics(run: Run): Record<string, number> {
  return Object.fromEntries(run.metrics.map((m) => [`${m.category}.${m.name}`, m.value]));
}

function nonZero(levels: Record<string, number> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(levels ?? {}).filter(([, n]) => n > 0));
}

function expectRunMatchesTruth(run: Run, t: Truth): void {
  expect(run.host).toBe(t.host);
  // JS doubles cannot hold nanoseconds at epoch scale; microseconds is what both sides agree on.
  expect(Math.abs(run.time - t.time)).toBeLessThan(1e-5);
  expect(run.status).toBe(t.status);
  expect(run.statusSource).toBe('report');
  expect(run.noop).toBe(t.noop ?? undefined);
  expect(run.noopPending).toBe(t.noop_pending ?? undefined);
  expect(run.correctiveChange).toBe(t.corrective_change ?? undefined);
  expect(run.transactionCompleted).toBe(t.transaction_completed ?? undefined);
  expect(run.cachedCatalogStatus).toBe(t.cached_catalog_status ?? undefined);
  expect(run.transactionUuid).toBe(t.transaction_uuid ?? undefined);
  expect(run.reportFormat).toBe(t.report_format);
  expect(flatMetrics(run)).toEqual(t.metrics);
  expect(Object.fromEntries(run.metrics.map((m) => [`${m.category}.${m.name}`, m.label]))).toEqual(t.labels);
  expect(nonZero(run.logLevels)).toEqual(t.logs);
  if (t.status === 'failed') expect((run.failedResources ?? []).map((r) => r.resource).sort()).toEqual(t.failed_resources);
}

describe.skipIf(!puppet || !ruby)('puppet_reports parsing of real puppet apply reports', () => {
  let root: string;
  const scenarios = new Map<string, Scenario>();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'telltale-puppet-parse-'));
    const out = join(root, 'out');
    mkdirSync(out);
    const make = async (name: string, dirName: string, certname: string, manifest: string, extra: string[] = []): Promise<void> => {
      const dirs = applyDirs(join(root, dirName));
      await puppetApply(dirs, certname, manifest, extra);
      const report = join(root, `${name}.yaml`);
      copyFileSync(newestReport(dirs.reportdir, certname), report);
      const summary = join(root, `${name}.summary.yaml`);
      copyFileSync(join(dirs.publicdir, 'last_run_summary.yaml'), summary);
      scenarios.set(name, { name, certname, report, summary, truth: undefined as unknown as Truth });
    };
    const changes = `file { '${out}/a': ensure => directory }\nfile { '${out}/a/one': content => "1\\n" }\nfile { '${out}/a/two': content => "2\\n" }\nfile { '${out}/a/link': ensure => link, target => '${out}/a/one' }\nexec { 'touch-marker': command => '/usr/bin/touch ${out}/a/marker', creates => '${out}/a/marker' }\n`;
    // Titles Psych must quote (': ') or write as explicit `? ` keys (long, multi-line).
    const failed = `exec { 'fails': command => '/bin/false' }\nexec { 'colon: title': command => '/bin/false' }\nexec { 'long-${'x'.repeat(200)}': command => '/bin/false' }\nexec { "multi\\nline": command => '/bin/false' }\nfile { '${out}/missing/dir/f': content => "x" }\nfile { '${out}/c-ok': content => "ok" }\nfile { '${out}/c-dep': content => "dep", require => Exec['fails'] }\n`;
    const noop = `file { '${out}/d': ensure => directory }\nfile { '${out}/d/1': content => "1" }\nfile { '${out}/d/2': content => "2" }\nfile { '${out}/d/3': content => "3" }\n`;
    // Two cores are shared: at most two applies at a time. "unchanged" is a rerun of "changes".
    await Promise.all([
      (async () => {
        await make('changes', 'changes', 'changes.example.com', changes);
        await make('unchanged', 'changes', 'changes.example.com', changes);
        await make('failed', 'failed', 'failed.example.com', failed);
      })(),
      (async () => {
        await make('noop', 'noop', 'noop.example.com', noop, ['--noop']);
        await make('big500', 'big500', 'big500.example.com', bigManifest(join(out, 'big'), 500));
      })(),
    ]);
    const list = [...scenarios.values()];
    const truths = await rubyTruth(list.map((s) => s.report));
    list.forEach((s, i) => (s.truth = truths[i]!));
  }, PUPPET_SETUP_MS);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('covers the scenarios the issue asks for (as Puppet itself reports them)', () => {
    const t = (n: string): Truth => scenarios.get(n)!.truth;
    expect(t('changes').status).toBe('changed');
    expect(t('unchanged').status).toBe('unchanged');
    expect(t('failed').status).toBe('failed');
    expect(t('failed').failed_resources.length).toBeGreaterThanOrEqual(5);
    expect(t('noop').noop).toBe(true);
    expect(t('noop').noop_pending).toBe(true);
    expect(t('big500').metrics['resources.total']).toBeGreaterThanOrEqual(500);
  });

  it('fast path reads exactly what Puppet reads, for every scenario', () => {
    for (const s of scenarios.values()) {
      const run = parseReport(readFileSync(s.report, 'utf8'), s.report);
      expect(run.parsedBy, s.name).toBe('fast');
      expectRunMatchesTruth(run, s.truth);
    }
  });

  it('full-document parse reads exactly what Puppet reads, for every scenario', () => {
    for (const s of scenarios.values()) {
      const run = parseReport(readFileSync(s.report, 'utf8'), s.report, { forceFull: true });
      expect(run.parsedBy, s.name).toBe('full');
      expectRunMatchesTruth(run, s.truth);
    }
  });

  it('failed resources carry titles, file:line and the failure message', () => {
    const s = scenarios.get('failed')!;
    const text = readFileSync(s.report, 'utf8');
    expect(text).toMatch(/^ {2}\? /m); // the explicit-key layout is really exercised
    // The entry scan itself (not its whole-block fallback) finds exactly Puppet's failed resources.
    const block = text.slice(text.indexOf('\nresource_statuses:') + 1, text.indexOf('\ncorrective_change:') + 1);
    expect(failedResourcesFromBlock(block, s.report).map((r) => r.resource).sort()).toEqual(s.truth.failed_resources);
    expect(s.truth.failed_resources).toHaveLength(5);
    const run = parseReport(text, s.report);
    const exec = run.failedResources?.find((r) => r.resource === 'Exec[fails]');
    expect(exec?.message).toContain('/bin/false');
    expect(exec?.line).toBe(1);
    expect(exec?.file).toMatch(/manifest-.*\.pp$/);
  });

  it('reads a report\'s bytes: titles and messages beyond ASCII come out as the full parse reads them', () => {
    const s = scenarios.get('failed')!;
    // Psych writes UTF-8 as is in plain scalars: a title and its log lines with 2- and 3-byte characters.
    const text = readFileSync(s.report, 'utf8').replaceAll('Exec[fails]', 'Exec[fäils ✓ ünïcode]');
    expect(text).toContain('Exec[fäils ✓ ünïcode]');
    const fast = parseReport(Buffer.from(text), s.report);
    const full = parseReport(text, s.report, { forceFull: true });
    expect(fast.parsedBy).toBe('fast');
    expect(fast.failedResources?.map((r) => r.resource).sort()).toEqual(full.failedResources?.map((r) => r.resource).sort());
    expect(fast.failedResources?.map((r) => r.resource)).toContain('Exec[fäils ✓ ünïcode]');
    expect({ ...fast, parsedBy: 'full' }).toEqual(full);
    // The entry scan itself, not its whole-block fallback, decodes the entries it cuts out.
    const bytes = Buffer.from(text);
    const block = bytes.subarray(bytes.indexOf('\nresource_statuses:') + 1, bytes.indexOf('\ncorrective_change:') + 1);
    expect(failedResourcesFromBlock(block, s.report).map((r) => r.resource)).toContain('Exec[fäils ✓ ünïcode]');
  });

  it('last_run_summary.yaml: metrics equal the report (per Ruby) and the derived status equals Puppet\'s', () => {
    for (const s of scenarios.values()) {
      const run = parseSummary(readFileSync(s.summary, 'utf8'), 'agent01.example.com', s.summary);
      expect(flatMetrics(run), s.name).toEqual(s.truth.metrics);
      expect(run.status, s.name).toBe(s.truth.status);
      expect(run.noopPending, s.name).toBe(s.truth.noop_pending);
    }
  });

  it('never accepts a truncated report as a good run (every line cut and a byte stride)', () => {
    const s = scenarios.get('failed')!;
    const text = readFileSync(s.report, 'utf8');
    const tailKey = text.indexOf('\ncorrective_change:');
    expect(tailKey).toBeGreaterThan(0);
    const cuts: number[] = [];
    for (let i = text.indexOf('\n'); i !== -1 && i < text.length - 1; i = text.indexOf('\n', i + 1)) cuts.push(i + 1);
    for (let i = 1; i < text.length - 1; i += 37) cuts.push(i);
    let rejected = 0;
    for (const cut of cuts) {
      const prefix = text.slice(0, cut);
      let run: Run | undefined;
      try {
        run = parseReport(prefix, `cut@${cut}`);
      } catch (e) {
        expect(e).toBeInstanceOf(RunParseError);
        rejected++;
        continue;
      }
      // Accepted only once everything up to corrective_change is there, and then complete.
      expect(cut, `cut at ${cut} accepted`).toBeGreaterThan(tailKey + 1);
      expect(flatMetrics(run)).toEqual(s.truth.metrics);
      expect(run.status).toBe(s.truth.status);
    }
    expect(rejected).toBeGreaterThan(cuts.length - 5);
  });

  it('rejects empty, header-only, tag-only and NUL-filled files with a RunParseError naming the file', () => {
    for (const text of ['', '---\n', '--- !ruby/object:Puppet::Transaction::Report\n', '\0'.repeat(4096), 'host: [unclosed\n']) {
      expect(() => parseReport(text, '/x/202601010000.yaml')).toThrowError(/\/x\/202601010000\.yaml/);
    }
  });

  it('an unknown report_format is parsed best effort (full path) with the same values', () => {
    const s = scenarios.get('changes')!;
    const text = readFileSync(s.report, 'utf8').replace(/^report_format: 12$/m, 'report_format: 13');
    const run = parseReport(text, 'fmt13');
    expect(run.reportFormat).toBe(13);
    expect(run.parsedBy).toBe('full');
    expect(flatMetrics(run)).toEqual(s.truth.metrics);
    expect(run.status).toBe(s.truth.status);
  });

  it('default naming: <host>.<category>.<name> from names, plus run.* from Puppet\'s fields', () => {
    for (const s of scenarios.values()) {
      const run = parseReport(readFileSync(s.report, 'utf8'), s.report);
      const pts = new Map(runPoints(run, { compat: 'default', evenupSuffix: 'puppet', evenupReverseHost: true }).map((p) => [p.name, p.value]));
      const h = s.truth.host.replace(/\./g, '_');
      expect(hostNode(s.truth.host)).toBe(h);
      for (const [k, v] of Object.entries(s.truth.metrics)) expect(pts.get(`${h}.${k}`), `${s.name} ${k}`).toBe(v);
      for (const st of ['failed', 'changed', 'unchanged']) expect(pts.get(`${h}.run.status.${st}`)).toBe(st === s.truth.status ? 1 : 0);
      expect(pts.get(`${h}.run.noop`)).toBe(s.truth.noop ? 1 : 0);
      expect(pts.get(`${h}.run.noop_pending`)).toBe(s.truth.noop_pending ? 1 : 0);
      expect(pts.get(`${h}.run.corrective_change`)).toBe(s.truth.corrective_change ? 1 : 0);
      expect(pts.get(`${h}.run.catalog.compiled`)).toBe(1);
      expect(pts.get(`${h}.run.catalog.cached`)).toBe(0);
      expect(pts.get(`${h}.run.logs.err`)).toBe(s.truth.logs['err'] ?? 0);
      expect(pts.get(`${h}.run.logs.notice`)).toBe(s.truth.logs['notice'] ?? 0);
      expect(pts.get(`${h}.run.duration`)).toBe(s.truth.metrics['time.total']);
      // Nothing else: one point per metric, 3 status, 4 flags, 2 catalog, 8 log levels, duration.
      expect(pts.size).toBe(Object.keys(s.truth.metrics).length + 3 + 4 + 2 + 8 + 1);
      for (const name of pts.keys()) expect(name).toMatch(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/);
    }
  });

  it('compat krux and evenup reproduce those processors\' paths (evenup labels sanitised)', () => {
    const s = scenarios.get('changes')!;
    const run = parseReport(readFileSync(s.report, 'utf8'), s.report);
    const krux = new Map(runPoints(run, { compat: 'krux', evenupSuffix: 'puppet', evenupReverseHost: true }).map((p) => [p.name, p.value]));
    for (const [k, v] of Object.entries(s.truth.metrics)) expect(krux.get(k)).toBe(v);
    const evenup = new Map(runPoints(run, { compat: 'evenup', evenupSuffix: 'puppet', evenupReverseHost: true }).map((p) => [p.name, p.value]));
    for (const [k, v] of Object.entries(s.truth.metrics)) {
      const [cat] = k.split('.');
      const label = s.truth.labels[k]!.replace(/ /g, '_');
      expect(evenup.get(`com.example.changes.puppet.${label}.${cat}`), k).toBe(v);
    }
    expect(evenup.get('com.example.changes.puppet.Config_retrieval.time')).toBe(s.truth.metrics['time.config_retrieval']);
  });

  it('once() emits each scenario with its own run timestamp through the emitter', async () => {
    const dir = mkdtempSync(join(root, 'rd-'));
    for (const s of scenarios.values()) {
      if (s.name === 'unchanged') continue; // same certname as "changes"
      mkdirSync(join(dir, s.certname));
      copyFileSync(s.report, join(dir, s.certname, '202601010000.yaml'));
    }
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
    const inst = puppetReports.create(
      { ...defaults(), reportdir: dir },
      t.ctx,
    );
    await inst.once();
    await inst.stop();
    const dps = t.sink.datapoints();
    for (const s of scenarios.values()) {
      if (s.name === 'unchanged') continue;
      const h = s.truth.host.replace(/\./g, '_');
      for (const [k, v] of Object.entries(s.truth.metrics)) {
        const dp = dps.find((d) => d.kind === 'datapoint' && d.name === `puppet.${h}.${k}`);
        expect(dp, `${h}.${k}`).toMatchObject({ value: v, ts: Math.floor(s.truth.time) });
      }
    }
    expect(t.sink.gauges().get('puppet._fleet.hosts')).toBe(4);
    expect(t.sink.gauges().get('puppet._fleet.failed')).toBe(1);
    expect(t.sink.gauges().get('puppet._fleet.noop_pending')).toBe(1);
    expect(t.logs.some((l) => l.includes('failed resource') && l.includes('resource=Exec[fails]'))).toBe(true);
  });
});

describe('puppet_reports committed fixtures (real Puppet 7 reports and a Puppet 3 style one)', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Truth[];
  const legacy = JSON.parse(readFileSync(join(FIXTURES, 'expected-legacy.json'), 'utf8')) as Truth[];

  it('expected.json is what Puppet\'s own Ruby reads from the fixtures', async (ctx) => {
    if (!ruby) return ctx.skip();
    const again = await rubyTruth(expected.map((e) => join(FIXTURES, e.path)));
    expect(again.map((t) => ({ ...t, path: basename(t.path) }))).toEqual(expected);
    const againLegacy = await rubyTruth([join(FIXTURES, legacy[0]!.path)], true);
    expect(againLegacy.map((t) => ({ ...t, path: basename(t.path) }))).toEqual(legacy);
  });

  it('both parse paths read each Puppet 7 fixture as Puppet does', () => {
    expect(expected.map((e) => e.status).sort()).toEqual(['changed', 'changed', 'failed', 'failed', 'unchanged']);
    for (const t of expected) {
      const text = readFileSync(join(FIXTURES, t.path), 'utf8');
      expectRunMatchesTruth(parseReport(text, t.path), t);
      expectRunMatchesTruth(parseReport(text, t.path, { forceFull: true }), t);
    }
  });

  it('the legacy format-4 fixture (nested !ruby/object, !ruby/sym, !binary, aliases, YAML 1.1 times) parses as Ruby reads it', () => {
    const t = legacy[0]!;
    const run = parseReport(readFileSync(join(FIXTURES, t.path), 'utf8'), t.path);
    expect(run.parsedBy).toBe('full');
    expectRunMatchesTruth(run, t);
    expect(run.failedResources?.[0]?.message).toContain('/bin/false returned 1');
  });

  it('a JSON report (Puppet\'s own to_data_hash, the json terminus) reads the same; cut JSON is incomplete', async (ctx) => {
    if (!ruby) return ctx.skip();
    const { execFileSync } = await import('node:child_process');
    const jsons = execFileSync('ruby', ['-rpuppet', '-rjson', '-e',
      'ARGV.each { |f| r = Puppet::Util::Yaml.safe_load_file(f, [Puppet::Transaction::Report, Symbol]); puts JSON.generate(r.to_data_hash) }',
      ...expected.map((t) => join(FIXTURES, t.path))], { encoding: 'utf8' }).trim().split('\n');
    expect(jsons).toHaveLength(expected.length);
    expected.forEach((t, i) => {
      const json = jsons[i]!;
      const run = parseReport(json, `${t.path}.json`);
      expect(flatMetrics(run)).toEqual(t.metrics);
      expect(run.status).toBe(t.status);
      expect(nonZero(run.logLevels)).toEqual(t.logs);
      let err: unknown;
      try {
        parseReport(json.slice(0, Math.floor(json.length * 0.7)), 'cut.json');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RunParseError);
      expect((err as RunParseError).kind).toBe('incomplete');
    });
  });

  it('the summaries hold the same metrics as their reports; status derived as Puppet computed it', () => {
    for (const t of expected) {
      const path = t.path.replace('.report.yaml', '.last_run_summary.yaml');
      const run = parseSummary(readFileSync(join(FIXTURES, path), 'utf8'), 'agent', path);
      expect(flatMetrics(run), path).toEqual(t.metrics);
      expect(run.status, path).toBe(t.status);
      expect(run.statusSource).toBe('derived');
    }
  });

  it('an agent-mode run that corrected drift: run.corrective_change 1, resources.corrective_change as Puppet counted', () => {
    const t = expected.find((e) => e.path === 'p7-agentmode-corrective.report.yaml')!;
    expect(t.corrective_change).toBe(true);
    const run = parseReport(readFileSync(join(FIXTURES, t.path), 'utf8'), t.path);
    const pts = new Map(runPoints(run, { compat: 'default', evenupSuffix: 'puppet', evenupReverseHost: true }).map((p) => [p.name, p.value]));
    expect(pts.get('node04_example_com.run.corrective_change')).toBe(1);
    expect(pts.get('node04_example_com.resources.corrective_change')).toBe(t.metrics['resources.corrective_change']);
    expect(t.metrics['resources.corrective_change']).toBeGreaterThan(0);
  });

  it('an agent run without a catalog: failed, not compiled, cached on_failure, err logged, no failed resources', () => {
    const t = expected.find((e) => e.path === 'p7-agent-nocatalog.report.yaml')!;
    expect(t.transaction_completed).toBe(false);
    const run = parseReport(readFileSync(join(FIXTURES, t.path), 'utf8'), t.path);
    const pts = new Map(runPoints(run, { compat: 'default', evenupSuffix: 'puppet', evenupReverseHost: true }).map((p) => [p.name, p.value]));
    const h = 'agent-nocatalog_example_com';
    expect(pts.get(`${h}.run.status.failed`)).toBe(1);
    expect(pts.get(`${h}.run.catalog.compiled`)).toBe(0);
    expect(pts.get(`${h}.run.catalog.cached`)).toBe(1);
    expect(pts.get(`${h}.run.transaction_completed`)).toBe(0);
    expect(pts.get(`${h}.run.logs.err`)).toBe(t.logs['err']);
    expect(pts.has(`${h}.run.duration`)).toBe(t.metrics['time.total'] !== undefined);
    expect(run.failedResources).toEqual([]);
  });

  it('a summary cut before its last section is rejected; a catalog-failure summary derives failed', () => {
    const text = readFileSync(join(FIXTURES, 'p7-apply-changes.last_run_summary.yaml'), 'utf8');
    expect(() => parseSummary(text.slice(0, text.indexOf('\nevents:') + 1), 'a', 'cut')).toThrowError(RunParseError);
    expect(() => parseSummary(text.slice(0, text.indexOf('\nchanges:') + 1), 'a', 'cut')).toThrowError(RunParseError);
    // Puppet 4.9 after a catalog failure (aswen/nagios-plugins#32): only version and last_run.
    const run = parseSummary('---\nversion:\n  config:\n  puppet: 4.9.4\ntime:\n  last_run: 1490000000\n', 'a', 'fail');
    expect(run.status).toBe('failed');
    expect(run.time).toBe(1490000000);
  });
});
