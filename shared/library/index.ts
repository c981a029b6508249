/**
 * The library entry: `import { createEmitter } from 'telltale'`.
 */
export { createEmitter, type EmitterOptions } from '../emitter/emitter.js';
export type { Emitter, EmitterStats, Sink, SinkStats, MetricOptions, ChildOptions } from '../emitter/types.js';
export { createMemorySink, type MemorySink, type Sample } from '../emitter/memory-sink.js';
export { sanitizePath, sanitizeNode } from '../emitter/names.js';
export { createLogger, type Logger, type LogLevel } from '../core/log/logger.js';
export { createApp, type App, type AppOptions } from './app/app.js';
export { parseAppFlags, statsAddress, AppUsageError, APP_ENV_VARS, type AppFlags, type ParsedAppArgs } from './app/flags.js';
export type { AppStats } from './app/stats.js';
export { createNoopEmitter } from './app/noop-emitter.js';
export {
  createHttpMetrics,
  UNMATCHED_ROUTE,
  OVERFLOW_ROUTE,
  ABORTED,
  type HttpMetrics,
  type HttpMetricsOptions,
} from './http/http-metrics.js';
export { instrumentServer, type ServerInstrumentation, type ServerInstrumentationOptions } from './http/node-http.js';
export {
  instrumentExpress,
  expressMetrics,
  type ExpressInstrumentation,
  type ExpressLikeApp,
  type ExpressMetricsOptions,
  type ExpressMetricsMiddleware,
  type ExpressLikeRequest,
} from './http/express.js';
export { routeNode, guessTemplate, methodNode, statusClass } from './http/route-names.js';
