/**
 * The library entry: `import { createEmitter } from 'telltale'`.
 */
export { createEmitter, type EmitterOptions } from './emitter/emitter.js';
export type { Emitter, EmitterStats, Sink, SinkStats, MetricOptions, ChildOptions } from './emitter/types.js';
export { createMemorySink, type MemorySink, type Sample } from './emitter/memory-sink.js';
export { sanitizePath, sanitizeNode } from './emitter/names.js';
export { createLogger, type Logger, type LogLevel } from './log/logger.js';
