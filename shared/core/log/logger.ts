/**
 * Leveled, one-line-per-event logger that only ever writes to stderr.
 * stdout belongs to protocols (the supervisor listener speaks READY/RESULT there).
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines carry `[scope]`; levels can be overridden per child. */
  child(scope: string, level?: LogLevel): Logger;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  level?: LogLevel;
  scope?: string;
  /** Where lines go; defaults to process.stderr. Tests pass a collecting function. */
  write?: (line: string) => void;
  now?: () => number;
}

/**
 * Longest message or field value written: values often come from files and sockets (a resource
 * title, an exec's output), and one line must never become megabytes of stderr.
 */
export const MAX_LOG_VALUE_CHARS = 2048;

function bound(s: string): string {
  return s.length > MAX_LOG_VALUE_CHARS ? `${s.slice(0, MAX_LOG_VALUE_CHARS)}…(+${s.length - MAX_LOG_VALUE_CHARS} chars)` : s;
}

function formatValue(v: string | number | boolean): string {
  const s = bound(String(v));
  // Quote anything with spaces, quotes or = so a line stays machine-splittable.
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const now = opts.now ?? Date.now;
  const scope = opts.scope;
  const min = RANK[level];

  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void => {
    if (RANK[lvl] < min) return;
    let line = `${new Date(now()).toISOString()} ${lvl.padEnd(5)} ${scope ? `[${scope}] ` : ''}${bound(msg).replace(/\n/g, '\\n')}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined || v === null) continue;
        line += ` ${k}=${formatValue(v)}`;
      }
    }
    write(line + '\n');
  };

  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (childScope, childLevel) =>
      createLogger({
        level: childLevel ?? level,
        scope: scope ? `${scope}/${childScope}` : childScope,
        write,
        now,
      }),
  };
}

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}
