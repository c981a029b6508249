import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statfsSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { testContext, type TestContext } from '../../../test/helpers/context.js';
import type { Integration } from '../../../shared/core/integration.js';
import { host } from '../index.js';
import { diskLine, meminfo, netDev, procTree, type ProcTree } from './proc-tree.js';

function configOf(raw: Record<string, unknown>) {
  const r = validate(host.schema, raw);
  if ('issues' in r) throw new Error(`invalid test config: ${JSON.stringify(r.issues)}`);
  return r.value;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function start(raw: Record<string, unknown>, o: Parameters<typeof testContext>[0] = {}): { t: TestContext; h: Integration } {
  const t = testContext({ prefix: 'host', type: 'host', name: 'host', ...o });
  const h = host.create(configOf(raw), t.ctx);
  cleanups.push(() => h.stop());
  return { t, h };
}

function tree(): ProcTree {
  const p = procTree();
  cleanups.push(() => p.cleanup());
  return p;
}

/** Every gauge value emitted under a name, in order. */
function gaugeSeries(t: TestContext, name: string): number[] {
  return t.sink.samples.flatMap((s) => (s.kind === 'gauge' && s.name === name ? [s.value] : []));
}

/** Every counter increment emitted under a name, in order: one per sample for a kernel delta. */
function counterSeries(t: TestContext, name: string): number[] {
  return t.sink.samples.flatMap((s) => (s.kind === 'counter' && s.name === name ? [s.value] : []));
}

const isKernelDelta = (name: string): boolean => name.startsWith('host.disk.io.') || name.startsWith('host.net.');

describe('host on the real /proc of this machine', () => {
  it('emits sane memory, cpu, load, process and disk-size gauges, and non-negative deltas', async () => {
    const { t, h } = start({});
    // CPU percentages need two samples at least one jiffy apart: poll with a deadline.
    const deadline = Date.now() + 10_000;
    await h.once();
    while (!t.sink.gauges().has('host.cpu.percent') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      await h.once();
    }
    const g = t.sink.gauges();

    expect(g.get('host.memory.total')).toBe(totalmem());
    const used = g.get('host.memory.used')!;
    const available = g.get('host.memory.available')!;
    expect(used + available).toBe(totalmem());
    expect(g.get('host.memory.free')!).toBeGreaterThan(0);
    expect(g.get('host.memory.free')!).toBeLessThanOrEqual(available);
    expect(g.get('host.memory.percent')!).toBeCloseTo((used / totalmem()) * 100, 6);

    const cpu = g.get('host.cpu.percent')!;
    expect(cpu).toBeGreaterThanOrEqual(0);
    expect(cpu).toBeLessThanOrEqual(100);
    const modes = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'].map((m) => g.get(`host.cpu.${m}`)!);
    for (const m of modes) expect(m).toBeGreaterThanOrEqual(0);
    expect(modes.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 6);
    expect(cpu).toBeCloseTo(100 - g.get('host.cpu.idle')! - g.get('host.cpu.iowait')!, 6);

    const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
    for (const [i, n] of ['1', '5', '15'].entries()) {
      const v = g.get(`host.load.${n}`)!;
      expect(v).toBeGreaterThanOrEqual(0);
      // The kernel updates loadavg every 5 s; a just-read value can differ by that one update.
      expect(Math.abs(v - loadavg[i]!)).toBeLessThan(2);
    }
    // This very process was running while it read /proc/stat.
    expect(g.get('host.procs.running')!).toBeGreaterThanOrEqual(1);
    expect(g.get('host.procs.blocked')!).toBeGreaterThanOrEqual(0);
    expect(g.get('host.procs.total')!).toBeGreaterThan(1);

    const fs = statfsSync('/');
    const total = (fs.blocks - fs.bfree + fs.bavail) * fs.bsize;
    expect(g.get('host.disk.size.root.used')! + g.get('host.disk.size.root.free')!).toBeGreaterThan(total * 0.99);
    expect(g.get('host.disk.size.root.used')! + g.get('host.disk.size.root.free')!).toBeLessThan(total * 1.01);
    const pct = g.get('host.disk.size.root.percent')!;
    expect(pct).toBeGreaterThan(0);
    expect(pct).toBeLessThan(100);

    // Deltas: counters (never gauges) for the real devices and interfaces, never negative.
    const c = t.sink.counters();
    const dev = readFileSync('/proc/net/dev', 'utf8');
    const iface = /^\s*([^:\s]+):/m.exec(dev.split('\n').slice(2).filter((l) => !/^\s*lo:/.test(l)).join('\n'))?.[1];
    const deltaNames = [...c.keys()].filter(isKernelDelta);
    expect(deltaNames.length).toBeGreaterThan(0);
    expect([...g.keys()].filter(isKernelDelta)).toEqual([]);
    if (iface) expect(c.has(`host.net.${iface}.in.bytes`)).toBe(true);
    expect(c.has('host.net.lo.in.bytes')).toBe(false);
    expect([...c.keys()].some((n) => /^host\.disk\.io\.loop\d/.test(n))).toBe(false);
    for (const s of t.sink.samples) {
      if (s.kind === 'counter' && isKernelDelta(s.name)) expect(s.value, s.name).toBeGreaterThanOrEqual(0);
    }
    // No errors of any kind on a healthy machine.
    // (net.<iface>.*.errors are the kernel's counts of network errors, not ours.)
    expect([...t.sink.counters().keys()].filter((k) => k.includes('errors') && !isKernelDelta(k))).toEqual([]);
    expect(t.sink.counters().get('telltale.host.host.received')!).toBeGreaterThan(0);
    expect(t.sink.counters().get('telltale.host.host.emitted')!).toBeGreaterThan(0);
  });

  it('reports each configured mount under its own node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telltale-mnt-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { t, h } = start({ disks: ['/', '/proc', dir] });
    await h.once();
    const g = t.sink.gauges();
    expect(g.has('host.disk.size.root.percent')).toBe(true);
    // procfs has no blocks: used and free are 0, and there is no percent to report.
    expect(g.get('host.disk.size.proc.used')).toBe(0);
    expect(g.has('host.disk.size.proc.percent')).toBe(false);
    const node = dir.replace(/^\/+/, '').replace(/[^A-Za-z0-9_-]+/g, '_');
    expect(g.has(`host.disk.size.${node}.free`)).toBe(true);
  });

  it('counts and logs a mount that does not exist, and still reports the others', async () => {
    const { t, h } = start({ disks: ['/', '/no/such/mount'] });
    await h.once();
    expect(t.sink.counters().get('host.errors.statfs.no_such_mount')).toBe(1);
    expect(t.sink.gauges().has('host.disk.size.root.used')).toBe(true);
    expect(t.logs.join('')).toMatch(/statfs \/no\/such\/mount: .*ENOENT/);
  });
});

