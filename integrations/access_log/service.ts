/**
 * access_log's running code (a service): tails Apache/nginx/varnishncsa access logs and turns
 * every line into request counts, status classes and codes, methods, bytes, a response-time timer
 * and, for Varnish, cache handling counts and a time-to-first-byte timer.
 */
import { resolve } from 'node:path';
import { ConfigKeyError, type Integration, type IntegrationContext } from '../../shared/core/integration.js';
import { createLifecycle } from '../../shared/core/lifecycle.js';
import type { AccessLogConfig } from './config.js';
import { compileFormat } from './format.js';
import { FormatError, type LineFormat } from './line-format.js';
import { threadCount, workerThreadsUsable } from '../../shared/core/worker-pool.js';
import { readInParallel } from './parallel.js';
import { MethodTable } from './parse.js';
import { loadState, stateDoc, type FileRecord } from './state.js';
import { ModStatsd, newScanContext, SourceStats } from './stats.js';
import { Tailer } from './tail.js';

/** Bytes read from one file per turn while following: a backlog cannot starve the other files. */
const TURN_BUDGET = 16 << 20;

function compile(format: string, jsonKeys: Record<string, string> | undefined): LineFormat {
  try {
    return compileFormat(format, jsonKeys);
  } catch (e) {
    if (e instanceof FormatError) throw new ConfigKeyError(['format'], e.message);
    throw e;
  }
}

function regexes(list: readonly string[], key: readonly string[]): RegExp[] {
  return list.map((r, i) => {
    try {
      return new RegExp(r, 'i');
    } catch (e) {
      throw new ConfigKeyError([...key, i], `invalid regular expression ${JSON.stringify(r)}: ${(e as Error).message}`);
    }
  });
}

export function createAccessLog(config: AccessLogConfig, ctx: IntegrationContext): Integration {
  const format = compile(config.format, config.json_keys);
  const methods = new MethodTable(config.methods);
  const mc = config.mod_statsd;
  const mod =
    config.compat === 'mod_statsd'
      ? new ModStatsd({
          prefix: mc.prefix === '' || mc.prefix.endsWith('.') ? mc.prefix : `${mc.prefix}.`,
          suffix: mc.suffix === '' || mc.suffix.startsWith('.') ? mc.suffix : `.${mc.suffix}`,
          exclude: regexes(mc.exclude, ['mod_statsd', 'exclude']),
          verbs: mc.verbs,
          maxKeys: mc.max_keys,
          legacyMode: mc.legacy_mode,
        })
      : undefined;
  const patterns = config.path.map((p) => resolve(p));
  const exclude = config.exclude.map((p) => resolve(p));
  const stateFile = ctx.state.path(config.state_file !== undefined ? resolve(config.state_file) : 'offsets.json');
  const sc = newScanContext(format, methods, config.max_line_bytes, mod !== undefined);
  const sources = new Map<string, SourceStats>();
  const source = (name: string): SourceStats => {
    let s = sources.get(name);
    if (!s) sources.set(name, (s = new SourceStats(name, methods, ctx.emitter, mod, format)));
    return s;
  };
  // A named source reports zeros from the start, so its graphs exist before the first line.
  if (config.name !== undefined) source(config.name);
  const newTailer = (): Tailer => {
    const t = new Tailer({
      patterns,
      exclude,
      sourceName: config.name,
      startAt: config.start_at,
      rotateWaitMs: config.rotate_wait,
      scan: sc,
      source,
      log: ctx.log,
      now: () => ctx.clock.now(),
      onError: () => ctx.self.error('receiving'),
    });
    t.restore(loadState(ctx.state.readSync(stateFile)));
    return t;
  };

  let tailer: Tailer | undefined;
  /** Positions of the previous flush: its counts have been through a sink flush since. */
  let previous: { version: number; files: FileRecord[] } | undefined;
  /** Version of the positions last written: an idle service never rewrites the state file. */
  let savedVersion: number | undefined;
  const life = createLifecycle(ctx.signal, () => {
    if (tailer) {
      flush(tailer, true);
      tailer.closeAll();
      tailer = undefined;
    }
  });
  // A read in progress stops at its next chunk; the final flush then saves where it got to.
  life.signal.addEventListener('abort', () => tailer?.halt(), { once: true });
  const pause = (): Promise<void> => new Promise((r) => setImmediate(r));

  const persist = (files: FileRecord[]): boolean => {
    try {
      ctx.state.writeSync(stateFile, stateDoc(files));
      return true;
    } catch (e) {
      ctx.self.error('processing');
      ctx.log.error(`cannot save read positions to ${stateFile}: ${(e as Error).message}`);
      return false;
    }
  };

  /**
   * Emit the interval's sums. The positions are snapshotted in the same tick as the counters
   * are taken, and written one flush later (or at once when `final`): if the process dies
   * before the emitter sends them, the lines are read again rather than lost.
   */
  const flush = (t: Tailer, final: boolean): void => {
    // Snapshotting 10,000 files costs; reuse the last one while nothing moved.
    const snap = previous?.version === t.version ? previous : { version: t.version, files: t.snapshot() };
    let lines = 0;
    let emitted = 0;
    for (const s of sources.values()) {
      lines += s.lines;
      emitted += s.flush();
    }
    if (lines > 0) ctx.self.received(lines);
    if (emitted > 0) ctx.self.emitted(emitted);
    const toSave = final ? snap : previous;
    previous = snap;
    if (toSave && toSave.version !== savedVersion && persist(toSave.files)) savedVersion = toSave.version;
  };

  /** True when a file still has a backlog beyond this turn's budget. */
  const poll = async (t: Tailer): Promise<boolean> => {
    try {
      t.scan('start');
      return await t.readAll(pause, TURN_BUDGET);
    } catch (e) {
      ctx.self.error('receiving');
      ctx.log.error(`reading logs failed: ${(e as Error).message}`);
      return false;
    }
  };

  const loop = (t: Tailer): void => {
    if (life.stopped) return;
    void life.track(poll(t)).then((more) => {
      // A backlog is read turn after turn without waiting; otherwise poll at the interval.
      life.timeout(() => loop(t), more ? 0 : config.poll_interval);
    });
  };

  return {
    async start() {
      if (life.stopped || tailer) return;
      const t = newTailer();
      tailer = t;
      t.scan('start');
      ctx.log.info(`following ${t.fileCount} file(s)`, { path: patterns.join(','), format: format.name, state: stateFile });
      life.interval(() => {
        if (tailer) flush(tailer, false);
      }, config.flush_interval);
      loop(t);
    },

    async once() {
      const t = newTailer();
      try {
        t.scan('once');
        // Several files (a day of rotations, a glob of vhosts) are parsed on worker threads;
        // mod_statsd caps its path keys in reading order, which only one thread can keep.
        const threads = threadCount(config.threads, t.fileCount);
        if (threads > 1 && mod === undefined && workerThreadsUsable) {
          ctx.log.info(`reading ${t.fileCount} files on ${threads} worker threads`);
          await readInParallel(t, { format: config.format, jsonKeys: config.json_keys, methods: config.methods, maxLineBytes: config.max_line_bytes }, threads);
        } else {
          // A turn of the event loop between chunks: a statsd sink sends each chunk's response
          // times as packets, and without the turn their send callbacks cannot run, so a large
          // backlog overflows its in-flight window and drops them.
          await t.readAll(pause);
        }
        flush(t, true);
      } finally {
        t.closeAll();
      }
    },

    stop: life.stop,
  };
}
