/**
 * The app base: one call gives a program its standard flags, a logger named after it and an
 * emitter prefixed `<environment>.<name>`, so using the base *is* the instrumentation.
 */
import { createEmitter } from '../../emitter/emitter.js';
import { parseAddress } from '../../emitter/address.js';
import { sanitizePath } from '../../emitter/names.js';
import { createStatsdSink } from '../../emitter/statsd-sink.js';
import type { Emitter, Sink } from '../../emitter/types.js';
import { createLogger, type Logger } from '../../core/log/logger.js';
import { AppUsageError, parseAppFlags, statsAddress, type AppFlags } from './flags.js';
import { createNoopEmitter } from './noop-emitter.js';
import { withTimers, type AppStats } from './stats.js';

/** Options of {@link createApp}. Only `name` is required. */
export interface AppOptions {
  /**
   * The program's name: the second node of every metric name (`<environment>.<name>.…`, dots
   * allowed for deeper hierarchies such as `billing.worker`) and the scope of every log line.
   */
  name: string;
  /** Arguments to parse (default `process.argv.slice(2)`). */
  argv?: readonly string[];
  /** Environment for the `TELLTALE_*` fallbacks and `NODE_ENV` (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Builds the statsd sink for an address such as `udp://127.0.0.1:8125`; `onError` logs
   * transport errors (rate-limited by the sink). Called once, and only with `--stats`. Default:
   * the built-in statsd sink (UDP packets of up to 7168 bytes to a loopback address, 1432
   * elsewhere; counters summed per flush).
   * Tests inject a memory sink here.
   */
  createSink?: (address: string, onError: (err: Error) => void) => Sink;
  /**
   * Install the exit hooks: flush and close on `beforeExit`, SIGTERM and SIGINT, best-effort
   * flush on `exit`. Default true (only ever with `--stats`: without it there is nothing to
   * flush and no handler is installed).
   */
  handleExit?: boolean;
  /** How long a signal-triggered close may take before the process goes anyway (default 2000 ms). */
  exitTimeoutMs?: number;
  /** How often buffered metrics are sent (default 1000 ms, like hot-shots' buffer interval). */
  flushIntervalMs?: number;
  /** Where log lines go (default stderr). Tests collect them here. */
  logWrite?: (line: string) => void;
}

