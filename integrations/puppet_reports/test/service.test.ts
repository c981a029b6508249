/**
 * The watcher end to end: a temp reportdir with thousands of old reports at start, real
 * `puppet apply` runs writing into it while the service runs, and the bad inputs a reportdir
 * produces in real life (temp names, truncated copies, unreadable and vanished files).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../../../test/helpers/binaries.js';
import { testContext, type TestContext } from '../../../test/helpers/context.js';
import type { Integration } from '../../../shared/core/integration.js';
import type { Sample } from '../../../shared/emitter/memory-sink.js';
import { puppetReports } from '../index.js';
import { applyDirs, defaults, newestReport, puppetApply, rubyTruth, type ApplyDirs, type Truth } from './puppet.js';

// Real `puppet apply` runs in the setup: seconds on a quiet machine, a minute or more while the
// suite's other real servers share the 2 cores.
const PUPPET_SETUP_MS = 300_000;

const puppet = requireBinary('puppet', 'apt-get install puppet (Debian puppet 7)');
const ruby = requireBinary('ruby', 'apt-get install ruby (comes with puppet)');

const OLD_HOSTS = 20;
const OLD_PER_HOST = 150;

/** A copy of a real report as if another host had sent it at another time. */
function asOtherRun(text: string, host: string, epochSeconds: number, uuid: string): string {
  const iso = new Date(epochSeconds * 1000).toISOString().replace('Z', '+00:00');
  return text
    .replace(/^host: .*$/m, `host: ${host}`)
    .replace(/^time: .*$/m, `time: '${iso}'`)
    .replace(/^transaction_uuid: .*$/m, `transaction_uuid: ${uuid}`);
}

function fileName(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 12) + '.yaml';
}

/** Whether reading this path fails with EACCES for us (root inside a container: /proc/1/environ). */
async function eaccesPath(dir: string): Promise<string | undefined> {
  if (userInfo().uid !== 0) {
    const p = join(dir, 'unreadable');
    writeFileSync(p, 'x\n');
    chmodSync(p, 0o000);
    return p;
  }
  try {
    await readFile('/proc/1/environ');
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EACCES' ? '/proc/1/environ' : undefined;
  }
}

type Datapoint = Extract<Sample, { kind: 'datapoint' }>;

function dps(t: TestContext): Datapoint[] {
  return t.sink.datapoints() as Datapoint[];
}

function counter(t: TestContext, name: string): number {
  return t.sink.counters().get(`puppet._watcher.${name}`) ?? 0;
}

