/**
 * `telltale/app`: the app base (standard flags, a statsd emitter, stderr logger, flush on exit).
 * Loads the emitter and its statsd sink, not the HTTP instrumentation.
 */
export { createApp, type App, type AppOptions } from './app.js';
export { parseAppFlags, statsAddress, AppUsageError, APP_ENV_VARS, type AppFlags, type ParsedAppArgs } from './flags.js';
export type { AppStats } from './stats.js';
export { createNoopEmitter } from './noop-emitter.js';
