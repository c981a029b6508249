#!/usr/bin/env node
/**
 * library-import benchmark: what `telltale` costs a program that only uses the library, next to
 * hot-shots (the statsd client most Node programs use), both installed the way users install
 * them, in the same run.
 *
 *   - install: `npm pack` of this tree installed from the tarball with --omit=dev, and
 *     `npm install hot-shots@<the locked version>`, each into an empty temp directory, from
 *     npm's cache (--prefer-offline) and with --ignore-scripts (hot-shots' optional unix-dgram
 *     would otherwise try node-gyp). Size is the apparent size of node_modules (the sum of file
 *     sizes, as npm's unpackedSize counts) and what it takes on this disk (blocks, as du counts).
 *   - cold import: a fresh `node --input-type=module -e "await import(X)"` per sample, timed
 *     from spawn to exit, rounds interleaving every variant (order rotated each round) so load on
 *     a shared machine hits all alike; the import cost is the median minus the median of the
 *     same command importing nothing. Wall time from spawn to exit is what a user waits for;
 *     the child's CPU time (user + system) moves far less on a shared machine. Peak RSS is the
 *     child's maxRSS.
 *
 * Usage: npm run build && node bench/library-import.mjs   (IMPORT_BENCH_ROUNDS, default 30)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.IMPORT_BENCH_ROUNDS ?? 30);
const npmArgs = ['--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'];

function walk(dir) {
  let files = 0;
  let bytes = 0;
  let disk = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const sub = walk(p);
      files += sub.files;
      bytes += sub.bytes;
      disk += sub.disk;
    } else if (e.isFile()) {
      const st = lstatSync(p);
      files++;
      bytes += st.size;
      disk += st.blocks * 512;
    }
  }
  return { files, bytes, disk };
}

function packages(nodeModules) {
  const names = [];
  const scan = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      if (e.name.startsWith('@')) for (const s of readdirSync(join(dir, e.name))) names.push(`${e.name}/${s}`);
      else names.push(e.name);
    }
  };
  scan(nodeModules);
  return names;
}

function install(dir, spec) {
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench-consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--omit=dev', ...npmArgs, spec], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const nm = join(dir, 'node_modules');
  return { ...walk(nm), packages: packages(nm).length };
}

const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MB`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const work = mkdtempSync(join(tmpdir(), 'telltale-bench-import-'));
try {
  const hotShotsVersion = JSON.parse(readFileSync(join(repo, 'node_modules/hot-shots/package.json'), 'utf8')).version;
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repo, encoding: 'utf8' }))[0];
  const tt = install(join(work, 'telltale'), join(work, packed.filename));
  const own = walk(join(work, 'telltale/node_modules/telltale'));
  const hs = install(join(work, 'hot-shots'), `hot-shots@${hotShotsVersion}`);

  console.log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${new Date().toISOString().slice(0, 10)}`);
  console.log('\ninstall (npm install --omit=dev; node_modules)');
  console.log(`${'package'.padEnd(40)}${'packages'.padStart(9)}${'files'.padStart(8)}${'size'.padStart(11)}${'vs hot-shots'.padStart(14)}${'on disk'.padStart(11)}`);
  const row = (label, r) =>
    console.log(
      `${label.padEnd(40)}${String(r.packages ?? '').padStart(9)}${String(r.files).padStart(8)}${mb(r.bytes).padStart(11)}${`${(r.bytes / hs.bytes).toFixed(1)}×`.padStart(14)}${mb(r.disk).padStart(11)}`,
    );
  row(`telltale ${packed.version} with its dependencies`, tt);
  row('  of which telltale itself', own);
  row(`hot-shots ${hotShotsVersion}`, hs);

  // Cold import: every variant runs from the directory it was installed into.
  const variants = [
    { label: 'node, importing nothing', cwd: join(work, 'telltale'), spec: null },
    { label: "import 'hot-shots'", cwd: join(work, 'hot-shots'), spec: 'hot-shots' },
    { label: "import 'telltale'", cwd: join(work, 'telltale'), spec: 'telltale' },
    { label: "import 'telltale/emitter'", cwd: join(work, 'telltale'), spec: 'telltale/emitter' },
  ];
  const report = 'const u = process.resourceUsage(); process.stdout.write(JSON.stringify({ rss: u.maxRSS, cpu: (u.userCPUTime + u.systemCPUTime) / 1000 }));';
  for (const v of variants) v.code = (v.spec ? `await import(${JSON.stringify(v.spec)});` : '') + report;
  for (const v of variants) {
    v.ms = [];
    v.cpu = [];
    v.rss = [];
  }
  const sample = (v) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', v.code], { cwd: v.cwd, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${v.label} failed: ${r.stderr}`);
    const { rss, cpu } = JSON.parse(r.stdout);
    v.ms.push(ms);
    v.cpu.push(cpu);
    v.rss.push(rss / 1024);
  };
  for (const v of variants) sample(v); // warm the page cache; not counted
  for (const v of variants) v.ms.length = v.cpu.length = v.rss.length = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < variants.length; i++) sample(variants[(round + i) % variants.length]);
  }
  // Wall time is what a user waits for; CPU time (user + system of the child) moves far less
  // when other processes share the machine.
  const base = { ms: median(variants[0].ms), cpu: median(variants[0].cpu) };
  const hsCost = { ms: median(variants[1].ms) - base.ms, cpu: median(variants[1].cpu) - base.cpu };
  console.log(`\ncold import, ${ROUNDS} interleaved rounds (cost = median - median of importing nothing)`);
  console.log(
    `${'case'.padEnd(30)}${'wall ms'.padStart(9)}${'p10-p90'.padStart(12)}${'cost'.padStart(8)}${'vs h-s'.padStart(8)}${'CPU ms'.padStart(9)}${'cost'.padStart(8)}${'vs h-s'.padStart(8)}${'peak RSS'.padStart(11)}`,
  );
  for (const v of variants) {
    const ms = median(v.ms);
    const cpu = median(v.cpu);
    const vs = (cost, ref) => (v.spec && v.spec !== 'hot-shots' ? `${(cost / ref).toFixed(2)}×` : '');
    console.log(
      v.label.padEnd(30) +
        ms.toFixed(1).padStart(9) +
        `${quantile(v.ms, 0.1).toFixed(0)}-${quantile(v.ms, 0.9).toFixed(0)}`.padStart(12) +
        (v.spec ? (ms - base.ms).toFixed(1) : '').padStart(8) +
        vs(ms - base.ms, hsCost.ms).padStart(8) +
        cpu.toFixed(1).padStart(9) +
        (v.spec ? (cpu - base.cpu).toFixed(1) : '').padStart(8) +
        vs(cpu - base.cpu, hsCost.cpu).padStart(8) +
        `${median(v.rss).toFixed(1)} MB`.padStart(11),
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
