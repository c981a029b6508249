/**
 * The host poller: one `once()` reads /proc (memory, cpu, load, processes, disk I/O, network),
 * statfs's the configured mounts, runs the command gauges, and feeds every gauge and every
 * kernel-counter delta through the threshold engine (alerting.ts).
 */
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigKeyError, type Integration, type IntegrationContext } from '../../shared/core/integration.js';
import { createLifecycle } from '../../shared/core/lifecycle.js';
import { createLogThrottle, LOG_EVERY_MS } from '../../shared/emitter/log-throttle.js';
import { sanitizeNode } from '../../shared/emitter/names.js';
import { createAlerting } from './alerting.js';
import { mountNode, resolveThreshold } from './metrics.js';
import { readNumberFile, runCommand, type NumberResult } from './commands.js';
import { validateHost, type CommandConfig, type HostConfig } from './config.js';
import { createDeltaTable, type DeltaTable } from './deltas.js';
import { CPU_MODES, DISK_FIELDS, DISK_SCALE, NET_FIELDS, parseDiskstats, parseLoadavg, parseMeminfo, parseNetDev, parseStat, type Parsed } from './proc.js';
import { createProcReader } from './reader.js';

/** Virtual block devices that only add noise to disk.io.* unless asked for by name. */
const VIRTUAL_DEVICES = /^(?:loop|ram|zram|fd|sr|nbd)\d+$/;