/**
 * A real hung mount: a FUSE file system whose server (this test) never answers the kernel's INIT,
 * so every statfs on it blocks, as on a dead NFS server. Needs root and /dev/fuse.
 */
function hungMount(): { dir: string; release(): void } | string {
  if (process.getuid?.() !== 0) return 'not root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  const dir = mkdtempSync(join(tmpdir(), 'telltale-hung-'));
  const fd = openSync('/dev/fuse', 'r+');
  const r = spawnSync('mount', ['-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'telltale-hung', dir], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8' });
  if (r.status !== 0) {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    return `mount -t fuse failed: ${r.stderr || r.error?.message}`;
  }
  let released = false;
  return {
    dir,
    release() {
      if (released) return;
      released = true;
      // Detach, then close our end: the kernel fails the blocked statfs with ENOTCONN.
      spawnSync('umount', ['-l', dir]);
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('host with a hung mount', () => {
  it('reports a statfs that does not return as an error and keeps sampling everything else', async () => {
    const m = hungMount();
    if (typeof m === 'string') {
      process.stderr.write(`\n!!! SKIPPING the hung-mount test: ${m}\n\n`);
      return;
    }
    cleanups.push(() => m.release());
    const node = m.dir.replace(/^\/+/, '').replace(/[^A-Za-z0-9_-]+/g, '_');
    const { t, h } = start({ disks: ['/', m.dir] }, { intervalMs: 100 });
    await h.once();
    await h.once();
    await h.once();
    // First sample: cut off at the deadline; later ones: the earlier call is still stuck.
    expect(t.sink.counters().get(`host.errors.statfs.${node}`)).toBe(3);
    expect(gaugeSeries(t, 'host.disk.size.root.used')).toHaveLength(3);
    expect(gaugeSeries(t, 'host.memory.total')).toHaveLength(3);
    expect(t.sink.gauges().has(`host.disk.size.${node}.used`)).toBe(false);
    const logs = t.logs.join('');
    expect(logs).toMatch(new RegExp(`statfs ${m.dir} took longer than 100ms`));
    // Each kind of failure is logged once a minute, however often it is counted.
    expect(logs.match(/has still not returned \(hung mount\?\)/g)).toHaveLength(1);
  });
});

describe('host on fixture /proc trees', () => {
  it('turns counters into per-interval deltas and handles a 32-bit wrap', async () => {
    const p = tree();
    const { t, h } = start({ proc_root: p.root, disks: [] });
    const near = 2 ** 32 - 100;
    p.write('diskstats', [diskLine('sda', { reads: 10, sectorsRead: near, msRead: near, writes: 5, sectorsWritten: 8, msWrite: 1 }), ''].join('\n'));
    p.write('net/dev', netDev({ eth0: { rxBytes: near, txBytes: 1000, rxErrs: 1 } }));
    await h.once();
    // First sight is only a baseline.
    expect(t.sink.samples.filter((s) => isKernelDelta(s.name))).toEqual([]);

    p.write('diskstats', [diskLine('sda', { reads: 13, sectorsRead: 60, msRead: 20, writes: 5, sectorsWritten: 16, msWrite: 4 }), ''].join('\n'));
    p.write('net/dev', netDev({ eth0: { rxBytes: 400, txBytes: 1500, rxErrs: 3 } }));
    await h.once();
    // One increment per metric for the one interval (zeros too: a quiet interval is a value).
    expect(counterSeries(t, 'host.disk.io.sda.read.ops')).toEqual([3]);
    // The sector counter wrapped: 100 sectors to the top plus 60 after it, 512 bytes each.
    expect(counterSeries(t, 'host.disk.io.sda.read.bytes')).toEqual([160 * 512]);
    expect(counterSeries(t, 'host.disk.io.sda.read.time')).toEqual([120]);
    expect(counterSeries(t, 'host.disk.io.sda.write.ops')).toEqual([0]);
    expect(counterSeries(t, 'host.disk.io.sda.write.bytes')).toEqual([8 * 512]);
    expect(counterSeries(t, 'host.disk.io.sda.write.time')).toEqual([3]);
    expect(counterSeries(t, 'host.net.eth0.in.bytes')).toEqual([500]);
    expect(counterSeries(t, 'host.net.eth0.out.bytes')).toEqual([500]);
    expect(counterSeries(t, 'host.net.eth0.in.errors')).toEqual([2]);
    expect(counterSeries(t, 'host.net.eth0.out.dropped')).toEqual([0]);
    expect(t.sink.samples.filter((s) => isKernelDelta(s.name) && s.kind !== 'counter')).toEqual([]);
    expect(t.sink.counters().get('host.deltas.resets')).toBeUndefined();
  });

  it('treats a counter that goes backwards (not a wrap) as a reset: no delta, counted', async () => {
    const p = tree();
    const { t, h } = start({ proc_root: p.root, disks: [] });
    p.write('net/dev', netDev({ eth0: { rxBytes: 5_000_000, txBytes: 9_000_000_000 } }));
    await h.once();
    p.write('net/dev', netDev({ eth0: { rxBytes: 10, txBytes: 9_000_000_700 } }));
    await h.once();
    expect(counterSeries(t, 'host.net.eth0.in.bytes')).toEqual([]);
    expect(counterSeries(t, 'host.net.eth0.out.bytes')).toEqual([700]);
    expect(t.sink.counters().get('host.deltas.resets')).toBe(1);
    p.write('net/dev', netDev({ eth0: { rxBytes: 25, txBytes: 9_000_000_800 } }));
    await h.once();
    expect(counterSeries(t, 'host.net.eth0.in.bytes')).toEqual([15]);
    expect(t.logs.join('')).toMatch(/went backwards/);
  });

  it('forgets a device that disappears and gives it a fresh baseline when it returns', async () => {
    const p = tree();
    const { t, h } = start({ proc_root: p.root, disks: [] });
    const disks = (sdb?: number): string =>
      [diskLine('sda', { reads: 100 }), ...(sdb === undefined ? [] : [diskLine('sdb', { reads: sdb })]), ''].join('\n');
    p.write('diskstats', disks(1000));
    await h.once();
    p.write('diskstats', disks(1010));
    await h.once();
    expect(counterSeries(t, 'host.disk.io.sdb.read.ops')).toEqual([10]);

    p.write('diskstats', disks(undefined));
    await h.once();
    expect(counterSeries(t, 'host.disk.io.sdb.read.ops')).toEqual([10]);
    expect(t.logs.join('')).toMatch(/sdb disappeared/);

    // Back with counters restarted from 0: first sight is a baseline, not a bogus wrap or reset.
    p.write('diskstats', disks(3));
    await h.once();
    expect(counterSeries(t, 'host.disk.io.sdb.read.ops')).toEqual([10]);
    p.write('diskstats', disks(7));
    await h.once();
    expect(counterSeries(t, 'host.disk.io.sdb.read.ops')).toEqual([10, 4]);
    expect(t.sink.counters().get('host.deltas.resets')).toBeUndefined();
    // sda kept going through all of it.
    expect(counterSeries(t, 'host.disk.io.sda.read.ops')).toEqual([0, 0, 0, 0]);
  });

  it('skips virtual devices and lo by default, and honours explicit devices/interfaces lists', async () => {
    const p = tree();
    const disks = (n: number): string => [diskLine('loop0', { reads: n }), diskLine('vda', { reads: n }), diskLine('zram0', { reads: n }), ''].join('\n');
    const nets = (n: number): string => netDev({ lo: { rxBytes: n }, eth0: { rxBytes: n }, eth1: { rxBytes: n } });
    p.write('diskstats', disks(1));
    p.write('net/dev', nets(1));
    const a = start({ proc_root: p.root, disks: [] });
    const b = start({ proc_root: p.root, disks: [], devices: ['loop0'], interfaces: ['lo', 'eth1'] });
    await a.h.once();
    await b.h.once();
    p.write('diskstats', disks(2));
    p.write('net/dev', nets(2));
    await a.h.once();
    await b.h.once();
    const names = (t: TestContext): string[] => [...t.sink.counters().keys()].filter((n) => /^host\.(disk\.io|net)\./.test(n) && n.endsWith('.ops') || n.endsWith('in.bytes')).sort();
    expect(names(a.t)).toEqual(['host.disk.io.vda.read.ops', 'host.disk.io.vda.write.ops', 'host.net.eth0.in.bytes', 'host.net.eth1.in.bytes']);
    expect(names(b.t)).toEqual(['host.disk.io.loop0.read.ops', 'host.disk.io.loop0.write.ops', 'host.net.eth1.in.bytes', 'host.net.lo.in.bytes']);
  });

  it('counts a malformed line without losing the rest of the file', async () => {
    const p = tree();
    const { t, h } = start({ proc_root: p.root, disks: [] });
    p.write('diskstats', [diskLine('sda', { reads: 1 }), '   8 1 sdz garbage', ''].join('\n'));
    await h.once();
    p.write('diskstats', [diskLine('sda', { reads: 4 }), '   8 1 sdz garbage', ''].join('\n'));
    await h.once();
    expect(counterSeries(t, 'host.disk.io.sda.read.ops')).toEqual([3]);
    expect(t.sink.counters().get('host.errors.proc.diskstats')).toBe(2);
    expect(t.sink.counters().get('telltale.host.host.errors.receiving')).toBe(2);
    // Logged once, not once per sample.
    expect(t.logs.filter((l) => l.includes('unexpected format'))).toHaveLength(1);
  });

  it('keeps sampling the other files when one is missing', async () => {
    const p = tree();
    p.remove('net/dev');
    p.write('meminfo', meminfo(42));
    const { t, h } = start({ proc_root: p.root, disks: [] });
    await h.once();
    expect(t.sink.counters().get('host.errors.proc.net_dev')).toBe(1);
    expect(t.sink.gauges().get('host.memory.percent')).toBeCloseTo(42, 3);
    expect(t.sink.gauges().get('host.load.1')).toBeGreaterThanOrEqual(0);
    expect(t.logs.join('')).toMatch(/cannot read .*net\/dev.*ENOENT/);
  });

  it('computes cpu percentages from /proc/stat deltas', async () => {
    const p = tree();
    const { t, h } = start({ proc_root: p.root, disks: [] });
    const stat = (user: number, system: number, idle: number, iowait: number): string =>
      `cpu  ${user} 0 ${system} ${idle} ${iowait} 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\nprocs_running 3\nprocs_blocked 1\n`;
    p.write('stat', stat(100, 50, 1000, 10));
    await h.once();
    expect(t.sink.gauges().has('host.cpu.percent')).toBe(false);
    p.write('stat', stat(130, 60, 1050, 20));
    await h.once();
    const g = t.sink.gauges();
    // 100 jiffies: 30 user + 10 system busy; 50 idle + 10 iowait not.
    expect(g.get('host.cpu.percent')).toBeCloseTo(40, 9);
    expect(g.get('host.cpu.user')).toBeCloseTo(30, 9);
    expect(g.get('host.cpu.iowait')).toBeCloseTo(10, 9);
    expect(g.get('host.procs.running')).toBe(3);
    expect(g.get('host.procs.blocked')).toBe(1);
  });
});

describe('command gauges', () => {
  it('turns a command or file that prints one number into a gauge', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telltale-cmd-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'rows'), '17\n');
    const { t, h } = start({
      disks: [],
      commands: [
        { name: 'queue.pending', command: 'echo "  42.5 "' },
        { name: 'rows', file: join(dir, 'rows') },
      ],
    });
    await h.once();
    expect(t.sink.gauges().get('host.command.queue.pending')).toBe(42.5);
    expect(t.sink.gauges().get('host.command.rows')).toBe(17);
  });

  it('counts and logs output that is not a single number, a failing command and a missing file', async () => {
    const { t, h } = start({
      disks: [],
      commands: [
        { name: 'words', command: 'echo twelve' },
        { name: 'two', command: 'echo 1 2' },
        { name: 'fails', command: 'echo oops >&2; exit 3' },
        { name: 'nofile', file: '/no/such/file' },
      ],
    });
    await h.once();
    const c = t.sink.counters();
    expect(c.get('host.errors.command.words')).toBe(1);
    expect(c.get('host.errors.command.two')).toBe(1);
    expect(c.get('host.errors.command.fails')).toBe(1);
    expect(c.get('host.errors.command.nofile')).toBe(1);
    expect([...t.sink.gauges().keys()].filter((k) => k.startsWith('host.command.'))).toEqual([]);
    const logs = t.logs.join('');
    expect(logs).toContain('command gauge words: not a single number: "twelve"');
    expect(logs).toContain('command gauge two: not a single number: "1 2"');
    expect(logs).toContain('command gauge fails: exit status 3: oops');
    expect(logs).toMatch(/command gauge nofile: .*ENOENT/);
  });

  it('kills a command that times out, with its whole process group, and the sample still completes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'telltale-cmd-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pid');
    const { t, h } = start({
      disks: [],
      commands: [
        // The grandchild holds stdout open: without a group kill and our own timer this would hang.
        { name: 'slow', command: `sleep 30 & echo $! > ${pidFile}; wait`, timeout: '300ms' },
        { name: 'fast', command: 'echo 1' },
      ],
    });
    await h.once();
    expect(t.sink.counters().get('host.errors.command.slow')).toBe(1);
    expect(t.sink.gauges().get('host.command.fast')).toBe(1);
    expect(t.logs.join('')).toContain('command gauge slow: timed out after 300ms');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const alive = (): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const deadline = Date.now() + 5000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(alive()).toBe(false);
  });

  it('runs a command at most every `interval`', async () => {
    let now = 1_000_000;
    const dir = mkdtempSync(join(tmpdir(), 'telltale-cmd-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const counterFile = join(dir, 'runs');
    const { t, h } = start({ disks: [], commands: [{ name: 'runs', command: `echo x >> ${counterFile}; wc -l < ${counterFile}`, interval: '10s' }] }, { now: () => now });
    await h.once();
    now += 5000;
    await h.once();
    now += 5000;
    await h.once();
    expect(gaugeSeries(t, 'host.command.runs')).toEqual([1, 2]);
  });
});

describe('configuration', () => {
  it('rejects a threshold on a metric the host integration does not emit, naming the key', () => {
    const t = testContext();
    const create = (thresholds: Record<string, unknown>, extra: Record<string, unknown> = {}) => () => host.create(configOf({ thresholds, ...extra }), t.ctx);
    // Catalogue typos are schema issues (see below); create() still refuses them when handed a
    // config that did not go through the schema.
    const unchecked = (key: string) => () => host.create({ ...configOf({}), thresholds: { [key]: { direction: 'above', value: 1, clear: undefined, holdMs: 0 } } }, t.ctx);
    expect(unchecked('memory.percnt')).toThrow(/^thresholds\.memory\.percnt: .*did you mean "memory\.percent"/);
    expect(unchecked('host.memory.percent')).toThrow(/thresholds\.host\.memory\.percent: .*drop "host\."/);
    expect(unchecked('alerts.fired')).toThrow(/thresholds\.alerts\.fired: alerts\.fired is a counter/);
    // Of the counters, only the kernel deltas (disk.io.*, net.*) can be watched, sample by sample.
    expect(unchecked('deltas.resets')).toThrow(/thresholds\.deltas\.resets: deltas\.resets is a counter; thresholds apply to gauges and to the per-sample disk\.io\.\*\/net\.\* deltas/);
    expect(unchecked('disk.io.write.time')).not.toThrow();
    expect(unchecked('net.eth0.out.errors')).not.toThrow();
    // Keys that depend on sibling settings can only be checked in create().
    expect(create({ 'disk.size.var.percent': 90 })).toThrow(/thresholds\.disk\.size\.var\.percent: no configured disk is named "var"/);
    expect(create({ 'command.queue': 5 })).toThrow(/thresholds\.command\.queue: no commands are configured/);
    expect(create({ 'command.queu': 5 }, { commands: [{ name: 'queue', command: 'echo 1' }] })).toThrow(/did you mean "command\.queue"/);
    expect(create({ 'memory.percent': 80, 'disk.size.percent': 90, load: 20, 'disk.size.root.percent': 95, 'net.in.errors': 1, 'net.eth0.in.dropped': 1, 'cpu.iowait': 50, 'load.15': 4 })).not.toThrow();
    expect(create({ 'command.queue.pending': 20000 }, { commands: [{ name: 'queue.pending', command: 'echo 1' }] })).not.toThrow();
  });

  it('rejects duplicate mount nodes and command names', () => {
    const t = testContext();
    expect(() => host.create(configOf({ disks: ['/var/log', '/var_log'] }), t.ctx)).toThrow(/^disks\.1: .*"var_log"/);
    expect(() => host.create(configOf({ commands: [{ name: 'a', command: 'echo 1' }, { name: 'a', file: '/x' }] }), t.ctx)).toThrow(/^commands\.1\.name: .*"a"/);
  });

  it('reports schema problems by path', () => {
    const issues = (raw: unknown): string[] => {
      const r = validate(host.schema, raw);
      return 'issues' in r ? r.issues.map((i) => `${i.path.join('.')}: ${i.message}`) : [];
    };
    expect(issues({ thresholds: { 'memory.percent': { above: 80, below: 10 } } })).toEqual(['thresholds.memory.percent: give exactly one of above or below']);
    expect(issues({ thresholds: { 'memory.percent': { above: 80, clear: 90 } } })).toEqual(['thresholds.memory.percent: clear (90) must not be above the "above" value (80)']);
    expect(issues({ thresholds: { load: 'lots' } })).toEqual(['thresholds.load: expected a number, or a mapping with above or below (and optional clear, hold), got string']);
    expect(issues({ thresholds: { load: { above: 3, hodl: '5s' } } })[0]).toMatch(/^thresholds\.load\.hodl: unknown key \(did you mean "hold"\?\)/);
    expect(issues({ commands: [{ name: 'x', command: 'a', file: 'b' }] })).toEqual(['commands.0: give exactly one of command or file']);
    expect(issues({ commands: [{ name: 'bad name', command: 'a' }] })[0]).toMatch(/^commands\.0\.name: expected a metric name/);
    expect(issues({ alerts: [{ type: 'webhook' }] })).toEqual(['alerts.0.url: required: expected a string']);
    expect(issues({ alerts: [{ type: 'email' }] })).toEqual(['alerts.0.type: expected one of log, webhook, got string "email"']);
    expect(issues({ disks: ['var'] })[0]).toMatch(/^disks\.0: expected an absolute mount point/);
    // Catalogue typos are caught by the schema, so the loader can point at the key's line.
    expect(issues({ thresholds: { 'memory.percnt': 80, load: 20 } })).toEqual([
      expect.stringMatching(/^thresholds\.memory\.percnt: the host integration emits no metric "memory\.percnt" \(did you mean "memory\.percent"\?\); thresholds can watch load, memory\.\{total,used,free,available,percent\}, cpu\.\{percent,user,/),
    ]);
    // The plain-number and mapping forms parse to the same rule.
    const ok = validate(host.schema, { thresholds: { load: 20, 'memory.percent': { above: 80, clear: 70, hold: '30s' }, 'disk.size.free': { below: 1e9 } } });
    expect('value' in ok && ok.value.thresholds).toEqual({
      load: { direction: 'above', value: 20, clear: undefined, holdMs: 0 },
      'memory.percent': { direction: 'above', value: 80, clear: 70, holdMs: 30_000 },
      'disk.size.free': { direction: 'below', value: 1e9, clear: undefined, holdMs: 0 },
    });
  });
});
