// A user's CommonJS program: the imports compile to require('telltale'), which loads the ES
// module through require(esm) (Node >= 20.19). Compiled and run by test/package/install.test.ts.
import { createApp, createEmitter, createMemorySink, instrumentServer } from 'telltale';

async function main(): Promise<void> {
  const sink = createMemorySink();
  const emitter = createEmitter({ prefix: 'cjs', sinks: [sink], selfMetrics: false });
  emitter.counter('hits', 2);
  await emitter.close();
  const app = createApp({ name: 'consumer_cjs' });
  app.stats.counter('runs');
  await app.close();
  process.stdout.write(
    JSON.stringify({ kind: 'cjs', counters: Object.fromEntries(sink.counters()), stats: app.statsAddress, instrumentServer: typeof instrumentServer }),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(String(e) + '\n');
  process.exit(1);
});