/** What {@link createApp} returns. */
export interface App {
  /** The name as given. */
  readonly name: string;
  /** The parsed standard flags. */
  readonly flags: AppFlags;
  /**
   * Everything in argv that is not a standard flag, in order and untouched: feed it to the
   * program's own parser (e.g. `parseArgs({ args: app.argv, … })`).
   */
  readonly argv: readonly string[];
  /** Stderr logger scoped to the name, at `--log-level`. */
  readonly log: Logger;
  /** The emitter (prefix `<environment>.<name>`) with `timer()`/`time()`; a no-op without `--stats`. */
  readonly stats: AppStats;
  /** Where stats go (`udp://…`), or undefined without `--stats`. */
  readonly statsAddress: string | undefined;
  /**
   * Flush what is buffered, close the socket and remove the exit hooks. Idempotent; bounded by
   * `timeoutMs` (default 2000). After it, metric calls are counted as rejected, not sent.
   */
  close(opts?: { timeoutMs?: number }): Promise<void>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Create the app base for a program.
 *
 * ```ts
 * const app = createApp({ name: 'thumbnailer' });
 * await app.stats.timer('run', () => work(app.argv));
 * ```
 *
 * Standard flags (see {@link AppFlags}): `--stats`, `--stats-host`, `--stats-port`,
 * `--stats-environment`, `--log-level`, `--config`. Other arguments are left in
 * {@link App.argv}.
 *
 * Exit behaviour with `--stats`: when the program ends normally (the event loop empties) or
 * receives SIGTERM/SIGINT, buffered metrics are flushed before the process goes. After a signal
 * the app re-raises it so the exit status is the usual one, unless the program installed its
 * own handler for that signal, in which case exiting is left to it. `process.exit()` cannot wait
 * for I/O: the app then makes a synchronous best-effort flush (which reaches the wire on a UDP
 * socket that is already connected); prefer `await app.close()` before calling it.
 *
 * @throws AppUsageError for a malformed standard flag (the message names it): print it and
 *   exit 2, like any usage error.
 */
export function createApp(opts: AppOptions): App {
  const name = typeof opts.name === 'string' ? sanitizePath(opts.name) : '';
  if (name === '') throw new TypeError(`createApp: name must contain at least one of [A-Za-z0-9_-], got ${JSON.stringify(opts.name)}`);
  const env = opts.env ?? process.env;
  const { flags, rest } = parseAppFlags(opts.argv ?? process.argv.slice(2), env);
  const log = createLogger({ level: flags.logLevel, scope: opts.name, ...(opts.logWrite ? { write: opts.logWrite } : {}) });
  const prefix = `${flags.statsEnvironment}.${name}`;

  if (!flags.stats) {
    return {
      name: opts.name,
      flags,
      argv: rest,
      log,
      stats: withTimers(createNoopEmitter(prefix), false),
      statsAddress: undefined,
      close: () => Promise.resolve(),
    };
  }

  const address = statsAddress(flags);
  const factory = opts.createSink ?? defaultSink;
  const onSinkError = (err: Error): void => log.warn('stats: send failed', { address, error: err.message });
  let sink: Sink;
  try {
    sink = factory(address, onSinkError);
  } catch (e) {
    throw new AppUsageError(`--stats-host/--stats-port: cannot send stats to ${address}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const emitter: Emitter = createEmitter({
    prefix,
    sinks: [sink],
    flushIntervalMs: opts.flushIntervalMs ?? 1000,
    onError: (_sink, err) => onSinkError(err),
  });

  const exitTimeoutMs = opts.exitTimeoutMs ?? 2000;
  let closing: Promise<void> | undefined;
  const hooks = new Map<string, (...args: unknown[]) => void>();
  const unhook = (): void => {
    for (const [event, fn] of hooks) process.removeListener(event, fn);
    hooks.clear();
  };
  const close = ({ timeoutMs = exitTimeoutMs }: { timeoutMs?: number } = {}): Promise<void> => {
    closing ??= (async () => {
      unhook();
      const s = await emitter.close({ timeoutMs });
      const dropped = Object.values(s.sinks).reduce((n, st) => n + Object.values(st.dropped).reduce((a, b) => a + b, 0), 0);
      if (dropped > 0) log.warn('stats: metrics dropped during this run', { dropped, address });
    })();
    return closing;
  };

  if (opts.handleExit !== false) {
    // beforeExit fires when the loop is empty: the close schedules I/O, and once that is done
    // the loop empties again and (the hook being gone) the process exits.
    hooks.set('beforeExit', () => void close());
    // No I/O can complete inside 'exit'; this only catches process.exit() before close().
    hooks.set('exit', () => {
      if (!closing) void emitter.flush();
    });
    for (const sig of SIGNALS) {
      hooks.set(sig, () => {
        let done = false;
        const reraise = (): void => {
          if (done) return;
          done = true;
          clearTimeout(guard);
          // Our hook is gone now; if nobody else handles the signal, let it take its default
          // course so the exit status says "killed by SIGTERM" as a supervisor expects.
          if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
        };
        // A sink that cannot finish must not keep a signalled process alive.
        const guard = setTimeout(() => {
          unhook();
          reraise();
        }, exitTimeoutMs + 500);
        void close().finally(reraise);
      });
    }
    for (const [event, fn] of hooks) process.on(event, fn);
  }

  log.debug('stats on', { address, prefix });
  return {
    name: opts.name,
    flags,
    argv: rest,
    log,
    stats: withTimers(emitter, true),
    statsAddress: address,
    close,
  };
}

function defaultSink(address: string, onError: (err: Error) => void): Sink {
  const parsed = parseAddress(address, 'udp', ['udp', 'tcp', 'unix']);
  if (typeof parsed === 'string') throw new Error(parsed);
  return createStatsdSink({ address: parsed, onError });
}