describe.skipIf(!puppet || !ruby)('puppet_reports watcher on a live reportdir', () => {
  let root: string;
  let dirs: ApplyDirs;
  let seedText: string;
  let seedTruth: Truth;
  let newestOld: Map<string, number>;
  let t: TestContext;
  let inst: Integration | undefined;
  let deniedTarget: string | undefined;
  const base = Math.floor(Date.now() / 1000) - 5 * 86_400;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'telltale-puppet-watch-'));
    mkdirSync(join(root, 'out'));
    const seedDirs = applyDirs(join(root, 'seed'));
    await puppetApply(seedDirs, 'seed.example.com', `file { '${root}/out/seed': content => "seed\\n" }\n`);
    const seed = newestReport(seedDirs.reportdir, 'seed.example.com');
    seedText = readFileSync(seed, 'utf8');
    [seedTruth] = (await rubyTruth([seed])) as [Truth];

    dirs = applyDirs(join(root, 'agent'), join(root, 'reportdir'));
    newestOld = new Map();
    for (let h = 0; h < OLD_HOSTS; h++) {
      const host = `old${String(h).padStart(2, '0')}.example.com`;
      mkdirSync(join(dirs.reportdir, host));
      for (let i = 0; i < OLD_PER_HOST; i++) {
        const ts = base + h * 7 + i * 1800;
        writeFileSync(join(dirs.reportdir, host, fileName(ts)), asOtherRun(seedText, host, ts, `uuid-${h}-${i}`));
        newestOld.set(host, ts);
      }
    }
    // old00's newest entry vanished (tidy): a dangling link named like a newer report.
    symlinkSync(join(root, 'gone.yaml'), join(dirs.reportdir, 'old00.example.com', fileName(base + 200 * 1800)));
    deniedTarget = await eaccesPath(root);

    t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
    // rescan: the safety net for events inotify misses (seen under heavy load with brand-new host dirs).
    inst = puppetReports.create({ ...defaults(), reportdir: dirs.reportdir, tick: 100, settle: 50, rescan: 2000 }, t.ctx);
    if (!inst.start) throw new Error('a service integration has start()');
    await inst.start();
  }, PUPPET_SETUP_MS);

  afterAll(async () => {
    await inst?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('at start emits only the newest report per host, with its own timestamp', () => {
    const got = dps(t);
    for (const [host, ts] of newestOld) {
      const node = host.replace(/\./g, '_');
      const totals = got.filter((d) => d.name === `puppet.${node}.resources.total`);
      expect(totals, host).toHaveLength(1);
      expect(totals[0], host).toMatchObject({ value: seedTruth.metrics['resources.total'], ts });
    }
    expect(counter(t, 'history_skipped')).toBe(OLD_HOSTS * OLD_PER_HOST - OLD_HOSTS);
    expect(counter(t, 'errors.vanished')).toBe(1);
    expect(t.sink.gauges().get('puppet._fleet.hosts')).toBe(OLD_HOSTS);
    // Two days old or more, runinterval 30m: every one of them is stale.
    expect(t.sink.gauges().get('puppet._fleet.stale')).toBe(OLD_HOSTS);
    expect(t.sink.gauges().get('puppet.old05_example_com.run.age_seconds')).toBeGreaterThan(86_400);
  });

  it('emits a real puppet apply written into the reportdir while watching, values as Puppet reads them', async () => {
    await puppetApply(dirs, 'live.example.com', `file { '${root}/out/live': content => "live\\n" }\n`);
    const file = newestReport(dirs.reportdir, 'live.example.com');
    const [truth] = (await rubyTruth([file])) as [Truth];
    await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.live_example_com.run.duration'), 20_000);
    const got = dps(t).filter((d) => d.name.startsWith('puppet.live_example_com.'));
    for (const [k, v] of Object.entries(truth.metrics)) {
      expect(got.find((d) => d.name === `puppet.live_example_com.${k}`), k).toMatchObject({ value: v, ts: Math.floor(truth.time) });
    }
    expect(got.find((d) => d.name === 'puppet.live_example_com.run.status.changed')?.value).toBe(truth.status === 'changed' ? 1 : 0);
    // A second run right after (often the same UTC minute: Puppet replaces the file, a `change`).
    await puppetApply(dirs, 'live.example.com', `file { '${root}/out/live': content => "live again\\n" }\n`);
    const [truth2] = (await rubyTruth([newestReport(dirs.reportdir, 'live.example.com')])) as [Truth];
    expect(truth2.transaction_uuid).not.toBe(truth.transaction_uuid);
    await t.sink.waitFor(
      () => dps(t).some((d) => d.name === 'puppet.live_example_com.run.duration' && d.value === truth2.metrics['time.total']),
      20_000,
    );
  });

  it('a same-name overwrite by rename is a new run; the same report again is a duplicate', async () => {
    const dir = join(dirs.reportdir, 'swap.example.com');
    mkdirSync(dir);
    const name = fileName(base + 10_000);
    const put = (text: string): void => {
      // Exactly how Puppet writes: temp file in the same directory, then rename(2).
      const tmp = join(dir, `${name}20261122-4242-${Math.random().toString(36).slice(2)}`);
      writeFileSync(tmp, text);
      renameSync(tmp, join(dir, name));
    };
    put(asOtherRun(seedText, 'swap.example.com', base + 10_000, 'swap-1'));
    await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.swap_example_com.resources.total' && d.ts === base + 10_000));
    put(asOtherRun(seedText, 'swap.example.com', base + 10_030, 'swap-2'));
    await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.swap_example_com.resources.total' && d.ts === base + 10_030));
    const dupBefore = counter(t, 'duplicates');
    put(asOtherRun(seedText, 'swap.example.com', base + 10_030, 'swap-2'));
    await t.sink.waitFor(() => counter(t, 'duplicates') === dupBefore + 1);
    expect(dps(t).filter((d) => d.name === 'puppet.swap_example_com.resources.total')).toHaveLength(2);
    // Temp names never count, even with valid content that stays there.
    writeFileSync(join(dir, `${fileName(base + 20_000)}20261122-99-zz`), asOtherRun(seedText, 'tempname.example.com', base + 20_000, 'tmp-1'));
    put(asOtherRun(seedText, 'swap.example.com', base + 10_060, 'swap-3'));
    await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.swap_example_com.resources.total' && d.ts === base + 10_060));
    expect(dps(t).some((d) => d.name.includes('tempname'))).toBe(false);
  });

  it('a truncated copy is counted and logged with its path, never emitted', async () => {
    const dir = join(dirs.reportdir, 'cut.example.com');
    mkdirSync(dir);
    const full = asOtherRun(seedText, 'cut.example.com', base + 30_000, 'cut-1');
    const file = join(dir, fileName(base + 30_000));
    const before = counter(t, 'errors.incomplete');
    // A copier writing in place: the watcher sees a file that stays cut inside resource_statuses.
    writeFileSync(file, full.slice(0, full.indexOf('\nresource_statuses:') + 200) + '\n');
    await t.sink.waitFor(() => counter(t, 'errors.incomplete') > before);
    expect(t.logs.some((l) => l.includes('incomplete file') && l.includes(file))).toBe(true);
    expect(dps(t).some((d) => d.name.startsWith('puppet.cut_example_com.'))).toBe(false);
    // When the copy completes, the run is emitted.
    writeFileSync(file, full);
    await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.cut_example_com.resources.total'));
  });

  it('an unreadable report (EACCES) is counted and logged with its path; the service keeps going', async (ctx) => {
    if (!deniedTarget) {
      ctx.skip();
      return;
    }
    const dir = join(dirs.reportdir, 'denied.example.com');
    mkdirSync(dir);
    const file = join(dir, fileName(base + 40_000));
    const before = counter(t, 'errors.access');
    symlinkSync(deniedTarget, file);
    await t.sink.waitFor(() => counter(t, 'errors.access') > before);
    expect(t.logs.some((l) => l.includes('permission denied') && l.includes(file))).toBe(true);
    const after = join(dirs.reportdir, 'after-denied.example.com');
    mkdirSync(after);
    writeFileSync(join(after, fileName(base + 40_060)), asOtherRun(seedText, 'after-denied.example.com', base + 40_060, 'after-1'));
    await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.after-denied_example_com.resources.total'), 20_000);
  });
});

