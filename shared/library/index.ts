/**
 * The library entry: `import { createEmitter, createApp } from 'telltale'`. The union of
 * `telltale/emitter`, `telltale/app` and `telltale/http` plus the logger; it loads nothing of the
 * integrations and no dependency (test/package/library-import.test.ts records what it loads).
 */
export * from './emitter.js';
export * from './app/index.js';
export * from './http/index.js';
export { createLogger, type Logger, type LogLevel } from '../core/log/logger.js';
