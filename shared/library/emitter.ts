/**
 * `telltale/emitter`: the emitter, its types, the in-memory sink and the naming rule, nothing
 * else (no app, no HTTP instrumentation, nothing of the integrations).
 */
export { createEmitter, type EmitterOptions } from '../emitter/emitter.js';
export type { Emitter, EmitterStats, Sink, SinkStats, MetricOptions, ChildOptions, EventOptions, TelltaleEvent } from '../emitter/types.js';
export { createGraphiteEventsSink, type GraphiteEventsSinkOptions } from '../emitter/graphite-events-sink.js';
export { createMemorySink, type MemorySink, type Sample } from '../emitter/memory-sink.js';
export { sanitizePath, sanitizeNode } from '../emitter/names.js';
