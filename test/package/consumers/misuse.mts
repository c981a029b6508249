// Must NOT compile: proves test/package/install.test.ts type-checks against real declarations.
import { createEmitter } from 'telltale';
import { createApp } from 'telltale/emitter';

const sinks: string = 'statsd';
createEmitter({ sinks });
void createApp;
