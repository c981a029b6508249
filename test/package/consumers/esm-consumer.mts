// A user's ESM program against the installed package (test/package/install.test.ts compiles it
// with tsc against the shipped .d.ts, then runs it with --stats flags pointing at a test statsd).
import { createApp, instrumentServer, type App, type Emitter } from 'telltale';
import { createEmitter, createMemorySink, type MemorySink } from 'telltale/emitter';
import { parseAppFlags } from 'telltale/app';
import { createHttpMetrics } from 'telltale/http';

const sink: MemorySink = createMemorySink();
const emitter: Emitter = createEmitter({ prefix: 'esm', sinks: [sink], selfMetrics: false });
emitter.counter('hits');
emitter.counter('hits');
const http = createHttpMetrics({ emitter });
void http;
await emitter.close();

const { flags } = parseAppFlags(process.argv.slice(2));
if (!flags.stats) throw new Error('run me with --stats');
const app: App = createApp({ name: 'consumer_esm' });
app.stats.counter('runs');
await app.close();

process.stdout.write(
  JSON.stringify({ kind: 'esm', counters: Object.fromEntries(sink.counters()), stats: app.statsAddress, instrumentServer: typeof instrumentServer }),
);
