/**
 * The fleet as the reports describe it: each run emitted once (deduplicated on its key, clock
 * skew clamped, failures logged with their resources, changed and failed runs as events), each
 * host's last run, and the age and fleet gauges the ticker sends.
 */
import type { IntegrationContext } from '../../shared/core/integration.js';
import type { PuppetReportsConfig } from './config.js';
import { hostNode, runPoints, type NamingOptions } from './points.js';
import { KNOWN_REPORT_FORMATS, type Run, type RunStatus } from './run.js';

/** Dedupe memory per host: same-minute overwrites and re-deliveries are recent. */
const DEDUPE_KEYS_PER_HOST = 16;
/** Report times further ahead than this are agent clock skew: emitted at "now" instead. */
const MAX_FUTURE_SECONDS = 300;

interface HostState {
  host: string;
  endTime: number;
  status: RunStatus | undefined;
  noopPending: boolean;
  recentKeys: string[];
}

export type Outcome = 'emitted' | 'duplicate' | 'bad';

/** What a changed or failed run looks like as an event: counts first, then what failed. */
export function runEvent(run: Run): { what: string; tags: string[]; data: string } {
  const value = (category: string, name: string): number => run.metrics.find((m) => m.category === category && m.name === name)?.value ?? 0;
  const counts = ['changed', 'failed', 'failed_to_restart', 'out_of_sync', 'total']
    .map((n) => `${n}=${value('resources', n)}`)
    .join(' ');
  const failed = (run.failedResources ?? []).slice(0, 5).map((r) => `${r.resource}${r.message ? `: ${r.message.slice(0, 200)}` : ''}`);
  return {
    what: `puppet ${run.status} ${run.host}`,
    tags: ['puppet', run.host, run.host.split('.')[0] ?? run.host, run.status ?? 'unknown', ...(run.environment ? [run.environment] : [])],
    data: [`resources: ${counts}`, ...(failed.length ? ['failed:', ...failed] : [])].join('\n'),
  };
}

export interface Fleet {
  /** Emits a run unless it was seen already; updates its host's last run. */
  emit(run: Run, source: string): Outcome;
  /** Age of every host's last run and the fleet gauges; forgets hosts past forget_after. */
  tick(): void;
  readonly size: number;
}

export function createFleet(
  config: PuppetReportsConfig,
  ctx: Pick<IntegrationContext, 'emitter' | 'log' | 'clock' | 'self'>,
  naming: NamingOptions,
  count: (name: string) => void,
): Fleet {
  const log = ctx.log;
  const em = ctx.emitter;
  const hosts = new Map<string, HostState>();
  const unknownFormatsLogged = new Set<string>();
  const kruxHosts = new Set<string>();
  let kruxWarned = false;

  const rememberKey = (state: HostState, key: string): void => {
    state.recentKeys.push(key);
    if (state.recentKeys.length > DEDUPE_KEYS_PER_HOST) state.recentKeys.shift();
  };

  const emit = (run: Run, source: string): Outcome => {
    const node = hostNode(run.host);
    let state = hosts.get(node);
    if (state?.recentKeys.includes(run.key)) {
      count('duplicates');
      log.debug('duplicate report skipped', { file: source, host: run.host, key: run.key });
      return 'duplicate';
    }
    if (run.reportFormat !== undefined && !KNOWN_REPORT_FORMATS.includes(run.reportFormat)) {
      count('unknown_format');
      const f = String(run.reportFormat);
      if (!unknownFormatsLogged.has(f)) {
        unknownFormatsLogged.add(f);
        log.warn('unknown report_format: emitting what could be read; please report', { report_format: f, file: source });
      }
    }
    const nowSec = ctx.clock.now() / 1000;
    let ts = Math.floor(run.time);
    if (ts > nowSec + MAX_FUTURE_SECONDS) {
      count('clock_skew');
      log.warn('report time is in the future (agent clock skew); using now', { file: source, host: run.host, skew_s: Math.round(ts - nowSec) });
      ts = Math.floor(nowSec);
    }
    const points = runPoints(run, naming);
    for (const p of points) em.datapoint(p.name, p.value, ts);
    ctx.self.emitted(points.length);
    if (config.events && (run.status === 'changed' || run.status === 'failed')) {
      const ev = runEvent(run);
      em.event(ev.what, { tags: ev.tags, data: ev.data, when: ts });
    }
    count('reports');
    if (naming.compat === 'krux') {
      kruxHosts.add(node);
      if (kruxHosts.size > 1 && !kruxWarned) {
        kruxWarned = true;
        log.warn('compat: krux has no host in its paths: reports from several hosts overwrite each other', { hosts: kruxHosts.size });
      }
    }
    if (!state) {
      state = { host: run.host, endTime: run.endTime, status: run.status, noopPending: run.noopPending === true, recentKeys: [] };
      hosts.set(node, state);
    } else if (run.endTime >= state.endTime) {
      // Backfill and late files must not move a host's "last run" backwards.
      state.endTime = run.endTime;
      state.status = run.status;
      state.noopPending = run.noopPending === true;
    }
    rememberKey(state, run.key);
    if (run.status === 'failed') logFailure(run, source);
    return 'emitted';
  };

  const logFailure = (run: Run, source: string): void => {
    const failed = run.failedResources ?? [];
    log.warn('puppet run failed', {
      host: run.host,
      file: source,
      failed_resources:
        run.failedResources !== undefined
          ? failed.length
          : run.parsedBy === 'summary'
            ? 'unknown (a summary lists none)'
            : 'not read (resource_statuses over the size cap)',
      err_logs: run.logLevels?.['err'],
    });
    for (const r of failed.slice(0, config.failed_resources_limit)) {
      log.warn('failed resource', {
        host: run.host,
        resource: r.resource,
        at: r.file === undefined ? undefined : `${r.file}:${r.line ?? '?'}`,
        message: r.message,
      });
    }
    if (failed.length > config.failed_resources_limit) {
      log.warn('more failed resources not listed', { host: run.host, more: failed.length - config.failed_resources_limit });
    }
  };

  const tick = (): void => {
    const nowSec = ctx.clock.now() / 1000;
    const staleAfter = (config.runinterval / 1000) * config.stale_after_runs;
    let stale = 0;
    let failed = 0;
    let noopPending = 0;
    for (const [node, st] of hosts) {
      const age = Math.max(0, nowSec - st.endTime);
      if (age > config.forget_after / 1000) {
        hosts.delete(node);
        log.info('forgetting host: no run within forget_after', { host: st.host });
        continue;
      }
      em.gauge(`${node}.run.age_seconds`, Math.round(age));
      if (age > staleAfter) stale++;
      if (st.status === 'failed') failed++;
      if (st.noopPending) noopPending++;
    }
    em.gauge('_fleet.hosts', hosts.size);
    em.gauge('_fleet.stale', stale);
    em.gauge('_fleet.failed', failed);
    em.gauge('_fleet.noop_pending', noopPending);
    ctx.self.emitted(hosts.size + 4);
  };

  return {
    emit,
    tick,
    get size() {
      return hosts.size;
    },
  };
}
