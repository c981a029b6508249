/**
 * Every metric the host integration emits, and the rules that map a threshold key onto them.
 * The README table and the threshold validation both come from this one list, so a metric
 * cannot be emitted without being documented or thresholdable without existing.
 */
import { ConfigKeyError, type MetricDoc } from '../../shared/core/integration.js';
import { closest } from '../../shared/core/config/schema.js';
import { CPU_MODES } from './proc.js';

const cpuModes: MetricDoc[] = CPU_MODES.map((mode) => ({
  name: `cpu.${mode}`,
  type: 'gauge',
  unit: 'percent',
  description: `Share of all CPUs' time spent in ${mode} during the last interval.`,
}));

/**
 * disk.io.* and net.*: the increase of a kernel counter since the previous sample, emitted as a
 * counter. statsd (or the graphite sink) sums counters over each flush, so every sample counts;
 * a gauge would keep only the last sample of a flush (9 of 10 one-second deltas lost at the
 * default 10 s flush). Thresholds still see each sample's delta, before any summing.
 */
const kernelDelta = (name: string, unit: string, what: string): MetricDoc => ({
  name,
  type: 'counter',
  unit,
  description: `${what} (each sample adds the increase since the previous one).`,
});

const kernelDeltas: MetricDoc[] = [
  kernelDelta('disk.io.<device>.read.ops', 'count', 'Reads completed'),
  kernelDelta('disk.io.<device>.read.bytes', 'bytes', 'Bytes read'),
  kernelDelta('disk.io.<device>.read.time', 'ms', 'Milliseconds spent reading (summed over requests)'),
  kernelDelta('disk.io.<device>.write.ops', 'count', 'Writes completed'),
  kernelDelta('disk.io.<device>.write.bytes', 'bytes', 'Bytes written'),
  kernelDelta('disk.io.<device>.write.time', 'ms', 'Milliseconds spent writing (summed over requests)'),
  kernelDelta('net.<interface>.in.bytes', 'bytes', 'Bytes received'),
  kernelDelta('net.<interface>.in.packets', 'count', 'Packets received'),
  kernelDelta('net.<interface>.in.errors', 'count', 'Receive errors'),
  kernelDelta('net.<interface>.in.dropped', 'count', 'Received packets dropped'),
  kernelDelta('net.<interface>.out.bytes', 'bytes', 'Bytes sent'),
  kernelDelta('net.<interface>.out.packets', 'count', 'Packets sent'),
  kernelDelta('net.<interface>.out.errors', 'count', 'Transmit errors'),
  kernelDelta('net.<interface>.out.dropped', 'count', 'Outgoing packets dropped'),
];

const kernelDeltaNames: ReadonlySet<string> = new Set(kernelDeltas.map((m) => m.name));

