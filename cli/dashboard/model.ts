/**
 * What `telltale dashboard` draws, independent of the output format: one graph per thing the
 * config enables, each a list of Graphite render targets. The Graphite and Grafana writers only
 * change the envelope, so both formats always show the same series (and the tests evaluate
 * every target of both against a real graphite-web).
 *
 * Names follow what the graphite sink (or Etsy statsd, with the same settings) writes: counters
 * as `<global>.<counters>.<path>.rate` (per second), timers as `<global>.<timers>.<path>.upper_<p>`,
 * gauges as `<global>.<gauges>.<path>`, datapoints and events as `<path>`.
 */
import { hostname } from 'node:os';
import { defaultSourceName } from '../../integrations/access_log/tail.js';
import type { SinkConfig } from '../../shared/core/config/emitter-config.js';
import type { InstanceConfig, LoadedConfig } from '../../shared/core/config/load.js';
import { hostNode, joinPath, sanitizeNode, sanitizePath } from '../../shared/emitter/names.js';
import type { ServiceInfo } from '../../shared/live/protocol.js';

export interface Target {
  /** A Graphite render expression, already wrapped in alias()/color()/secondYAxis(). */
  expr: string;
  /** What the series is called on the graph (also the Grafana override key). */
  alias: string;
  /** Right-hand axis (percentiles next to rates). */
  right?: boolean;
  /** Vertical lines: drawAsInfinite(events(...)) or a horizontal constant line. */
  kind: 'series' | 'threshold' | 'events';
  /** For kind 'events': the graphite-web event tags it shows. */
  tags?: string[];
}

export interface Graph {
  /** Stable id (also the graphite-web dashboard graph id and Grafana panel key). */
  id: string;
  title: string;
  section: string;
  leftLabel: string;
  rightLabel?: string;
  targets: Target[];
}

export interface DashboardModel {
  title: string;
  /** Tags whose events every graph of this host shows (graphite-web events, Grafana annotations). */
  eventTags: string[];
  graphs: Graph[];
}

interface Names {
  counter(path: string): string;
  timer(path: string, stat: string): string;
  gauge(path: string): string;
  percentiles: number[];
}

/** Naming of the first graphite/console sink (what lands in carbon), else the graphite defaults. */
function namesFor(sinks: readonly SinkConfig[]): Names {
  const g = sinks.find((s): s is Extract<SinkConfig, { type: 'graphite' | 'console' }> => s.type === 'graphite' || s.type === 'console');
  const legacy = g?.legacy_namespace ?? false;
  const suffix = g?.global_suffix ? `.${g.global_suffix}` : '';
  const ns = (prefix: string): string => [g?.global_prefix ?? 'stats', prefix].filter(Boolean).join('.');
  const percentiles = (g?.percent_thresholds ?? [90, 95, 99]).filter((p) => p > 0);
  return {
    counter: (p) => (legacy ? `stats.${p}${suffix}` : `${ns(g?.prefix_counter ?? 'counters')}.${p}.rate${suffix}`),
    timer: (p, stat) => (legacy ? `stats.timers.${p}.${stat}${suffix}` : `${ns(g?.prefix_timer ?? 'timers')}.${p}.${stat}${suffix}`),
    gauge: (p) => (legacy ? `stats.gauges.${p}${suffix}` : `${ns(g?.prefix_gauge ?? 'gauges')}.${p}${suffix}`),
    percentiles,
  };
}

/** Graphite string literal: single quotes, no quote or backslash inside (names are sanitised). */
const q = (s: string): string => `'${s.replace(/['\\]/g, '')}'`;
const alias = (expr: string, name: string): string => `alias(${expr},${q(name)})`;
const color = (expr: string, c: string): string => `color(${expr},${q(c)})`;

function eventsTarget(tags: readonly string[]): Target {
  return { expr: alias(color(`drawAsInfinite(events(${tags.map(q).join(',')}))`, 'purple'), 'events'), alias: 'events', kind: 'events', tags: [...tags] };
}

function constant(value: number, name: string, c = 'orange'): Target {
  return { expr: alias(color(`constantLine(${value})`, c), name), alias: name, kind: 'threshold' };
}

/** How many nodes a dotted path has ('' has none). */
const depth = (p: string): number => (p === '' ? 0 : p.split('.').length);

