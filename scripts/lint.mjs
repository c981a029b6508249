#!/usr/bin/env node
/**
 * Project lint: the conventions tsc cannot check, each one a rule we have been bitten by or
 * committed to in CONTRIBUTING.md. Prints FILE:LINE: rule: text and exits 1 on any finding.
 *
 * `node scripts/lint.mjs [--root DIR]` lints DIR (default: this repository); test/lint.test.ts
 * runs it on small trees to show each rule failing.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'static' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const isTest = (f) => f.startsWith('test/') || f.includes('/test/') || f.endsWith('.test.ts');

/**
 * A production file longer than this is more than one thing to hold in one's head: split it into
 * pieces named for what each owns (CONTRIBUTING.md).
 */
const MAX_LINES = 400;

const rules = [
  {
    name: 'no-console',
    why: 'logs go through the stderr logger; stdout belongs to protocols',
    applies: (f) => !isTest(f) && !f.startsWith('bench/'),
    re: /\bconsole\.(log|info|debug|warn|error)\s*\(/,
  },
  {
    name: 'no-process-stdout',
    why: 'only the CLI (help, version, check) and protocols via ctx.stdio may write to stdout',
    applies: (f) => (f.startsWith('integrations/') || f.startsWith('shared/')) && !isTest(f),
    re: /\bprocess\.stdout\b/,
  },
  {
    name: 'no-process-env',
    why: 'integrations read ctx.env; a library switch that only process.env carries goes in the definition\'s processEnv',
    applies: (f) => f.startsWith('integrations/') && !isTest(f),
    re: /\bprocess\.env\b/,
  },
  {
    name: 'no-default-export',
    why: 'named exports only',
    applies: (f) => !isTest(f) && f !== 'vitest.config.ts',
    re: /^\s*export\s+default\b/,
  },
  {
    name: 'no-ts-enum-namespace',
    why: 'erasable syntax only (Node type stripping, no runtime emit)',
    applies: () => true,
    re: /^\s*(export\s+)?(const\s+)?(enum|namespace)\s+\w+/,
  },
];

// ---- import directions (CONTRIBUTING.md, "Layout") -------------------------------------------

/** What an integration may import from outside its own folder: the contract, nothing else. */
const CONTRACT = new Set([
  'shared/core/integration.ts',
  'shared/core/worker-pool.ts',
  'shared/core/lifecycle.ts',
  'shared/core/config/schema.ts',
  'shared/core/log/logger.ts',
  'shared/core/fs/regular-file.ts',
  'shared/core/yaml/alias-expansion.ts',
  'shared/emitter/types.ts',
  'shared/emitter/names.ts',
  'shared/emitter/log-throttle.ts',
]);

/** Which folders each shared layer may import (its own included). Listed bottom-up. */
const LAYERS = {
  'shared/emitter/': ['shared/emitter/'],
  'shared/core/': ['shared/core/', 'shared/emitter/'],
  'shared/live/': ['shared/live/', 'shared/core/', 'shared/emitter/'],
  'shared/library/': ['shared/library/', 'shared/emitter/', 'shared/core/log/'],
};

const SPEC_RE = /\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Relative imports of a file: [{ line, spec, target }] with target repo-relative (.js read as .ts). */
function importsOf(file, text) {
  const out = [];
  for (const m of text.matchAll(SPEC_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    let target = posix.normalize(posix.join(posix.dirname(file), spec));
    if (target.endsWith('.js')) target = target.slice(0, -3) + '.ts';
    out.push({ line: text.slice(0, m.index).split('\n').length, spec, target });
  }
  return out;
}

const integrationOf = (f) => /^integrations\/([^/]+)\//.exec(f)?.[1];

/** Why `file` may not import `target`, or undefined when it may. */
function importProblem(file, target) {
  const test = isTest(file);
  if (target.startsWith('cli/') && !file.startsWith('cli/') && !file.startsWith('test/')) {
    return 'nothing but the command imports cli/ (it is the composition root)';
  }
  if (!test && isTest(target) && /^(cli|shared|integrations)\//.test(file)) return 'production code imports test code';
  const own = integrationOf(file);
  if (file.startsWith('shared/')) {
    if (target.startsWith('integrations/')) return 'shared/ never imports integrations/ (the command wires them together)';
    if (test) return undefined;
    const layer = Object.keys(LAYERS).find((l) => file.startsWith(l));
    if (!layer) return `shared/ files live in a layer folder (${Object.keys(LAYERS).join(', ')})`;
    if (!LAYERS[layer].some((allowed) => target.startsWith(allowed))) {
      return `${layer} may import only ${LAYERS[layer].join(', ')} (upward or sideways import)`;
    }
    return undefined;
  }
  if (own !== undefined) {
    const other = integrationOf(target);
    if (target === 'integrations/index.ts' || (other !== undefined && other !== own)) {
      return 'an integration never imports another integration or the registry';
    }
    if (test || other === own) return undefined;
    if (!CONTRACT.has(target)) return `an integration imports only its own folder and the contract (${[...CONTRACT].join(', ')})`;
    return undefined;
  }
  if (file === 'integrations/index.ts') {
    if (!(target === 'shared/core/integration.ts' || /^integrations\/[^/]+\/index\.ts$/.test(target))) {
      return 'the registry imports only integrations/<type>/index.ts and the contract';
    }
  }
  return undefined;
}

// ---- one shape per integration (CONTRIBUTING.md, "One shape per integration") -----------------

const RUN_FILES = { service: 'service.ts', poller: 'poller.ts', listener: 'listener.ts' };
const camel = (type) => type.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (type) => camel(type).replace(/^./, (c) => c.toUpperCase());

function shapeFindings(root, type, report) {
  const dir = `integrations/${type}`;
  const has = (f) => existsSync(join(root, dir, f));
  const read = (f) => readFileSync(join(root, dir, f), 'utf8');
  for (const f of ['index.ts', 'config.ts', 'metrics.ts', 'README.md', 'sample.yaml']) {
    if (!has(f)) report(`${dir}/${f}`, 1, 'integration-shape', `missing ${f}`);
  }
  if (!has('index.ts')) return;
  const index = read('index.ts');
  const mode = /\bmode:\s*'(service|poller|listener)'/.exec(index)?.[1];
  if (!mode) {
    report(`${dir}/index.ts`, 1, 'integration-shape', "no mode: 'service' | 'poller' | 'listener' in the definition");
    return;
  }
  const run = RUN_FILES[mode];
  if (!has(run)) report(`${dir}/${run}`, 1, 'integration-shape', `a ${mode} keeps its running code in ${run}`);
  for (const other of Object.values(RUN_FILES)) {
    if (other !== run && has(other)) report(`${dir}/${other}`, 1, 'integration-shape', `a ${mode} keeps its running code in ${run}, not ${other}`);
  }
  const allowed = new Set([`${dir}/config.ts`, `${dir}/metrics.ts`, `${dir}/${run}`, 'shared/core/integration.ts']);
  for (const i of importsOf(`${dir}/index.ts`, index)) {
    if (!allowed.has(i.target)) {
      report(`${dir}/index.ts`, i.line, 'integration-shape', `index.ts is the definition only: it imports config.ts, metrics.ts, ${run} and the contract, not ${i.spec}`);
    }
  }
  for (const f of ['config.ts', 'metrics.ts']) {
    if (!has(f)) continue;
    for (const i of importsOf(`${dir}/${f}`, read(f))) {
      if (i.target === `${dir}/${run}`) report(`${dir}/${f}`, i.line, 'integration-shape', `${f} must not import the running code (${run})`);
    }
  }
  const exported = (f, re, what) => {
    if (has(f) && !re.test(read(f))) report(`${dir}/${f}`, 1, 'integration-shape', `${f} exports ${what}`);
  };
  exported('config.ts', new RegExp(`^export const ${camel(type)}Schema\\b`, 'm'), `${camel(type)}Schema`);
  exported('config.ts', new RegExp(`^export type ${pascal(type)}Config\\b`, 'm'), `type ${pascal(type)}Config`);
  exported('metrics.ts', new RegExp(`^export const ${camel(type)}Metrics\\b`, 'm'), `${camel(type)}Metrics`);
  exported(run, new RegExp(`^export function create${pascal(type)}\\b`, 'm'), `function create${pascal(type)}(config, ctx)`);
}

// ---- the lint --------------------------------------------------------------------------------

/** Every finding in the tree at `root`, as `FILE:LINE: rule: text` strings. */
export function lintTree(root) {
  const findings = [];
  const report = (file, line, rule, text) => findings.push(`${file}:${line}: ${rule}: ${text}`);
  const files = walk(root).map((f) => relative(root, f).split(sep).join('/'));
  for (const f of files) {
    const base = f.split('/').at(-1);
    if (/^utils?\.ts$/.test(base)) report(f, 1, 'no-utils-grab-bag', 'name the module after what it does');
    const text = readFileSync(join(root, f), 'utf8');
    const lines = text.split('\n');
    const isProduction = /^(cli|shared|integrations)\//.test(f) && !isTest(f);
    const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
    if (isProduction && count > MAX_LINES) {
      report(f, MAX_LINES + 1, 'file-size', `${count} lines (at most ${MAX_LINES}): split it into pieces named for what each owns`);
    }
    for (const rule of rules) {
      if (!rule.applies(f)) continue;
      lines.forEach((line, i) => {
        if (rule.re.test(line) && !/lint-allow/.test(line)) report(f, i + 1, rule.name, `${line.trim()} (${rule.why})`);
      });
    }
    for (const i of importsOf(f, text)) {
      const problem = importProblem(f, i.target);
      if (problem) report(f, i.line, 'import-direction', `${i.spec}: ${problem}`);
      if (i.target === 'test/helpers/cli.ts' && f.endsWith('.test.ts') && !f.endsWith('.e2e.test.ts') && !f.startsWith('test/')) {
        report(f, i.line, 'e2e-test-name', 'a test that runs the built telltale process is named *.e2e.test.ts');
      }
    }
  }
  const integrations = join(root, 'integrations');
  if (existsSync(integrations)) {
    for (const type of readdirSync(integrations)) {
      if (statSync(join(integrations, type)).isDirectory()) shapeFindings(root, type, report);
    }
  }
  return { files: files.length, findings };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--root');
  const root = at >= 0 ? process.argv[at + 1] : fileURLToPath(new URL('..', import.meta.url));
  const { files, findings } = lintTree(root);
  if (findings.length > 0) {
    process.stderr.write(findings.join('\n') + `\n${findings.length} lint finding(s)\n`);
    process.exit(1);
  }
  process.stdout.write(`lint: ${files} files clean\n`);
}