export const hostMetrics: readonly MetricDoc[] = [
  { name: 'memory.total', type: 'gauge', unit: 'bytes', description: 'Physical memory (MemTotal).' },
  { name: 'memory.used', type: 'gauge', unit: 'bytes', description: 'Memory in use: MemTotal − MemAvailable (what procps `free` reports as used).' },
  { name: 'memory.free', type: 'gauge', unit: 'bytes', description: 'Memory not used for anything (MemFree).' },
  { name: 'memory.available', type: 'gauge', unit: 'bytes', description: 'Memory available to new work without swapping (MemAvailable).' },
  { name: 'memory.percent', type: 'gauge', unit: 'percent', description: 'memory.used / memory.total × 100.' },
  { name: 'cpu.percent', type: 'gauge', unit: 'percent', description: 'Share of all CPUs busy (not idle, not iowait) during the last interval.' },
  ...cpuModes,
  { name: 'load.1', type: 'gauge', unit: 'count', description: '1-minute load average (threshold key `load` is an alias).' },
  { name: 'load.5', type: 'gauge', unit: 'count', description: '5-minute load average.' },
  { name: 'load.15', type: 'gauge', unit: 'count', description: '15-minute load average.' },
  { name: 'procs.running', type: 'gauge', unit: 'count', description: 'Runnable tasks (/proc/stat procs_running).' },
  { name: 'procs.blocked', type: 'gauge', unit: 'count', description: 'Tasks blocked on I/O (/proc/stat procs_blocked).' },
  { name: 'procs.total', type: 'gauge', unit: 'count', description: 'Processes and threads that exist (/proc/loadavg).' },
  { name: 'disk.size.<mount>.used', type: 'gauge', unit: 'bytes', description: 'Used bytes on the file system at <mount> ("/" is `root`, "/var/log" is `var_log`).' },
  { name: 'disk.size.<mount>.free', type: 'gauge', unit: 'bytes', description: 'Bytes available to unprivileged users (like df "Avail").' },
  { name: 'disk.size.<mount>.percent', type: 'gauge', unit: 'percent', description: 'used / (used + free) × 100, as df computes Use%.' },
  ...kernelDeltas,
  { name: 'command.<name>', type: 'gauge', unit: '1', description: 'The number printed by a configured command or file.' },
  { name: 'alerts.fired', type: 'counter', unit: 'count', description: 'Threshold crossings that raised an alert.' },
  { name: 'alerts.recovered', type: 'counter', unit: 'count', description: 'Alerts that recovered.' },
  { name: 'alerts.active', type: 'gauge', unit: 'count', description: 'Alerts currently firing.' },
  { name: 'alerts.webhook.sent', type: 'counter', unit: 'count', description: 'Alerts delivered to a webhook (2xx).' },
  { name: 'alerts.webhook.retries', type: 'counter', unit: 'count', description: 'Webhook delivery attempts that failed and were retried.' },
  { name: 'alerts.webhook.failed', type: 'counter', unit: 'count', description: 'Alerts given up on after the last retry (or a non-retryable 4xx).' },
  { name: 'alerts.webhook.dropped', type: 'counter', unit: 'count', description: 'Alerts dropped because the webhook queue was full or the instance stopped.' },
  { name: 'deltas.resets', type: 'counter', unit: 'count', description: 'Kernel counters that went backwards (not a 32-bit wrap), so no delta was reported.' },
  { name: 'errors.proc.<file>', type: 'counter', unit: 'count', description: 'Unreadable /proc files or lines (meminfo, stat, loadavg, diskstats, net_dev).' },
  { name: 'errors.statfs.<mount>', type: 'counter', unit: 'count', description: 'Failed or stalled statfs of a configured mount.' },
  { name: 'errors.command.<name>', type: 'counter', unit: 'count', description: 'Command gauges that failed, timed out or did not print a single number.' },
];

/** The metric node for a mount point: "/" → root, "/var/log" → var_log. */
export function mountNode(mount: string): string {
  const trimmed = mount.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? 'root' : trimmed.replace(/[^A-Za-z0-9_-]+/g, '_');
}

/** Threshold keys that are shorthands for a concrete metric. */
const ALIASES: Record<string, string> = { load: 'load.1' };

/** A threshold after parsing: the plain-number form means `{ above: N }`. */
export interface ThresholdSpec {
  direction: 'above' | 'below';
  /** Fires when the value goes strictly past this. */
  value: number;
  /**
   * Recovers when the value comes back to this (hysteresis). Undefined: 5 % of |value| back from
   * the threshold, so a value hovering at the line does not flap.
   */
  clear: number | undefined;
  /** The condition must hold this long before firing, and recovery this long before recovering. */
  holdMs: number;
}

export interface ThresholdRule extends ThresholdSpec {
  /** The key as written in the config. */
  key: string;
  /** Does this rule watch the (prefix-relative) metric? */
  matches(metric: string): boolean;
}

