/**
 * The IO side: scans, rescans and watches the reportdir and the summary file, and queues each
 * file to be read, parsed and emitted one at a time. Emitting and the per-host state are
 * fleet.ts, the resume point across restarts resume-state.ts, reading and parsing load.ts
 * (parse.ts, summary.ts), naming points.ts.
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
import type { FSWatcher } from 'chokidar';
import type { Stats } from 'node:fs';
import { ConfigKeyError, type Integration, type IntegrationContext } from '../../shared/core/integration.js';
import { createLifecycle } from '../../shared/core/lifecycle.js';
import { threadCount, WorkerPool, workerThreadsUsable } from '../../shared/core/worker-pool.js';
import { validatePuppetReports, type PuppetReportsConfig } from './config.js';
import { loadRunFile, type FileKind, type Loaded, type LoadOptions } from './load.js';
import { createFleet, type Outcome } from './fleet.js';
import { createResumeState, REPORT_NAME_RE } from './resume-state.js';
import { watchFiles } from './watch.js';
import type { NamingOptions } from './points.js';


/** Older files tried per host at start when the newest one is unreadable. */
const START_FALLBACK_FILES = 3;
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
  const watchers: FSWatcher[] = [];
  let summaryMtimeMs: number | undefined;
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
  const fleet = createFleet(config, ctx, naming, count);
  const resume = createResumeState(ctx, reportdir, count);
  const { dirSeen, resumeFrom, statePath, persist, noteHandled, isNewReport } = resume;

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
    return fleet.emit(loaded.run, path);
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

  const isReportPath = (p: string): boolean => REPORT_NAME_RE.test(basename(p)) && reportdir !== undefined && dirname(dirname(p)) === reportdir;

  const watchDir = async (
    dir: string,
    depth: number,
    ignored: (p: string, stats?: Stats) => boolean,
    accept: (p: string) => void,
    where: Record<string, string>,
  ): Promise<void> => {
    const onError = (e: unknown): void => {
      count('errors.watch');
      log.error('watcher error', { ...where, error: (e as Error).message });
    };
    watchers.push(await watchFiles(dir, { depth, ignored, polling: config.polling, settleMs: config.settle }, accept, onError));
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
      await resume.load();
      await ensureWatchers();
      if (reportdir !== undefined && !reportWatcherUp) {
        count('errors.read');
        log.warn('reportdir does not exist (yet): watching for it on every rescan', { reportdir, rescan_ms: config.rescan });
      } else if (reportdir !== undefined) await scanReportdir(reportdir);
      if (summaryPath !== undefined) await enqueue(() => processFile(summaryPath, 'summary'));
      await queue;
      if (life.stopped) return;
      fleet.tick();
      await persist();
      life.interval(() => {
        fleet.tick();
        void persist();
      }, config.tick);
      life.interval(() => void rescan(), config.rescan);
      log.info('watching puppet data', { reportdir, summary: summaryPath, hosts: fleet.size, backfill: config.backfill });
    },
    async once() {
      await resume.load();
      await scanAll();
      await queue;
      fleet.tick();
      await persist();
    },
    stop: life.stop,
  };
}
