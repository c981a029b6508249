/**
 * emitter.timingBatch(name, values, count) must be exactly `count` timing() calls: the same lines on
 * the statsd wire (its batch path), the same samples in a sink without a batch path, the same
 * rejections and the same sampling.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startUdpServer, type UdpServer } from '../../../test/helpers/servers.js';
import { createEmitter } from '../emitter.js';
import { createMemorySink } from '../memory-sink.js';
import { createStatsdSink } from '../statsd-sink.js';
import type { Emitter, MetricOptions } from '../types.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function udp(): Promise<UdpServer> {
  const s = await startUdpServer();
  cleanups.push(() => s.close());
  return s;
}

/** 0, 0.1, … 0.9, 0, … : the same "random" sequence for both emitters. */
function cycle(): () => number {
  let x = 0;
  return () => (x++ % 10) / 10;
}

const VALUES = [0, 1, 22, 1.234, 0.001, 59.999, 1.2345678, 1e-7, 123456.789, 3000000, 0.5, 7];

type Feed = (e: Emitter, name: string, values: number[], o?: MetricOptions) => void;
const oneByOne: Feed = (e, name, values, o) => {
  for (const v of values) e.timing(name, v, o);
};
const batched: Feed = (e, name, values, o) => {
  // A larger, reused array with garbage after `count`: only [0, count) may be read.
  const arr = new Float64Array(values.length + 3).fill(99);
  arr.set(values);
  e.timingBatch(name, arr, values.length, o);
  arr.fill(-5);
};

async function wire(feed: Feed, o: { timerSampleRate?: number; sampleRate?: number }): Promise<{ lines: string[]; stats: unknown }> {
  const srv = await udp();
  const sink = createStatsdSink({
    address: { transport: 'udp', host: '127.0.0.1', port: srv.port },
    random: cycle(),
    ...(o.timerSampleRate !== undefined ? { timerSampleRate: o.timerSampleRate } : {}),
  });
  const e = createEmitter({ sinks: [sink], selfMetrics: false, random: cycle(), prefix: 'p' });
  const opts = o.sampleRate !== undefined ? { sampleRate: o.sampleRate } : undefined;
  for (let round = 0; round < 3; round++) feed(e, 'lat', VALUES, opts);
  feed(e, 'other.lat', [5, 6], opts);
  const stats = await e.close();
  const want = stats.sinks['statsd']!.sent;
  await srv.waitFor((s) => s.lines().length >= want);
  return { lines: srv.lines(), stats };
}

describe('emitter.timingBatch', () => {
  for (const o of [{}, { sampleRate: 0.3 }, { timerSampleRate: 0.5 }, { sampleRate: 0.5, timerSampleRate: 0.5 }]) {
    it(`sends the statsd lines of one timing() per value ${JSON.stringify(o)}`, async () => {
      const a = await wire(oneByOne, o);
      const b = await wire(batched, o);
      expect(a.lines.length).toBeGreaterThan(0);
      expect(b.lines).toEqual(a.lines);
      expect(b.stats).toEqual(a.stats);
    });
  }

  it('gives a sink without a batch path the same samples, and rejects the same values', async () => {
    const run = async (feed: Feed): Promise<{ samples: unknown; rejected: Record<string, number> }> => {
      const sink = createMemorySink();
      const e = createEmitter({ sinks: [sink], selfMetrics: false, random: cycle() });
      feed(e, 'ok', [1, Number.NaN, -1, 2.5, Infinity, 0, -0, 3], undefined);
      feed(e, 'neg', [1, -2, 3], undefined);
      feed(e, 'sampled', [1, 2, 3, 4, 5, 6, 7], { sampleRate: 0.4 });
      feed(e, 'bad-rate', [1, 2], { sampleRate: 0 });
      feed(e, '###', [1, Number.NaN, 2], undefined);
      feed(e, 'none', [], undefined);
      await e.close();
      feed(e, 'late', [1, 2, 3], undefined);
      return { samples: sink.samples.map((s) => ({ ...s })), rejected: e.stats().rejected };
    };
    const a = await run(oneByOne);
    const b = await run(batched);
    expect(a.rejected).toEqual({ not_finite: 3, negative_timer: 2, bad_sample_rate: 2, invalid_name: 2, closed: 3 });
    expect(b).toEqual(a);
  });

  it('sends nothing for count 0 and reads no further than the array', async () => {
    const sink = createMemorySink();
    const e = createEmitter({ sinks: [sink], selfMetrics: false });
    e.timingBatch('a', new Float64Array([1, 2]), 0);
    e.timingBatch('b', new Float64Array([1, 2]), 5);
    e.timingBatch('c', new Float64Array([4]));
    expect(sink.timings()).toEqual(new Map([['b', [1, 2]], ['c', [4]]]));
    expect(e.stats().rejected).toEqual({});
  });
});
