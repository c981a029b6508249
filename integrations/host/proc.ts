/**
 * Pure parsers for the /proc files the host integration samples. No IO here: the sampler reads
 * the text (with a reused buffer) and hands it over, so fixtures can exercise every branch.
 *
 * Each parser returns what it understood plus a count of lines it could not read, so a kernel
 * format change shows up as a counted error instead of silently missing gauges.
 */

export interface Meminfo {
  totalBytes: number;
  freeBytes: number;
  /** MemAvailable, or MemFree + Buffers + Cached on kernels older than 3.14 that lack it. */
  availableBytes: number;
}

/** /proc/meminfo: values are in kB (really KiB). */
export function parseMeminfo(text: string): Meminfo | undefined {
  const kb = (key: string): number | undefined => {
    const at = text.indexOf(`\n${key}:`);
    const start = at === -1 ? (text.startsWith(`${key}:`) ? 0 : -1) : at + 1;
    if (start === -1) return undefined;
    const m = /^[^:]+:\s*(\d+)/.exec(text.slice(start, start + 64));
    return m ? Number(m[1]) : undefined;
  };
  const total = kb('MemTotal');
  const free = kb('MemFree');
  if (total === undefined || free === undefined || total === 0) return undefined;
  const available = kb('MemAvailable') ?? free + (kb('Buffers') ?? 0) + (kb('Cached') ?? 0);
  return { totalBytes: total * 1024, freeBytes: free * 1024, availableBytes: available * 1024 };
}

/** The aggregate `cpu` line's modes, in /proc/stat order (guest time is already inside user). */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

export interface Stat {
  /** Jiffies per mode since boot, indexed like CPU_MODES (missing trailing modes are 0). */
  cpu: number[];
  procsRunning: number | undefined;
  procsBlocked: number | undefined;
}

/** /proc/stat: only the aggregate cpu line and the procs_* lines are needed. */
export function parseStat(text: string): Stat | undefined {
  // The file starts with "cpu  " (two spaces); per-CPU lines are "cpu0 ".
  if (!text.startsWith('cpu ')) return undefined;
  const eol = text.indexOf('\n');
  const fields = text.slice(4, eol === -1 ? undefined : eol).trim().split(/\s+/);
  if (fields.length < 4) return undefined;
  const cpu: number[] = [];
  for (let i = 0; i < CPU_MODES.length; i++) {
    const n = Number(fields[i] ?? 0);
    if (!Number.isFinite(n) || n < 0) return undefined;
    cpu.push(n);
  }
  return { cpu, procsRunning: statLine(text, 'procs_running'), procsBlocked: statLine(text, 'procs_blocked') };
}

function statLine(text: string, key: string): number | undefined {
  const at = text.indexOf(`\n${key} `);
  if (at === -1) return undefined;
  const m = /^\s*(\d+)/.exec(text.slice(at + key.length + 2, at + key.length + 24));
  return m ? Number(m[1]) : undefined;
}

export interface Loadavg {
  load1: number;
  load5: number;
  load15: number;
  /** Kernel scheduling entities (processes + threads) that exist. */
  total: number;
}

/** /proc/loadavg: "0.52 0.58 0.59 2/345 12345". */
export function parseLoadavg(text: string): Loadavg | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+\d+\/(\d+)/.exec(text);
  if (!m) return undefined;
  return { load1: Number(m[1]), load5: Number(m[2]), load15: Number(m[3]), total: Number(m[4]) };
}

/** Per-device counters from /proc/diskstats, in this order. */
export const DISK_FIELDS = ['read.ops', 'read.bytes', 'read.time', 'write.ops', 'write.bytes', 'write.time'] as const;
/**
 * What one unit of each raw diskstats counter is worth. The bytes fields are kept in sectors
 * until after the delta, because the kernel's counter (which may wrap) counts sectors; sectors
 * are always 512 bytes there, whatever the device's real sector size
 * (Documentation/admin-guide/iostats.rst).
 */
export const DISK_SCALE: readonly number[] = [1, 512, 1, 1, 512, 1];

export interface Parsed<T> {
  entries: Map<string, T>;
  /** Lines that did not have the expected shape. */
  bad: number;
}

/**
 * /proc/diskstats: "major minor name reads merged sectors ms writes merged sectors ms …".
 * Values are raw counters (sectors, not bytes): see DISK_SCALE.
 */
export function parseDiskstats(text: string): Parsed<number[]> {
  const entries = new Map<string, number[]>();
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    const name = f[2];
    if (name === undefined || f.length < 14) {
      bad++;
      continue;
    }
    const reads = Number(f[3]);
    const sectorsRead = Number(f[5]);
    const msReading = Number(f[6]);
    const writes = Number(f[7]);
    const sectorsWritten = Number(f[9]);
    const msWriting = Number(f[10]);
    const values = [reads, sectorsRead, msReading, writes, sectorsWritten, msWriting];
    if (!values.every((v) => Number.isFinite(v) && v >= 0)) {
      bad++;
      continue;
    }
    entries.set(name, values);
  }
  return { entries, bad };
}

/** Per-interface counters from /proc/net/dev, in this order. */
export const NET_FIELDS = [
  'in.bytes',
  'in.packets',
  'in.errors',
  'in.dropped',
  'out.bytes',
  'out.packets',
  'out.errors',
  'out.dropped',
] as const;

/**
 * /proc/net/dev: two header lines, then "  eth0: rxbytes rxpackets errs drop fifo frame
 * compressed multicast txbytes txpackets errs drop …". Large counters can run into the colon
 * ("eth0:307864620"), so split on the colon, not on whitespace.
 */
export function parseNetDev(text: string): Parsed<number[]> {
  const entries = new Map<string, number[]>();
  let bad = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) {
      // The two header lines contain '|' and no colon; anything else without one is unexpected.
      if (line.trim() !== '' && !line.includes('|')) bad++;
      continue;
    }
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (name === '' || f.length < 12) {
      bad++;
      continue;
    }
    const values = [f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11]].map(Number);
    if (!values.every((v) => Number.isFinite(v) && v >= 0)) {
      bad++;
      continue;
    }
    entries.set(name, values);
  }
  return { entries, bad };
}