describe.skipIf(!puppet || !ruby)('puppet_reports once(), backfill, fleet gauges and the agent summary', () => {
  let root: string;
  let seedText: string;
  let seedTruth: Truth;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'telltale-puppet-once-'));
    mkdirSync(join(root, 'out'));
    const seedDirs = applyDirs(join(root, 'seed'));
    await puppetApply(seedDirs, 'seed.example.com', `file { '${root}/out/seed': content => "seed\\n" }\n`);
    const seed = newestReport(seedDirs.reportdir, 'seed.example.com');
    seedText = readFileSync(seed, 'utf8');
    [seedTruth] = (await rubyTruth([seed])) as [Truth];
  }, PUPPET_SETUP_MS);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('backfill: true emits every stored report with its own timestamp; age and stale follow the clock', async () => {
    const rd = join(root, 'rd-backfill');
    const now = Math.floor(Date.now() / 1000);
    for (const [host, newest] of [['a.example.com', now - 600], ['b.example.com', now - 3 * 3600]] as const) {
      mkdirSync(join(rd, host), { recursive: true });
      for (let i = 0; i < 5; i++) {
        const ts = newest - (4 - i) * 60;
        writeFileSync(join(rd, host, fileName(ts)), asOtherRun(seedText, host, ts, `${host}-${i}`));
      }
    }
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports', now: () => now * 1000 });
    const inst = puppetReports.create({ ...defaults(), reportdir: rd, backfill: true }, t.ctx);
    await inst.once();
    await inst.stop();
    const ts = dps(t).filter((d) => d.name === 'puppet.a_example_com.resources.total').map((d) => d.ts);
    expect(ts).toEqual([0, 1, 2, 3, 4].map((i) => now - 600 - (4 - i) * 60));
    expect(counter(t, 'history_skipped')).toBe(0);
    // Age runs from the end of the run: report time + time.total (as Puppet's Ruby reads it).
    const total = seedTruth.metrics['time.total']!;
    const ageA = t.sink.gauges().get('puppet.a_example_com.run.age_seconds')!;
    expect(Math.abs(ageA - Math.round(600 - total))).toBeLessThanOrEqual(1);
    expect(t.sink.gauges().get('puppet._fleet.stale')).toBe(1);
    expect(t.sink.gauges().get('puppet._fleet.hosts')).toBe(2);
  });

  it('watches an agent last_run_summary.yaml: metrics as Puppet wrote them, status derived', async () => {
    const dirs = applyDirs(join(root, 'summary-agent'));
    const summary = join(dirs.publicdir, 'last_run_summary.yaml');
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
    const inst = puppetReports.create({ ...defaults(), reportdir: undefined, summary, host: 'agent01.example.com', settle: 50 }, t.ctx);
    try {
      if (!inst.start) throw new Error('a service integration has start()');
      await inst.start();
      // No file yet: logged and counted, not fatal.
      expect(counter(t, 'errors.vanished')).toBe(1);
      await puppetApply(dirs, 'agent01.example.com', `exec { 'nope': command => '/bin/false' }\nfile { '${root}/out/s': content => "s\\n" }\n`);
      const [truth] = (await rubyTruth([newestReport(dirs.reportdir, 'agent01.example.com')])) as [Truth];
      await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.agent01_example_com.run.status.failed'), 20_000);
      const got = dps(t);
      for (const [k, v] of Object.entries(truth.metrics)) {
        expect(got.find((d) => d.name === `puppet.agent01_example_com.${k}`)?.value, k).toBe(v);
      }
      expect(truth.status).toBe('failed');
      expect(got.find((d) => d.name === 'puppet.agent01_example_com.run.status.failed')?.value).toBe(1);
      expect(got.some((d) => d.name === 'puppet.agent01_example_com.run.noop')).toBe(false);
    } finally {
      await inst.stop();
    }
  });

  it('unknown report_format: emitted, counted per report, logged once', async () => {
    const rd = join(root, 'rd-fmt');
    mkdirSync(join(rd, 'f.example.com'), { recursive: true });
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 2; i++) {
      const text = asOtherRun(seedText, 'f.example.com', now - 100 + i, `fmt-${i}`).replace(/^report_format: 12$/m, 'report_format: 13');
      writeFileSync(join(rd, 'f.example.com', fileName(now - 100 + i * 60)), text);
    }
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
    const inst = puppetReports.create({ ...defaults(), reportdir: rd, backfill: true }, t.ctx);
    await inst.once();
    await inst.stop();
    expect(counter(t, 'unknown_format')).toBe(2);
    expect(t.logs.filter((l) => l.includes('unknown report_format'))).toHaveLength(1);
    expect(dps(t).filter((d) => d.name === 'puppet.f_example_com.resources.total')).toHaveLength(2);
  });

  it('a reportdir missing at start is picked up by the rescan once it appears', async () => {
    const rd = join(root, 'rd-late');
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
    const inst = puppetReports.create({ ...defaults(), reportdir: rd, rescan: 200, settle: 50 }, t.ctx);
    try {
      if (!inst.start) throw new Error('a service integration has start()');
      await inst.start();
      expect(t.logs.some((l) => l.includes('reportdir does not exist') && l.includes(rd))).toBe(true);
      const ts = Math.floor(Date.now() / 1000) - 300;
      mkdirSync(join(rd, 'late.example.com'), { recursive: true });
      writeFileSync(join(rd, 'late.example.com', fileName(ts)), asOtherRun(seedText, 'late.example.com', ts, 'late-1'));
      await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.late_example_com.resources.total' && d.ts === ts));
      // And from then on the watcher (or the rescan) sees new reports in it.
      writeFileSync(join(rd, 'late.example.com', fileName(ts + 120)), asOtherRun(seedText, 'late.example.com', ts + 120, 'late-2'));
      await t.sink.waitFor(() => dps(t).some((d) => d.name === 'puppet.late_example_com.resources.total' && d.ts === ts + 120));
    } finally {
      await inst.stop();
    }
  });

  it('forget_after drops silent hosts; future report times are clamped to now and counted; krux warns on several hosts', async () => {
    const rd = join(root, 'rd-forget');
    const now = Math.floor(Date.now() / 1000);
    const put = (host: string, ts: number, uuid: string): void => {
      mkdirSync(join(rd, host), { recursive: true });
      writeFileSync(join(rd, host, fileName(Math.min(ts, now))), asOtherRun(seedText, host, ts, uuid));
    };
    put('old.example.com', now - 20 * 86_400, 'o-1');
    put('skewed.example.com', now + 3600, 's-1');
    put('fresh.example.com', now - 60, 'f-1');
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports', now: () => now * 1000 });
    const inst = puppetReports.create({ ...defaults(), reportdir: rd, compat: 'krux', forget_after: 14 * 86_400_000 }, t.ctx);
    await inst.once();
    await inst.stop();
    // The 20-day-old run is still emitted (it is the host's newest), then forgotten by the tick.
    expect(t.sink.gauges().get('puppet._fleet.hosts')).toBe(2);
    expect(t.logs.some((l) => l.includes('forgetting host') && l.includes('old.example.com'))).toBe(true);
    expect(counter(t, 'clock_skew')).toBe(1);
    // krux paths have no host: every host writes puppet.resources.total, at its own time.
    const krux = dps(t).filter((d) => d.name === 'puppet.resources.total');
    expect(krux.map((d) => d.ts).sort()).toEqual([now - 20 * 86_400, now - 60, now].sort());
    expect(t.logs.filter((l) => l.includes('compat: krux has no host'))).toHaveLength(1);
    expect(dps(t).some((d) => d.name === 'puppet.fresh_example_com.resources.total')).toBe(false);
    expect(dps(t).some((d) => d.name === 'puppet.fresh_example_com.run.status.changed')).toBe(true);
  });

  it('a restart emits the reports written while stopped (state file), not just the newest', async () => {
    const rd = join(root, 'rd-resume');
    const stateDir = mkdtempSync(join(root, 'state-'));
    const now = Math.floor(Date.now() / 1000);
    const put = (host: string, ts: number, uuid: string): void => {
      mkdirSync(join(rd, host), { recursive: true });
      writeFileSync(join(rd, host, fileName(ts)), asOtherRun(seedText, host, ts, uuid));
    };
    for (let i = 0; i < 3; i++) put('r.example.com', now - 7200 + i * 60, `r-${i}`);
    put('s.example.com', now - 7000, 's-0');
    const first = testContext({ prefix: 'puppet', type: 'puppet_reports', stateDir });
    const a = puppetReports.create({ ...defaults(), reportdir: rd, settle: 50 }, first.ctx);
    if (!a.start) throw new Error('a service integration has start()');
    await a.start();
    await a.stop();
    expect(dps(first).filter((d) => d.name === 'puppet.r_example_com.resources.total').map((d) => d.ts)).toEqual([now - 7200 + 120]);
    // Saved through ctx.state (the envelope); a file as older versions wrote it (the bare
    // document) must still be resumed from, so write that one back.
    const stateFile = join(stateDir, 'puppet_reports-state.json');
    const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(saved).toMatchObject({ telltale_state: 1, type: 'puppet_reports', data: { version: 1, reportdir: rd } });
    writeFileSync(stateFile, JSON.stringify(saved.data));
    // Down for a while: three more runs of r, none of s.
    for (let i = 3; i < 6; i++) put('r.example.com', now - 7200 + i * 60, `r-${i}`);
    const second = testContext({ prefix: 'puppet', type: 'puppet_reports', stateDir });
    const b = puppetReports.create({ ...defaults(), reportdir: rd, settle: 50 }, second.ctx);
    await b.once();
    await b.stop();
    expect(dps(second).filter((d) => d.name === 'puppet.r_example_com.resources.total').map((d) => d.ts)).toEqual([3, 4, 5].map((i) => now - 7200 + i * 60));
    expect(counter(second, 'caught_up')).toBe(3);
    // s had nothing new: its newest is emitted again (same Graphite points) to seed the fleet gauges.
    expect(dps(second).filter((d) => d.name === 'puppet.s_example_com.resources.total').map((d) => d.ts)).toEqual([now - 7000]);
    expect(second.sink.gauges().get('puppet._fleet.hosts')).toBe(2);
    // A state file for another reportdir, or garbage, falls back to newest-per-host.
    writeFileSync(join(stateDir, 'puppet_reports-state.json'), '{not json');
    const third = testContext({ prefix: 'puppet', type: 'puppet_reports', stateDir });
    const c = puppetReports.create({ ...defaults(), reportdir: rd }, third.ctx);
    await c.once();
    await c.stop();
    expect(counter(third, 'errors.state')).toBe(1);
    expect(dps(third).filter((d) => d.name === 'puppet.r_example_com.resources.total').map((d) => d.ts)).toEqual([now - 7200 + 300]);
  });

  it('stop() is idempotent and safe before start', async () => {
    const t = testContext({ prefix: 'puppet', type: 'puppet_reports' });
    const inst = puppetReports.create({ ...defaults(), reportdir: join(root, 'nowhere') }, t.ctx);
    await inst.stop();
    await inst.stop();
  });
});