function sourceNames(settings: Record<string, unknown>): string[] {
  if (typeof settings['name'] === 'string') return [sanitizeNode(settings['name'])];
  const paths = (settings['path'] as string[] | undefined) ?? [];
  // A glob names its sources after each file; the graph then sums them.
  return [...new Set(paths.map((p) => (/[*?[]/.test(p.split('/').pop() ?? '') ? '*' : defaultSourceName(p))))];
}

function serviceGraphs(i: InstanceConfig, root: string, n: Names, eventTags: string[]): Graph[] {
  const base = joinPath(root, sanitizePath(i.prefix));
  const safe = i.settings['safe_qps'] as number | undefined;
  return sourceNames(i.settings).map((src) => {
    const p = joinPath(base, src);
    const sum = (e: string): string => (src === '*' ? `sumSeries(${e})` : e);
    const max = (e: string): string => (src === '*' ? `maxSeries(${e})` : e);
    const targets: Target[] = [
      { expr: alias(color(sum(n.counter(`${p}.good`)), 'green'), 'good 2xx/3xx /s'), alias: 'good 2xx/3xx /s', kind: 'series' },
      { expr: alias(color(sum(n.counter(`${p}.bad`)), 'red'), 'bad 4xx/5xx /s'), alias: 'bad 4xx/5xx /s', kind: 'series' },
    ];
    for (const pct of [95, 99].filter((x) => n.percentiles.includes(x))) {
      const name = `p${pct} ms`;
      const c = pct === 95 ? 'blue' : 'darkblue';
      targets.push({ expr: alias(color(`secondYAxis(${max(n.timer(`${p}.response_time`, `upper_${pct}`))})`, c), name), alias: name, right: true, kind: 'series' });
    }
    if (safe !== undefined) targets.push(constant(safe, 'safe QPS'));
    targets.push(eventsTarget(eventTags));
    const label = src === '*' ? `${i.name} (all files)` : src;
    return { id: `service_${sanitizeNode(i.name)}_${src === '*' ? 'all' : src}`, title: `${label}: requests/s and response time`, section: 'Services', leftLabel: 'requests/s', rightLabel: 'ms', targets };
  });
}

function supervisorGraphs(i: InstanceConfig, root: string, n: Names, eventTags: string[]): Graph[] {
  const p = joinPath(root, sanitizePath(i.prefix));
  // stats.counters.<p>.<group>.<process>.<what>.rate: name each series <group>.<process>.
  const at = depth(n.counter(`${p}.x`)) - 2;
  const per = (what: string): string => `aliasByNode(${n.counter(`${p}.*.*.${what}`)},${at},${at + 1})`;
  const series = (what: string, title: string): Target => ({ expr: `aliasSub(${per(what)},'$',' ${title}')`, alias: title, kind: 'series' });
  return [
    {
      id: `supervisor_${sanitizeNode(i.name)}`,
      title: `${i.name}: restarts, crashes and FATAL per process`,
      section: 'Processes',
      leftLabel: 'per second',
      targets: [series('restarts', 'restarts'), series('exits.unexpected', 'crashes'), series('fatal', 'FATAL'), eventsTarget(eventTags)],
    },
  ];
}

function puppetGraphs(i: InstanceConfig, root: string, n: Names, eventTags: string[]): Graph[] {
  const p = joinPath(root, sanitizePath(i.prefix));
  const at = depth(p);
  const perHost = (path: string, title: string): Target => ({ expr: `aliasSub(aliasByNode(${p}.*.${path},${at}),'$',' ${title}')`, alias: title, kind: 'series' });
  const id = sanitizeNode(i.name);
  return [
    { id: `puppet_${id}_time`, title: `${i.name}: run time per host`, section: 'Puppet', leftLabel: 's', targets: [perHost('run.duration', 'run time'), eventsTarget(eventTags)] },
    {
      id: `puppet_${id}_changes`,
      title: `${i.name}: changes and failures per host`,
      section: 'Puppet',
      leftLabel: 'resources',
      targets: [perHost('resources.changed', 'changed'), perHost('resources.failed', 'failed'), eventsTarget(eventTags)],
    },
    {
      id: `puppet_${id}_fleet`,
      title: `${i.name}: stale and failed hosts`,
      section: 'Puppet',
      leftLabel: 'hosts',
      targets: [
        { expr: alias(n.gauge(`${p}._fleet.stale`), 'stale hosts'), alias: 'stale hosts', kind: 'series' },
        { expr: alias(n.gauge(`${p}._fleet.failed`), 'failed hosts'), alias: 'failed hosts', kind: 'series' },
      ],
    },
  ];
}

function billingGraphs(i: InstanceConfig, root: string): Graph[] {
  const p = joinPath(root, sanitizePath(i.prefix));
  const at = depth(p);
  const id = sanitizeNode(i.name);
  const per = (what: string): string => `aliasByNode(${p}.*.*.${what},${at},${at + 1})`;
  return [
    { id: `billing_${id}_charges`, title: `${i.name}: estimated charges per service (month to date)`, section: 'AWS', leftLabel: 'USD', targets: [{ expr: per('estimated_charges'), alias: 'charges', kind: 'series' }] },
    { id: `billing_${id}_rate`, title: `${i.name}: spend per hour`, section: 'AWS', leftLabel: 'USD/h', targets: [{ expr: per('spend_per_hour'), alias: 'spend per hour', kind: 'series' }] },
  ];
}

interface Threshold {
  direction: 'above' | 'below';
  value: number;
}

/** A host threshold key → the series it watches (aliases and per-mount keys expanded). */
function hostSeries(key: string, p: string, n: Names): string {
  const k = key === 'load' ? 'load.1' : key.replace(/^disk\.size\.percent$/, 'disk.size.*.percent').replace(/^disk\.size\.(used|free)$/, 'disk.size.*.$1');
  // disk.io.* and net.* are counters (deltas per sample); everything else is a gauge.
  return /^(disk\.io|net)\./.test(k) ? n.counter(`${p}.${k}`) : n.gauge(`${p}.${k}`);
}

function hostGraphs(i: InstanceConfig, root: string, n: Names, eventTags: string[]): Graph[] {
  const p = joinPath(root, sanitizePath(i.prefix));
  const thresholds = (i.settings['thresholds'] ?? {}) as Record<string, Threshold>;
  const keys = [...new Set(['cpu.percent', 'memory.percent', 'load', ...Object.keys(thresholds)])];
  return keys.map((key) => {
    const t = thresholds[key];
    const targets: Target[] = [{ expr: alias(hostSeries(key, p, n), key), alias: key, kind: 'series' }];
    if (key.includes('*') || key === 'disk.size.percent') targets[0] = { expr: `aliasByNode(${hostSeries(key, p, n)},${depth(n.gauge(p)) + 2})`, alias: key, kind: 'series' };
    if (t) targets.push(constant(t.value, `${t.direction} ${t.value}`, 'red'));
    targets.push(eventsTarget(eventTags));
    return { id: `host_${sanitizeNode(i.name)}_${sanitizeNode(key)}`, title: `${i.name}: ${key}`, section: 'Host', leftLabel: key.endsWith('percent') ? '%' : '', targets };
  });
}

export function buildDashboard(config: LoadedConfig, sinks: readonly SinkConfig[] = config.emitter.sinks, host = hostname()): DashboardModel {
  const n = namesFor(sinks);
  const root = config.emitter.prefix;
  const eventTags = [hostNode(host)];
  const graphs: Graph[] = [];
  const enabled = config.integrations.filter((i) => i.enabled);
  // The service graphs first: they are what the dashboard is for.
  for (const i of enabled) if (i.type === 'access_log') graphs.push(...serviceGraphs(i, root, n, eventTags));
  for (const i of enabled) {
    if (i.type === 'supervisor') graphs.push(...supervisorGraphs(i, root, n, eventTags));
    else if (i.type === 'puppet_reports') graphs.push(...puppetGraphs(i, root, n, eventTags));
    else if (i.type === 'cloudwatch_billing') graphs.push(...billingGraphs(i, root));
    else if (i.type === 'host') graphs.push(...hostGraphs(i, root, n, eventTags));
  }
  return { title: `telltale ${root || hostNode(host)}`, eventTags, graphs };
}

/**
 * The live page's service rows: the same access_log sources as the service graphs, by raw
 * metric path (the live hub sees names before any aggregation). Glob sources without a `name`
 * have one series per file and no single row.
 */
export function liveServices(config: LoadedConfig, root: string): ServiceInfo[] {
  return config.integrations
    .filter((i) => i.enabled && i.type === 'access_log')
    .flatMap((i) =>
      sourceNames(i.settings)
        .filter((src) => src !== '*')
        .map((src) => {
          const p = joinPath(joinPath(root, sanitizePath(i.prefix)), src);
          const safe = i.settings['safe_qps'] as number | undefined;
          return { name: src, good: `${p}.good`, bad: `${p}.bad`, responseTime: `${p}.response_time`, ...(safe !== undefined ? { safeQps: safe } : {}) };
        }),
    );
}
