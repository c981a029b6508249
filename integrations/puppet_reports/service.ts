/**
 * The IO side: scans and watches the reportdir and the summary file, reads files, keeps the
 * per-host state for the age/stale ticker, and emits. Parsing and naming live in parse.ts and
 * points.ts.
 *
 * Puppet writes every report to a temp file in the same directory and renames it onto
 * `<YYYYMMDDHHMM>.yaml` (so only that name counts), and a second report in the same UTC minute
 * replaces the first, which arrives as `change`. A `change` can also re-deliver a report already
 * seen, so every report is deduplicated on its transaction_uuid.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { watch, type FSWatcher } from 'chokidar';
import { ConfigKeyError, type Integration, type IntegrationContext } from '../../shared/core/integration.js';
import { createLifecycle } from '../../shared/core/lifecycle.js';
import { threadCount, WorkerPool, workerThreadsUsable } from '../../shared/core/worker-pool.js';
import { validatePuppetReports, type PuppetReportsConfig } from './config.js';
import { loadRunFile, type FileKind, type Loaded, type LoadOptions } from './load.js';
import { KNOWN_REPORT_FORMATS, type Run, type RunStatus } from './run.js';
import { hostNode, runPoints, type NamingOptions } from './points.js';

/** `<YYYYMMDDHHMM>.yaml` (and `.json` for the json terminus); never Puppet's temp names. */
export const REPORT_NAME_RE = /^\d{12}\.(?:yaml|json)$/;

/** Older files tried per host at start when the newest one is unreadable. */
const START_FALLBACK_FILES = 3;
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

type Outcome = 'emitted' | 'duplicate' | 'bad';

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

