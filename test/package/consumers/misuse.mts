// Must NOT compile, with exactly these two errors (the import, the sinks): proves that
// test/package/install.test.ts type-checks against the real declarations.
import { createEmitter } from 'telltale';
import { createApp } from 'telltale/emitter';

const sinks: string = 'statsd';
createEmitter({ sinks });
void createApp;
