import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA_DIR, instance, REAL_LOG, requireData, tempDir, totals } from './harness.js';

interface Expected {
  lines: number;
  parsed: number;
  unparsed: number;
  byClass_parsed: Record<string, number>;
  good_parsed: number;
  bad_parsed: number;
  status_codes_all_lines: Record<string, number>;
  methods: Record<string, number>;
}

describe('the real Apache combined log (elastic/examples, 10,000 lines)', () => {
  requireData();
  const expected = JSON.parse(readFileSync(join(DATA_DIR, 'elastic-examples-apache_logs.expected.json'), 'utf8')) as Expected;
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('once() gives exactly the expected counts', async () => {
    const i = instance({ path: REAL_LOG, format: 'combined', name: 'real' }, { stateDir: tmp.dir });
    await i.integ.once();
    await i.integ.stop();
    const t = totals(i, 'real');
    expect(t['requests']).toBe(expected.parsed);
    expect(t['unparsed']).toBe(expected.unparsed);
    expect(t['good']).toBe(expected.good_parsed);
    expect(t['bad']).toBe(expected.bad_parsed);
    for (const [cls, n] of Object.entries(expected.byClass_parsed)) expect(t[`status.${cls}`] ?? 0, cls).toBe(n);
    // The one unparsed line (8899) is a 200: per-code counts of parsed lines are all-lines minus it.
    const codes = { ...expected.status_codes_all_lines, '200': expected.status_codes_all_lines['200']! - 1 };
    for (const [code, n] of Object.entries(codes)) expect(t[`status.${code}`], code).toBe(n);
    const methodSum = Object.values(expected.methods).reduce((a, b) => a + b, 0);
    // Methods of parsed lines: the unparsed line is a GET.
    for (const [m, n] of Object.entries(expected.methods)) expect(t[`method.${m}`], m).toBe(m === 'GET' ? n - (methodSum - expected.parsed) : n);
    expect(i.sink.timings().size).toBe(0); // no response-time field in this format
    expect(t['lines.invalid']).toBeUndefined();
  });

  it('a second once() with the same state counts nothing new (cron-style use)', async () => {
    const i = instance({ path: REAL_LOG, format: 'combined', name: 'real' }, { stateDir: tmp.dir });
    await i.integ.once();
    expect(totals(i, 'real')['requests']).toBe(0);
    expect(totals(i, 'real')['unparsed']).toBe(0);
  });
});
