/**
 * Builds an IntegrationContext wired to an in-memory sink, for tests of one integration without
 * any network. Real-server tests use test/helpers/servers.ts instead.
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmitter } from '../../shared/emitter/emitter.js';
import { createMemorySink, type MemorySink } from '../../shared/emitter/memory-sink.js';
import type { Emitter } from '../../shared/emitter/types.js';
import { createLogger, type LogLevel } from '../../shared/core/log/logger.js';
import type { IntegrationContext } from '../../shared/core/integration.js';
import { createSelfMetrics } from '../../shared/core/runtime/self-metrics.js';
import { createStateFiles } from '../../shared/core/runtime/state-files.js';

export interface TestContext {
  ctx: IntegrationContext;
  sink: MemorySink;
  root: Emitter;
  logs: string[];
  abort: AbortController;
  stdin: PassThrough;
  stdout: PassThrough;
}

export function testContext(
  o: {
    name?: string;
    type?: string;
    prefix?: string;
    intervalMs?: number;
    now?: () => number;
    stateDir?: string;
    logLevel?: LogLevel;
    stdin?: Readable;
    stdout?: Writable;
    env?: Record<string, string | undefined>;
  } = {},
): TestContext {
  const sink = createMemorySink();
  const now = o.now ?? Date.now;
  const root = createEmitter({ sinks: [sink], now, selfMetrics: false, flushIntervalMs: 3_600_000 });
  const logs: string[] = [];
  const log = createLogger({ level: o.logLevel ?? 'debug', write: (l) => void logs.push(l), now }).child(o.name ?? 'test');
  const abort = new AbortController();
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), 'telltale-state-'));
  const ctx: IntegrationContext = {
    name: o.name ?? 'test',
    emitter: root.child({ prefix: o.prefix ?? '' }),
    log,
    clock: { now },
    signal: abort.signal,
    self: createSelfMetrics(root, o.type ?? 'test', o.name ?? 'test'),
    stateDir,
    state: createStateFiles(stateDir, { type: o.type ?? 'test', instance: o.name ?? 'test' }),
    intervalMs: o.intervalMs ?? 1000,
    env: o.env ?? process.env,
    stdio: { stdin: o.stdin ?? stdin, stdout: o.stdout ?? stdout },
  };
  return { ctx, sink, root, logs, abort, stdin, stdout };
}