/** A threshold key that names no metric the instance emits; reported at the key's file:line:col. */
export class ThresholdKeyError extends ConfigKeyError {
  override name = 'ThresholdKeyError';
  constructor(key: string, message: string) {
    super(['thresholds', key], message, { atKey: true });
  }
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

/**
 * Resolve a threshold key to the metrics it watches. A key may be:
 * - a fixed metric: `memory.percent`, `cpu.iowait`, `load.5` (or the alias `load`);
 * - a per-instance pattern with the placeholder left out, watching every instance:
 *   `disk.size.percent` (every mount), `net.in.errors` (every interface);
 * - one instance: `disk.size.root.percent`, `net.eth0.in.errors`, `command.queue.pending`.
 * A disk.io.* or net.* rule sees each sample's delta (the increase over one `interval`), not the
 * per-flush sum statsd makes of the counter.
 * Mounts and commands are known from the config, so a misspelt one is an error too; devices and
 * interfaces only exist at run time, so any name is accepted there. Without `known.mounts` /
 * `known.commands` (the schema check, which cannot see the sibling keys) any name is accepted.
 * Throws ThresholdKeyError naming the key when nothing matches.
 */
export function resolveThreshold(key: string, spec: ThresholdSpec, known: { mounts?: readonly string[]; commands?: readonly string[] }): ThresholdRule {
  const target = ALIASES[key] ?? key;
  // alerts.active is about the alerts themselves; watching it would alert on alerting. The
  // kernel deltas are counters on the wire, but each sample is a value worth watching.
  const watchable = hostMetrics.filter((m) => (m.type === 'gauge' && !m.name.startsWith('alerts.')) || kernelDeltaNames.has(m.name));
  const rule = (matches: (metric: string) => boolean): ThresholdRule => ({ ...spec, key, matches });

  if (target.startsWith('command.')) {
    const name = target.slice('command.'.length);
    if (!known.commands || known.commands.includes(name)) return rule((m) => m === target);
    const hint = closest(name, known.commands);
    throw new ThresholdKeyError(
      key,
      known.commands.length === 0
        ? `no commands are configured, so there is no ${target} to watch`
        : `no command named "${name}"${hint ? ` (did you mean "command.${hint}"?)` : ''}; configured: ${known.commands.join(', ')}`,
    );
  }

  for (const m of watchable) {
    if (!m.name.includes('<')) {
      if (m.name === target) return rule((metric) => metric === target);
      continue;
    }
    const nodes = m.name.split('.');
    // Placeholder left out: watch every instance.
    const generic = nodes.filter((n) => !n.startsWith('<')).join('.');
    const pattern = new RegExp(`^${nodes.map((n) => (n.startsWith('<') ? '[^.]+' : escape(n))).join('\\.')}$`);
    if (generic === target) return rule((metric) => pattern.test(metric));
    if (pattern.test(target)) {
      if (nodes.includes('<mount>') && known.mounts) {
        const mountAt = nodes.indexOf('<mount>');
        const node = target.split('.')[mountAt]!;
        const configured = known.mounts.map(mountNode);
        if (!configured.includes(node)) {
          throw new ThresholdKeyError(key, `no configured disk is named "${node}"; disks give: ${configured.join(', ') || '(none)'}`);
        }
      }
      return rule((metric) => metric === target);
    }
  }

  const prefixHint = /^host\./.test(key) ? ' (threshold keys are relative to the prefix: drop "host.")' : '';
  const candidates = [
    ...Object.keys(ALIASES),
    ...watchable.filter((m) => !m.name.includes('<')).map((m) => m.name),
    ...watchable.filter((m) => m.name.includes('<') && !m.name.startsWith('command.')).map((m) => m.name.split('.').filter((n) => !n.startsWith('<')).join('.')),
  ];
  const counter = hostMetrics.find((m) => !watchable.includes(m) && m.name === key);
  if (counter) throw new ThresholdKeyError(key, `${key} is a ${counter.type}; thresholds apply to gauges and to the per-sample disk.io.*/net.* deltas`);
  const hint = closest(key, candidates);
  throw new ThresholdKeyError(
    key,
    `the host integration emits no metric "${key}"${prefixHint}${hint ? ` (did you mean "${hint}"?)` : ''}; thresholds can watch ${grouped(candidates)}, one instance like disk.size.root.percent, or command.<name>`,
  );
}

/** memory.used, memory.free → memory.{used,free}: keeps the list of watchable names readable. */
function grouped(names: readonly string[]): string {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const at = n.lastIndexOf('.');
    const [parent, leaf] = at === -1 ? ['', n] : [n.slice(0, at), n.slice(at + 1)];
    const g = groups.get(parent);
    if (g) g.push(leaf);
    else groups.set(parent, [leaf]);
  }
  return [...groups].map(([parent, leaves]) => (parent === '' ? leaves.join(', ') : leaves.length === 1 ? `${parent}.${leaves[0]}` : `${parent}.{${leaves.join(',')}}`)).join(', ');
}