export function createHost(config: HostConfig, ctx: IntegrationContext): Integration {
  // The loader has run validateHost() already; a direct caller gets its first problem here
  // (a threshold's from resolveThreshold() below, with its path).
  for (const p of validateHost(config)) if (!p.atKey) throw new ConfigKeyError(p.path, p.message);
  const mountNodes = config.disks.map(mountNode);
  const commandNames = config.commands.map((c) => c.name);
  const rules = Object.entries(config.thresholds).map(([key, spec]) => resolveThreshold(key, spec, { mounts: config.disks, commands: commandNames }));

  const { emitter, log, clock, self } = ctx;
  const alerting = createAlerting(rules, config, ctx);
  const reader = createProcReader();
  const disks = createDeltaTable();
  const nets = createDeltaTable();
  const deviceAllowed = config.devices ? new Set(config.devices) : undefined;
  const ifaceAllowed = config.interfaces ? new Set(config.interfaces) : undefined;
  // Metric names per device/interface, built once: names repeat every second.
  const names = new Map<string, readonly string[]>();
  const statfsPending = new Set<string>();
  const commandState = new Map<string, { lastRun: number | undefined; running: boolean }>();
  /** A repeated failure is logged once a minute per key (it is counted every time). */
  const warnings = createLogThrottle(LOG_EVERY_MS, () => clock.now());
  const life = createLifecycle(ctx.signal, async () => {
    await alerting.stop();
  });
  let prevCpu: number[] | undefined;
  let inFlight: Promise<void> | undefined;
  let emitted = 0;

  const warnThrottled = (key: string, msg: string, fields?: Record<string, string | number>): void => {
    const held = warnings.pass(key);
    if (held !== undefined) log.warn(msg, { ...fields, ...(held > 0 ? { repeated: held } : {}) });
  };

  /** Count an error; log it at most once a minute per `logKey` (default: the counter). */
  const fail = (counter: string, msg: string, logKey = counter): void => {
    emitter.counter(counter);
    self.error('receiving');
    warnThrottled(logKey, msg);
  };

  const gauge = (name: string, value: number, now: number): void => {
    if (!Number.isFinite(value)) return;
    emitter.gauge(name, value);
    emitted++;
    alerting.observe(name, value, now);
  };

  /**
   * A kernel-counter delta goes out as a counter: statsd sums counters over its flush, while a
   * gauge would keep only the last sample of it (at 1 s sampling and a 10 s flush, 9 of 10
   * seconds of errors, drops and bytes would vanish). Thresholds still judge the one sample.
   */
  const delta = (name: string, value: number, now: number): void => {
    emitter.counter(name, value);
    emitted++;
    alerting.observe(name, value, now);
  };

  const readProc = (file: string, counter: string): string | undefined => {
    try {
      const text = reader.read(join(config.proc_root, file));
      self.received();
      return text;
    } catch (e) {
      fail(`errors.proc.${counter}`, `cannot read ${join(config.proc_root, file)}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  };

  const sampleMemory = (now: number): void => {
    const text = readProc('meminfo', 'meminfo');
    if (text === undefined) return;
    const m = parseMeminfo(text);
    if (!m) return fail('errors.proc.meminfo', 'meminfo: no MemTotal/MemFree lines');
    const used = m.totalBytes - m.availableBytes;
    gauge('memory.total', m.totalBytes, now);
    gauge('memory.used', used, now);
    gauge('memory.free', m.freeBytes, now);
    gauge('memory.available', m.availableBytes, now);
    gauge('memory.percent', (used / m.totalBytes) * 100, now);
  };

  const sampleStat = (now: number): void => {
    const text = readProc('stat', 'stat');
    if (text === undefined) return;
    const s = parseStat(text);
    if (!s) return fail('errors.proc.stat', 'stat: no aggregate cpu line');
    if (s.procsRunning !== undefined) gauge('procs.running', s.procsRunning, now);
    if (s.procsBlocked !== undefined) gauge('procs.blocked', s.procsBlocked, now);
    const prev = prevCpu;
    prevCpu = s.cpu;
    if (!prev) return;
    const d = s.cpu.map((v, i) => v - prev[i]!);
    // Jiffies never go backwards; if they did (a restored VM snapshot), skip this interval.
    if (d.some((x) => x < 0)) {
      emitter.counter('deltas.resets');
      return;
    }
    const total = d.reduce((a, b) => a + b, 0);
    if (total === 0) return;
    const idle = d[CPU_MODES.indexOf('idle')]! + d[CPU_MODES.indexOf('iowait')]!;
    gauge('cpu.percent', ((total - idle) / total) * 100, now);
    CPU_MODES.forEach((mode, i) => gauge(`cpu.${mode}`, (d[i]! / total) * 100, now));
  };

  const sampleLoad = (now: number): void => {
    const text = readProc('loadavg', 'loadavg');
    if (text === undefined) return;
    const l = parseLoadavg(text);
    if (!l) return fail('errors.proc.loadavg', 'loadavg: unexpected format');
    gauge('load.1', l.load1, now);
    gauge('load.5', l.load5, now);
    gauge('load.15', l.load15, now);
    gauge('procs.total', l.total, now);
  };

  const sampleCounters = (
    now: number,
    file: string,
    counter: string,
    parse: (text: string) => Parsed<number[]>,
    table: DeltaTable,
    allowed: (name: string) => boolean,
    base: string,
    fields: readonly string[],
    scale: readonly number[] | undefined,
  ): void => {
    const text = readProc(file, counter);
    if (text === undefined) return;
    const parsed = parse(text);
    if (parsed.bad > 0) fail(`errors.proc.${counter}`, `${file}: ${parsed.bad} line(s) in an unexpected format`);
    let resets = 0;
    for (const [name, values] of parsed.entries) {
      if (!allowed(name)) continue;
      const r = table.update(name, values);
      resets += r.resets;
      if (!r.deltas) continue;
      let metricNames = names.get(`${base}\u0000${name}`);
      if (!metricNames) {
        const node = sanitizeNode(name);
        metricNames = fields.map((f) => `${base}.${node}.${f}`);
        names.set(`${base}\u0000${name}`, metricNames);
      }
      r.deltas.forEach((d, i) => {
        if (d !== undefined) delta(metricNames[i]!, d * (scale?.[i] ?? 1), now);
      });
    }
    if (resets > 0) {
      emitter.counter('deltas.resets', resets);
      warnThrottled(`resets.${counter}`, `${file}: ${resets} counter(s) went backwards (device reset?); no delta for this interval`);
    }
    for (const gone of table.sweep()) {
      names.delete(`${base}\u0000${gone}`);
      alerting.forget(`${base}.${sanitizeNode(gone)}.`, now);
      log.info(`${file}: ${gone} disappeared; it starts from a new baseline if it returns`);
    }
  };

  const sampleMount = async (mount: string, node: string, now: number, deadlineMs: number): Promise<void> => {
    if (statfsPending.has(mount)) {
      return fail(`errors.statfs.${node}`, `statfs ${mount} from an earlier sample has still not returned (hung mount?)`, `stalled.${node}`);
    }
    statfsPending.add(mount);
    const pending = statfs(mount).finally(() => statfsPending.delete(mount));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
    try {
      const s = await Promise.race([pending, late]);
      if (s === 'late') {
        // Let it finish in the background; its result would be stale.
        pending.catch(() => undefined);
        return fail(`errors.statfs.${node}`, `statfs ${mount} took longer than ${deadlineMs}ms`);
      }
      self.received();
      const used = (s.blocks - s.bfree) * s.bsize;
      const free = s.bavail * s.bsize;
      gauge(`disk.size.${node}.used`, used, now);
      gauge(`disk.size.${node}.free`, free, now);
      if (used + free > 0) gauge(`disk.size.${node}.percent`, (used / (used + free)) * 100, now);
    } catch (e) {
      fail(`errors.statfs.${node}`, `statfs ${mount}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  };

  const sampleCommand = async (c: CommandConfig, now: number): Promise<void> => {
    let st = commandState.get(c.name);
    if (!st) commandState.set(c.name, (st = { lastRun: undefined, running: false }));
    if (st.running) return;
    if (c.interval !== undefined && st.lastRun !== undefined && now - st.lastRun < c.interval) return;
    st.running = true;
    st.lastRun = now;
    try {
      const r: NumberResult =
        c.command !== undefined
          ? await runCommand(c.command, c.timeout, life.signal)
          : await readNumberFile(c.file!, c.timeout, life.signal);
      if (r.ok) {
        self.received();
        gauge(`command.${c.name}`, r.value, clock.now());
      } else if (!life.stopped) {
        fail(`errors.command.${c.name}`, `command gauge ${c.name}: ${r.error}`);
      }
    } finally {
      st.running = false;
    }
  };

  const sample = async (): Promise<void> => {
    const now = clock.now();
    emitted = 0;
    sampleMemory(now);
    sampleStat(now);
    sampleLoad(now);
    sampleCounters(now, 'diskstats', 'diskstats', parseDiskstats, disks, (n) => (deviceAllowed ? deviceAllowed.has(n) : !VIRTUAL_DEVICES.test(n)), 'disk.io', DISK_FIELDS, DISK_SCALE);
    sampleCounters(now, 'net/dev', 'net_dev', parseNetDev, nets, (n) => (ifaceAllowed ? ifaceAllowed.has(n) : n !== 'lo'), 'net', NET_FIELDS, undefined);
    const deadline = Math.min(5000, Math.max(100, ctx.intervalMs));
    await Promise.all([
      ...config.disks.map((m, i) => sampleMount(m, mountNodes[i]!, now, deadline)),
      ...config.commands.map((c) => sampleCommand(c, now)),
    ]);
    alerting.report();
    self.emitted(emitted);
  };

  return {
    once() {
      if (life.stopped) return Promise.resolve();
      // The runtime never overlaps polls; a direct caller that does shares the running sample.
      inFlight ??= life.track(sample()).finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    stop: life.stop,
  };
}