export function createPuppetReports(config: PuppetReportsConfig, ctx: IntegrationContext): Integration {
  const [problem] = validatePuppetReports(config);
  if (problem) throw new ConfigKeyError(problem.path, problem.message);
  const reportdir = config.reportdir === undefined ? undefined : resolve(config.reportdir);
  const summaryPath = config.summary === undefined ? undefined : resolve(config.summary);
  const summaryHost = config.host ?? hostname();
  const naming: NamingOptions = {
    compat: config.compat,
    evenupSuffix: config.evenup.suffix,
    evenupReverseHost: config.evenup.reverse_host,
  };
  const log = ctx.log;
  const em = ctx.emitter;
  const hosts = new Map<string, HostState>();
  const unknownFormatsLogged = new Set<string>();
  const kruxHosts = new Set<string>();
  let kruxWarned = false;
  const watchers: FSWatcher[] = [];
  /** Per host directory: its mtime at the last rescan and the newest report name handled. */
  const dirSeen = new Map<string, { mtimeMs: number; newest: string }>();
  let summaryMtimeMs: number | undefined;
  /** Per host directory: the newest report handled by the previous run (from the state file). */
  const resumeFrom = new Map<string, string>();
  let stateLoaded = false;
  let stateDirty = false;
  let saving: Promise<void> = Promise.resolve();
  const stateFile = 'puppet_reports-state.json';
  const statePath = ctx.state.path(stateFile);
  let reportWatcherUp = false;
  let summaryWatcherUp = false;
  let rescanning = false;
  // stop(): timers cleared, then the watchers closed, the queue drained and the state saved.
  const life = createLifecycle(ctx.signal, async () => {
    await Promise.all(watchers.splice(0).map((w) => w.close()));
    await queue;
    await persist();
    // A settled fs promise stays an active libuv request until the loop turns; turn it once so
    // "stopped" really means no handles or requests left behind.
    await nextTurn();
  });
  // One file at a time: big reports must not be parsed concurrently, and per-host order matters.
  let queue: Promise<void> = Promise.resolve();

  const count = (name: string, n = 1): void => em.counter(`_watcher.${name}`, n);

  /** Runs `task` after everything queued before it; resolves with its result ('bad' on a bug). */
  const enqueue = (task: () => Promise<Outcome>): Promise<Outcome> => {
    // Work queued behind a stop (a rescan in flight) is dropped: the emitter may be closing.
    const next = queue.then(() => (life.stopped ? ('bad' as const) : task())).then(
      (o) => o,
      (e: unknown): Outcome => {
        // Defensive: processFile handles its own errors; anything here is a bug worth seeing.
        count('errors.internal');
        log.error('unexpected error processing puppet data', { error: (e as Error).message });
        return 'bad';
      },
    );
    queue = next.then(() => undefined);
    return next;
  };

  const rememberKey = (state: HostState, key: string): void => {
    state.recentKeys.push(key);
    if (state.recentKeys.length > DEDUPE_KEYS_PER_HOST) state.recentKeys.shift();
  };

  const emitRun = (run: Run, source: string): Outcome => {
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

  const loadOptions: LoadOptions = { maxBytes: config.max_report_bytes, summaryHost };

  /**
   * Read + parse + emit one file; every failure is logged with the path and counted. `loading`:
   * the file already being read and parsed (on a worker thread, for a backfill).
   */
  const processFile = async (path: string, kind: FileKind, loading?: Promise<Loaded>): Promise<Outcome> => {
    if (kind === 'report') noteHandled(path);
    const loaded = await (loading ?? loadRunFile(path, kind, loadOptions));
    if (kind === 'summary' && (loaded.kind === 'run' || loaded.kind === 'unparseable')) summaryMtimeMs = loaded.mtimeMs;
    if (loaded.kind !== 'run' && loaded.kind !== 'unparseable') {
      ctx.self.error('receiving');
      if (loaded.kind === 'not_regular') {
        count('errors.not_regular');
        log.error('not a regular file: skipped', { file: path, kind: loaded.fileKind });
      } else if (loaded.kind === 'too_big') {
        count('errors.too_big');
        log.error('report file over max_report_bytes: skipped', { file: path, bytes: loaded.bytes, max: config.max_report_bytes });
      } else if (loaded.code === 'ENOENT') {
        // tidy, or a same-minute report replaced it before we got here: expected, so quiet.
        count('errors.vanished');
        log.debug('file vanished before it could be read', { file: path });
      } else if (loaded.code === 'EACCES' || loaded.code === 'EPERM') {
        count('errors.access');
        log.error('cannot read file: permission denied (reports are 0640 group puppet: run as or add the user to that group)', {
          file: path,
          code: loaded.code,
        });
      } else {
        count('errors.read');
        log.error('cannot read file', { file: path, code: loaded.code, error: loaded.message });
      }
      return 'bad';
    }
    ctx.self.received();
    if (loaded.kind === 'unparseable') {
      ctx.self.error('processing');
      const e = loaded.error;
      count(e === 'incomplete' ? 'errors.incomplete' : e === 'limit' ? 'errors.limit' : 'errors.parse');
      const what = e === 'incomplete' ? 'incomplete file' : e === 'limit' ? 'file over a parse limit (alias expansion)' : 'unparseable file';
      log.error(`${what}: not emitted`, { file: path, error: loaded.message });
      return 'bad';
    }
    return emitRun(loaded.run, path);
  };

  /**
   * A backfill: every stored report, emitted in order through the queue. With several reports
   * and cores they are read and parsed on worker threads ahead of the queue (the full parse of a
   * 7 MB report takes a quarter of a second); emitting stays here, in the same order.
   */
  const backfill = async (paths: readonly string[]): Promise<void> => {
    const threads = threadCount(config.threads, paths.length);
    if (threads <= 1 || !workerThreadsUsable) {
      for (const p of paths) await enqueue(() => processFile(p, 'report'));
      return;
    }
    log.info(`reading ${paths.length} stored reports on ${threads} worker threads`);
    const pool = new WorkerPool(new URL('./load-worker.js', import.meta.url), threads, loadOptions);
    try {
      const done = paths.map((p) => {
        const loading = pool.run<{ path: string; kind: FileKind }, Loaded>({ path: p, kind: 'report' });
        // Dropped unawaited when a stop empties the queue: its rejection is not news then.
        loading.catch(() => undefined);
        return enqueue(() => processFile(p, 'report', loading));
      });
      await Promise.all(done);
    } finally {
      await pool.close();
    }
  };

  const noteHandled = (path: string): void => {
    const host = basename(dirname(path));
    const name = basename(path);
    const seen = dirSeen.get(host);
    if (!seen) dirSeen.set(host, { mtimeMs: -1, newest: name });
    else if (name > seen.newest) seen.newest = name;
    else return;
    stateDirty = true;
  };

  /**
   * The state file remembers the newest report handled per host directory, so a restart emits
   * the reports written while telltale was down instead of only each host's newest one.
   */
  const loadState = async (): Promise<void> => {
    if (stateLoaded || reportdir === undefined) return;
    stateLoaded = true;
    const read = await ctx.state.read(stateFile);
    if (read.kind === 'missing') return;
    if (read.kind === 'corrupt') {
      count('errors.state');
      log.warn('ignoring unreadable state file (only the newest report per host is emitted at start)', { file: statePath, error: read.reason });
      return;
    }
    const st = (read.data ?? {}) as { version?: unknown; reportdir?: unknown; hosts?: unknown };
    if (st.version !== 1 || st.reportdir !== reportdir || typeof st.hosts !== 'object' || st.hosts === null) return;
    for (const [dir, name] of Object.entries(st.hosts as Record<string, unknown>)) {
      if (typeof name === 'string' && REPORT_NAME_RE.test(name)) resumeFrom.set(dir, name);
    }
  };

  const saveState = async (): Promise<void> => {
    if (reportdir === undefined || !stateDirty) return;
    stateDirty = false;
    const hosts: Record<string, string> = {};
    for (const [dir, seen] of dirSeen) if (seen.newest !== '') hosts[dir] = seen.newest;
    try {
      await ctx.state.write(stateFile, { version: 1, reportdir, hosts });
    } catch (e) {
      stateDirty = true;
      count('errors.state');
      log.warn('cannot save state', { file: statePath, error: (e as Error).message });
    }
  };

  /** Saves are chained so two never write the temp file at once. */
  const persist = (): Promise<void> => (saving = saving.then(saveState));

  const isNewReport = (hostDir: string, name: string): boolean => {
    const seen = dirSeen.get(basename(hostDir));
    return seen === undefined || name > seen.newest;
  };

  const listReports = async (dir: string): Promise<string[]> => {
    try {
      return (await readdir(dir)).filter((n) => REPORT_NAME_RE.test(n)).sort();
    } catch (e) {
      count('errors.read');
      log.error('cannot list host directory', { dir, code: (e as NodeJS.ErrnoException).code });
      return [];
    }
  };

  /** Newest report per host (or every report with backfill), emitted in time order. */
  const scanReportdir = async (dir: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (e) {
      count('errors.read');
      log.error('cannot list reportdir', { reportdir: dir, code: (e as NodeJS.ErrnoException).code });
      return;
    }
    let skipped = 0;
    let caughtUp = 0;
    let hostDirs = 0;
    const stored: string[] = [];
    for (const entry of entries.sort()) {
      if (life.stopped) return;
      const hostDir = join(dir, entry);
      let mtimeMs: number;
      try {
        const st = await stat(hostDir);
        if (!st.isDirectory()) continue;
        mtimeMs = st.mtimeMs;
      } catch {
        continue;
      }
      hostDirs++;
      const files = await listReports(hostDir);
      const resume = resumeFrom.get(entry);
      dirSeen.set(entry, { mtimeMs, newest: dirSeen.get(entry)?.newest ?? resume ?? '' });
      if (config.backfill) {
        for (const f of files) stored.push(join(hostDir, f));
        continue;
      }
      // Reports written since the previous run handled `resume`: emit them all, in order.
      const missed = resume === undefined ? [] : files.filter((f) => f > resume);
      if (missed.length > 0) {
        for (const f of missed) await enqueue(() => processFile(join(hostDir, f), 'report'));
        caughtUp += missed.length;
        skipped += files.length - missed.length;
        continue;
      }
      // Newest first; fall back to an older one only when the newest cannot be used.
      let used = 0;
      for (let i = files.length - 1; i >= 0 && used < START_FALLBACK_FILES; i--) {
        used++;
        const outcome = await enqueue(() => processFile(join(hostDir, files[i]!), 'report'));
        if (outcome !== 'bad') break;
      }
      skipped += files.length - used;
    }
    if (stored.length > 0) await backfill(stored);
    if (caughtUp > 0) {
      count('caught_up', caughtUp);
      log.info('emitted reports written while stopped (from the state file)', { reports: caughtUp, state: statePath });
    }
    if (skipped > 0) {
      count('history_skipped', skipped);
      log.info('not replaying older reports (set backfill: true to emit them)', { hosts: hostDirs, skipped });
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

  const isReportPath = (p: string): boolean => REPORT_NAME_RE.test(basename(p)) && reportdir !== undefined && dirname(dirname(p)) === reportdir;

  /** One chokidar watcher on `dir`: `accept` picks the files that are queued for processing. */
  const watchDir = async (
    dir: string,
    depth: number,
    ignored: (p: string, stats?: import('node:fs').Stats) => boolean,
    accept: (p: string) => void,
    where: Record<string, string>,
  ): Promise<void> => {
    const w = watch(dir, {
      ignoreInitial: true,
      depth,
      usePolling: config.polling,
      ignored,
      ...(config.settle > 0 ? { awaitWriteFinish: { stabilityThreshold: config.settle, pollInterval: Math.min(50, config.settle) } } : {}),
    });
    w.on('add', accept);
    w.on('change', accept);
    w.on('error', (e: unknown) => {
      count('errors.watch');
      log.error('watcher error', { ...where, error: (e as Error).message });
    });
    watchers.push(w);
    await new Promise<void>((res) => w.once('ready', () => res()));
  };

  const watchReportdir = (dir: string): Promise<void> =>
    watchDir(
      dir,
      1,
      // Keep directories (host dirs appear later) and report names; drop temp files early.
      (p, stats) => stats?.isFile() === true && !REPORT_NAME_RE.test(basename(p)),
      (p) => {
        if (isReportPath(p)) void enqueue(() => processFile(p, 'report'));
      },
      { reportdir: dir },
    );

  const watchSummary = (file: string): Promise<void> => {
    const dir = dirname(file);
    const base = basename(file);
    // Watch the directory, not the file: Puppet replaces the file by rename, new inode each run.
    return watchDir(
      dir,
      0,
      (p) => p !== dir && basename(p) !== base,
      (p) => {
        if (resolve(p) === file) void enqueue(() => processFile(file, 'summary'));
      },
      { summary: file },
    );
  };

  const exists = async (p: string): Promise<boolean> => {
    try {
      await stat(p);
      return true;
    } catch {
      return false;
    }
  };

  /**
   * The safety net behind inotify: host directories whose mtime changed are listed again and
   * reports newer than the newest one handled are processed. Catches what a watcher can miss
   * (NFS without polling, event overflow, a directory that appeared after start).
   */
  const rescanReportdir = async (dir: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (e) {
      count('errors.read');
      log.error('cannot list reportdir', { reportdir: dir, code: (e as NodeJS.ErrnoException).code });
      return;
    }
    for (const entry of entries.sort()) {
      if (life.stopped) return;
      const hostDir = join(dir, entry);
      let mtimeMs: number;
      try {
        const st = await stat(hostDir);
        if (!st.isDirectory()) continue;
        mtimeMs = st.mtimeMs;
      } catch {
        continue;
      }
      const seen = dirSeen.get(entry);
      if (seen?.mtimeMs === mtimeMs) continue;
      const files = (await listReports(hostDir)).filter((f) => isNewReport(hostDir, f));
      for (const f of files) {
        await enqueue(async () => {
          // The watcher may have handled it while this rescan was queued.
          if (!isNewReport(hostDir, f)) return 'duplicate';
          const outcome = await processFile(join(hostDir, f), 'report');
          if (outcome === 'emitted') {
            count('rescan_found');
            log.warn('report found by rescan, not by the watcher', { file: join(hostDir, f) });
          }
          return outcome;
        });
      }
      const now = dirSeen.get(entry);
      if (now) now.mtimeMs = mtimeMs;
      else dirSeen.set(entry, { mtimeMs, newest: '' });
    }
  };

  /** Start the watchers whose directories exist; the rescan retries the others. */
  const ensureWatchers = async (): Promise<boolean> => {
    let reportdirAppeared = false;
    if (reportdir !== undefined && !reportWatcherUp && !life.stopped) {
      if (await exists(reportdir)) {
        await watchReportdir(reportdir);
        reportWatcherUp = true;
        reportdirAppeared = true;
      }
    }
    if (summaryPath !== undefined && !summaryWatcherUp && !life.stopped && (await exists(dirname(summaryPath)))) {
      await watchSummary(summaryPath);
      summaryWatcherUp = true;
    }
    return reportdirAppeared;
  };

  const rescan = async (): Promise<void> => {
    if (rescanning || life.stopped) return;
    rescanning = true;
    try {
      const wasUp = reportWatcherUp;
      const appeared = await ensureWatchers();
      if (reportdir !== undefined && appeared && !wasUp) {
        log.info('reportdir appeared: watching it', { reportdir });
        await scanReportdir(reportdir);
      } else if (reportdir !== undefined && reportWatcherUp) await rescanReportdir(reportdir);
      if (summaryPath !== undefined) {
        try {
          const st = await stat(summaryPath);
          if (st.mtimeMs !== summaryMtimeMs) await enqueue(() => processFile(summaryPath, 'summary'));
        } catch {
          // Not there (yet): the start already logged it; do not log every rescan.
        }
      }
    } finally {
      rescanning = false;
    }
  };

  const scanAll = async (): Promise<void> => {
    if (reportdir !== undefined) await scanReportdir(reportdir);
    if (summaryPath !== undefined) await enqueue(() => processFile(summaryPath, 'summary'));
  };

  return {
    async start() {
      if (life.stopped) return;
      // Watch first, then scan: a report landing during the scan is seen by one or the other,
      // and the dedupe makes "both" harmless.
      await loadState();
      await ensureWatchers();
      if (reportdir !== undefined && !reportWatcherUp) {
        count('errors.read');
        log.warn('reportdir does not exist (yet): watching for it on every rescan', { reportdir, rescan_ms: config.rescan });
      } else if (reportdir !== undefined) await scanReportdir(reportdir);
      if (summaryPath !== undefined) await enqueue(() => processFile(summaryPath, 'summary'));
      await queue;
      if (life.stopped) return;
      tick();
      await persist();
      life.interval(() => {
        tick();
        void persist();
      }, config.tick);
      life.interval(() => void rescan(), config.rescan);
      log.info('watching puppet data', { reportdir, summary: summaryPath, hosts: hosts.size, backfill: config.backfill });
    },
    async once() {
      await loadState();
      await scanAll();
      await queue;
      tick();
      await persist();
    },
    stop: life.stop,
  };
}
