/**
 * Test helpers around the real Debian `puppet` and its Ruby: run `puppet apply` into a temp
 * reportdir, and read reports back through Puppet's own classes (truth.rb) for expected values.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { puppetReports } from '../index.js';

const run = promisify(execFile);
export const TRUTH_RB = fileURLToPath(new URL('./truth.rb', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface ApplyDirs {
  root: string;
  reportdir: string;
  publicdir: string;
}

/** Per-"machine" puppet dirs under root; reportdir may be shared by several machines. */
export function applyDirs(root: string, reportdir = join(root, 'reports')): ApplyDirs {
  for (const d of ['conf', 'var', 'code', 'log', 'run', 'public']) mkdirSync(join(root, d), { recursive: true });
  mkdirSync(reportdir, { recursive: true });
  return { root, reportdir, publicdir: join(root, 'public') };
}

export interface ApplyResult {
  exitCode: number;
  stderr: string;
}

/**
 * `puppet apply` with every directory in the temp tree and `--reports store`. Returns the
 * --detailed-exitcodes code (0 unchanged, 2 changed, 4/6 failures) instead of throwing on it.
 */
export async function puppetApply(
  dirs: ApplyDirs,
  certname: string,
  manifest: string,
  extra: readonly string[] = [],
): Promise<ApplyResult> {
  const pp = join(dirs.root, `manifest-${Date.now()}-${Math.random().toString(36).slice(2)}.pp`);
  writeFileSync(pp, manifest);
  const args = [
    'apply',
    '--confdir', join(dirs.root, 'conf'),
    '--vardir', join(dirs.root, 'var'),
    '--codedir', join(dirs.root, 'code'),
    '--logdir', join(dirs.root, 'log'),
    '--rundir', join(dirs.root, 'run'),
    '--publicdir', dirs.publicdir,
    '--reportdir', dirs.reportdir,
    '--reports', 'store',
    '--report',
    '--certname', certname,
    '--detailed-exitcodes',
    '--color', 'false',
    ...extra,
    pp,
  ];
  try {
    const r = await run('puppet', args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    return { exitCode: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: unknown; stderr?: string };
    if (typeof err.code === 'number' && [2, 4, 6].includes(err.code)) return { exitCode: err.code, stderr: err.stderr ?? '' };
    throw e;
  }
}

/** The newest report file of a certname in a reportdir. */
export function newestReport(reportdir: string, certname: string): string {
  const dir = join(reportdir, certname);
  const files = readdirSync(dir).filter((f) => /^\d{12}\.yaml$/.test(f)).sort();
  const f = files.at(-1);
  if (!f) throw new Error(`no report in ${dir}`);
  return join(dir, f);
}

export interface Truth {
  path: string;
  host: string;
  time: number;
  status: string;
  noop: boolean | null;
  noop_pending: boolean | null;
  corrective_change: boolean | null;
  cached_catalog_status: string | null;
  transaction_uuid: string | null;
  transaction_completed: boolean | null;
  report_format: number;
  metrics: Record<string, number>;
  labels: Record<string, string>;
  logs: Record<string, number>;
  failed_resources: string[];
}

/** What Puppet's own Ruby reads from each file. */
export async function rubyTruth(paths: readonly string[], legacy = false): Promise<Truth[]> {
  const r = await run('ruby', [TRUTH_RB, ...(legacy ? ['--legacy'] : []), ...paths], { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return JSON.parse(r.stdout) as Truth[];
}

/** A manifest of n file resources under dir (the "big catalog" case). */
export function bigManifest(dir: string, n: number): string {
  return `file { '${dir}': ensure => directory }\nInteger[1, ${n - 1}].each |$i| { file { "${dir}/f\${i}": content => "file \${i}\\n" } }\n`;
}

/** The parsed schema defaults (what integrations.yaml with only `reportdir` gives). */
export function defaults(): Parameters<typeof puppetReports.create>[0] {
  const r = puppetReports.schema.parse({ reportdir: '/unused' }, [], { issues: [] });
  if (typeof r === 'symbol') throw new Error('schema defaults invalid');
  return r;
}
