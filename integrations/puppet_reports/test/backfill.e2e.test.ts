/**
 * A backfill reads and parses stored reports on worker threads. The built command (dist/:
 * worker threads need compiled code) runs `puppet_reports --once` with `backfill: true` over the
 * same reportdir with `threads: 1` and with several threads: every line it emits, in order, and
 * the state file must be identical. The reportdir holds the real Puppet 7 reports of fixtures/
 * as many hosts' runs (certname and transaction_uuid rewritten per copy), same-run duplicates,
 * a truncated report and a file that is not YAML.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/helpers/cli.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

interface Outcome {
  /** Emitted lines in order; only the flush time of aggregated counters/gauges is dropped. */
  lines: string[];
  state: string;
  stderr: string;
}

async function once(root: string, reportdir: string, threads: number, tag: string): Promise<Outcome> {
  const state = join(root, `state-${tag}`);
  const config = join(root, `${tag}.yaml`);
  writeFileSync(
    config,
    `emitter:\n  prefix: t\n  sinks:\n    - type: console\nstate_dir: ${state}\nintegrations:\n  puppet:\n    type: puppet_reports\n    reportdir: ${reportdir}\n    backfill: true\n    threads: ${threads}\n`,
  );
  const run = runCli(['puppet_reports', '--once', '--log-level', 'info', '--config', config]);
  const code = await run.exited;
  expect(code, run.stderr()).toBe(0);
  const lines = run
    .stderr()
    .split('\n')
    .filter((l) => /^\S+ \S+ \d+$/.test(l))
    .filter((l) => !l.includes('.telltale.emitter.'))
    .map((l) => (l.startsWith('stats.') ? l.split(' ').slice(0, 2).join(' ') : l));
  return { lines, state: readFileSync(join(state, 'puppet', 'puppet_reports-state.json'), 'utf8'), stderr: run.stderr() };
}

describe('puppet_reports backfill on worker threads', () => {
  it('emits exactly what one thread emits, in the same order', async () => {
    const root = mkdtempSync(join(tmpdir(), 'telltale-puppet-par-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const reportdir = join(root, 'reports');
    const reports = readdirSync(FIXTURES).filter((f) => f.endsWith('.report.yaml'));
    expect(reports.length).toBeGreaterThanOrEqual(5);
    for (let h = 0; h < 8; h++) {
      const host = `node${String(h).padStart(2, '0')}.example.com`;
      const dir = join(reportdir, host);
      mkdirSync(dir, { recursive: true });
      reports.forEach((f, i) => {
        const text = readFileSync(join(FIXTURES, f), 'utf8')
          .replace(/^host: .*$/m, `host: ${host}`)
          .replace(/^transaction_uuid: .*$/m, `transaction_uuid: 00000000-0000-4000-8000-${String(h * 100 + i).padStart(12, '0')}`);
        writeFileSync(join(dir, `2026010${h % 9}${String(10 + i).padStart(2, '0')}00.yaml`), text);
        // The same run stored twice in one minute pair: the second is a duplicate.
        if (i === 0) writeFileSync(join(dir, `2026010${h % 9}${String(10 + i).padStart(2, '0')}01.yaml`), text);
      });
    }
    const broken = join(reportdir, 'node99.example.com');
    mkdirSync(broken);
    const full = readFileSync(join(FIXTURES, reports[0]!), 'utf8');
    writeFileSync(join(broken, '202601011200.yaml'), full.slice(0, Math.floor(full.length / 2)));
    writeFileSync(join(broken, '202601011300.yaml'), '{ not: [yaml\n');

    const one = await once(root, reportdir, 1, 'one');
    const par = await once(root, reportdir, 4, 'par');
    expect(par.stderr).toMatch(/reading \d+ stored reports on 4 worker threads/);
    expect(one.stderr).not.toMatch(/worker threads/);
    // Every Puppet 7 copy is a run of its own; the legacy report has no certname to rewrite
    // (every host's copy is one run: 1 emitted, 7 duplicates) and each host's first report is
    // stored twice.
    const p7 = reports.filter((f) => f.startsWith('p7-')).length;
    expect(one.lines).toContain(`stats.counters.t.puppet._watcher.reports.count ${8 * p7 + 1}`);
    expect(one.lines).toContain(`stats.counters.t.puppet._watcher.duplicates.count ${7 + 8}`);
    expect(one.lines.some((l) => /_watcher\.errors\.(incomplete|parse)\.count [1-9]/.test(l))).toBe(true);
    expect(par.lines).toEqual(one.lines);
    expect(par.state).toEqual(one.state);
  });
});
