/**
 * What every HTTP test file needs around its servers: an emitter capturing into memory, a server
 * listening on loopback, and both closed after each test. One place, so that the three test files
 * cannot drift apart in how they clean up.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect } from 'vitest';
import { createEmitter } from '../../../emitter/emitter.js';
import { createMemorySink, type MemorySink } from '../../../emitter/memory-sink.js';
import type { Emitter } from '../../../emitter/types.js';
import { until as pollUntil } from '../../../../test/helpers/servers.js';

export interface HttpHarness {
  /** An emitter under `prefix` that never flushes on its own, and the sink it records into. */
  capture(): { sink: MemorySink; emitter: Emitter };
  /**
   * Flush every emitter `capture()` handed out until `predicate` holds for `sink` (bounded).
   * The recorder holds values until its emitter flushes, so waiting on the sink alone would
   * wait forever; flushing them all also makes "the other sink saw nothing" checks sound.
   */
  until(sink: MemorySink, predicate: (sink: MemorySink) => boolean, timeoutMs?: number): Promise<void>;
  /** Listens on 127.0.0.1, an ephemeral port; an Express app or a handler gets a node:http server. */
  listen(server: http.Server | http.RequestListener): Promise<number>;
  /**
   * The sink holds exactly `expected` (route.method.class → requests): one counter per request
   * and one non-negative timer sample per request under each, and no other request series.
   */
  expectReported(sink: MemorySink, expected: ReadonlyMap<string, number>): void;
}

/** Call once at the top of a test file: registers the afterEach that closes what was handed out. */
export function httpHarness(prefix: string): HttpHarness {
  const cleanups: (() => Promise<void>)[] = [];
  const emitters: Emitter[] = [];
  afterEach(async () => {
    emitters.length = 0;
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    capture() {
      const sink = createMemorySink();
      const emitter = createEmitter({ prefix, sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
      cleanups.push(async () => void (await emitter.close()));
      emitters.push(emitter);
      return { sink, emitter };
    },
    async until(sink, predicate, timeoutMs = 5000) {
      const flushedAndHolds = async (): Promise<boolean> => {
        for (const e of emitters) await e.flush();
        return predicate(sink);
      };
      await pollUntil(flushedAndHolds, timeoutMs, 'the sink to reach the expected state', 5);
    },
    async listen(target) {
      const server = typeof target === 'function' ? http.createServer(target) : target;
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => server.close(() => r())));
      return (server.address() as AddressInfo).port;
    },
    expectReported(sink, expected) {
      const wantCounters: Record<string, number> = {};
      const timings = sink.timings();
      for (const [key, n] of expected) {
        wantCounters[`${prefix}.http.requests.${key}`] = n;
        const samples = timings.get(`${prefix}.http.response_time.${key}`) ?? [];
        expect(samples, key).toHaveLength(n);
        for (const ms of samples) expect(ms).toBeGreaterThanOrEqual(0);
      }
      expect(Object.fromEntries(sink.counters())).toEqual(wantCounters);
      expect([...timings.keys()].sort()).toEqual([...expected.keys()].map((k) => `${prefix}.http.response_time.${k}`).sort());
    },
  };
}

/** Requests counted at the sink, all routes, methods and statuses together. */
export const requestTotal = (s: MemorySink): number =>
  [...s.counters().entries()].filter(([k]) => k.includes('.requests.')).reduce((a, [, v]) => a + v, 0);
