import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { counterDelta, createDeltaTable } from '../deltas.js';
import { parseDiskstats, parseLoadavg, parseMeminfo, parseNetDev, parseStat } from '../proc.js';
import { parseSingleNumber } from '../commands.js';
import { mountNode } from '../metrics.js';
import { FIXTURES } from './proc-tree.js';

const fixture = (f: string): string => readFileSync(join(FIXTURES, 'proc', f), 'latin1');

describe('/proc parsers on files captured from a real machine', () => {
  it('meminfo', () => {
    expect(parseMeminfo(fixture('meminfo'))).toEqual({ totalBytes: 24684096 * 1024, freeBytes: 23748180 * 1024, availableBytes: 23918764 * 1024 });
  });

  it('stat: the aggregate cpu line and procs_*; per-CPU and intr lines ignored', () => {
    expect(parseStat(fixture('stat'))).toEqual({ cpu: [11919, 0, 6694, 1716248, 720, 0, 102, 71], procsRunning: 1, procsBlocked: 0 });
  });

  it('loadavg', () => {
    const l = parseLoadavg(fixture('loadavg'));
    expect(l).toBeDefined();
    expect(l!.total).toBeGreaterThan(0);
  });

  it('diskstats: raw counters per device, no bad lines', () => {
    const d = parseDiskstats(fixture('diskstats'));
    expect(d.bad).toBe(0);
    expect(d.entries.get('vda')).toHaveLength(6);
    expect(d.entries.has('loop0')).toBe(true);
  });

  it('net/dev: headers skipped, every interface read', () => {
    const n = parseNetDev(fixture('net/dev'));
    expect(n.bad).toBe(0);
    expect([...n.entries.keys()]).toEqual(['lo', 'ifb0', 'ifb1', 'eth0']);
  });
});

describe('/proc parsers on older and odd formats', () => {
  it('meminfo without MemAvailable (kernels before 3.14) estimates it from free + buffers + cached', () => {
    expect(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n')).toEqual({ totalBytes: 1024000, freeBytes: 102400, availableBytes: 400 * 1024 });
    expect(parseMeminfo('garbage')).toBeUndefined();
  });

  it('stat with only four cpu fields (2.4-era) and without procs lines', () => {
    expect(parseStat('cpu  1 2 3 4\n')).toEqual({ cpu: [1, 2, 3, 4, 0, 0, 0, 0], procsRunning: undefined, procsBlocked: undefined });
    expect(parseStat('cpu0 1 2 3 4\n')).toBeUndefined();
  });

  it('diskstats: pre-4.18 layout (11 counters) parses; short or non-numeric lines are counted as bad', () => {
    const d = parseDiskstats('   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n   8 1 sdb x\n   8 2 sdc 1 2 z 4 5 6 7 8 9 10 11\n');
    expect(d.entries.get('sda')).toEqual([1, 3, 4, 5, 7, 8]);
    expect(d.bad).toBe(2);
  });

  it('net/dev: a counter that runs into the colon', () => {
    const n = parseNetDev('Inter-|  Receive\n face |bytes\n  eth0:307864620    7893    0    0    0     0          0         0   562136    4752    0    0    0     0       0          0\n');
    expect(n.entries.get('eth0')).toEqual([307864620, 7893, 0, 0, 562136, 4752, 0, 0]);
  });
});

describe('counter deltas', () => {
  it('unwraps a 32-bit wrap and refuses to invent one for a reset', () => {
    expect(counterDelta(10, 25)).toBe(15);
    expect(counterDelta(2 ** 32 - 10, 5)).toBe(15);
    // A small counter going back to 0 is a reset, not 4 GiB of traffic.
    expect(counterDelta(5000, 10)).toBeUndefined();
    // A 64-bit counter past 2^32 cannot have wrapped at 2^32.
    expect(counterDelta(2 ** 40, 10)).toBeUndefined();
  });

  it('the table: baseline on first sight, per-field resets, sweep forgets what disappeared', () => {
    const t = createDeltaTable();
    expect(t.update('a', [1, 2]).deltas).toBeUndefined();
    expect(t.sweep()).toEqual([]);
    expect(t.update('a', [4, 1])).toEqual({ deltas: [3, undefined], resets: 1 });
    expect(t.sweep()).toEqual([]);
    expect(t.sweep()).toEqual(['a']);
    expect(t.size).toBe(0);
    expect(t.update('a', [0, 0]).deltas).toBeUndefined();
  });
});

describe('small helpers', () => {
  it('parseSingleNumber accepts one number and nothing else', () => {
    for (const [text, v] of [['42', 42], [' -1.5\n', -1.5], ['3e6', 3e6], ['+7', 7], ['.5', 0.5]] as const) expect(parseSingleNumber(text)).toEqual({ ok: true, value: v });
    for (const text of ['', 'NaN', 'Infinity', '1 2', '12abc', '0x10', '1e999']) expect(parseSingleNumber(text).ok, text).toBe(false);
  });

  it('mountNode', () => {
    expect(mountNode('/')).toBe('root');
    expect(mountNode('/var/log/')).toBe('var_log');
    expect(mountNode('/mnt/data.1')).toBe('mnt_data_1');
  });
});
