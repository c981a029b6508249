/**
 * max_keys bounds how many distinct names the graphite/console sink aggregates (issue 18 item 8):
 * past it only NEW names are refused; names it already holds keep moving.
 */
import { describe, expect, it } from 'vitest';
import { createGraphiteSink } from '../graphite-sink.js';

function consoleSink(maxKeys: number): { sink: ReturnType<typeof createGraphiteSink>; lines: () => Map<string, number> } {
  let text = '';
  const sink = createGraphiteSink({ target: { write: (t) => void (text += t) }, flushIntervalMs: 1000, maxKeys });
  return {
    sink,
    // The last flush's value per path.
    lines: () => {
      const out = new Map<string, number>();
      for (const l of text.trim().split('\n')) {
        const [path, value] = l.split(' ');
        out.set(path!, Number(value));
      }
      text = '';
      return out;
    },
  };
}

describe('graphite sink max_keys', () => {
  it('at the limit, existing counters, gauges, timers and sets keep their updates; new names are refused and counted', async () => {
    const { sink, lines } = consoleSink(4);
    sink.counter('a', 1, 1);
    sink.gauge('g', 1);
    sink.timing('t', 10, 1);
    sink.set('s', 'x');
    await sink.flush(1_000_000);
    lines();
    // Full: one new name of each kind is refused...
    sink.counter('new_counter', 1, 1);
    sink.gauge('new_gauge', 1);
    sink.timing('new_timer', 1, 1);
    sink.set('new_set', 'y');
    // ...and every existing one still moves.
    sink.counter('a', 5, 1);
    sink.gaugeDelta('g', 2);
    sink.timing('t', 30, 1);
    sink.set('s', 'y');
    sink.set('s', 'z');
    await sink.flush(1_001_000);
    const got = lines();
    expect(got.get('stats.counters.a.count')).toBe(5);
    expect(got.get('stats.gauges.g')).toBe(3);
    expect(got.get('stats.timers.t.upper')).toBe(30);
    expect(got.get('stats.sets.s.count')).toBe(2);
    expect([...got.keys()].some((k) => k.includes('new_'))).toBe(false);
    expect(sink.stats().dropped['too_many_keys']).toBe(4);
  });

  it('a name held as one kind does not admit a new name of another kind', async () => {
    const { sink } = consoleSink(1);
    sink.counter('a', 1, 1);
    sink.gauge('a', 1);
    expect(sink.stats().dropped['too_many_keys']).toBe(1);
  });
});
