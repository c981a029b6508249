#!/usr/bin/env node
/**
 * Project lint: the conventions tsc cannot check, each one a rule we have been bitten by or
 * committed to in CONTRIBUTING.md. Prints FILE:LINE: rule: text and exits 1 on any finding.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const findings = [];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'static' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const rules = [
  {
    name: 'no-console',
    why: 'logs go through the stderr logger; stdout belongs to protocols',
    applies: (f) => !f.includes(`${sep}test${sep}`) && !f.startsWith(`bench${sep}`),
    re: /\bconsole\.(log|info|debug|warn|error)\s*\(/,
  },
  {
    name: 'no-process-stdout',
    why: 'only the CLI (help, version, check) and protocols via ctx.stdio may write to stdout',
    applies: (f) => (f.startsWith(`integrations${sep}`) || f.startsWith(`shared${sep}`)) && !f.startsWith(`shared${sep}cli${sep}`) && !f.includes(`${sep}test${sep}`),
    re: /\bprocess\.stdout\b/,
  },
  {
    name: 'no-default-export',
    why: 'named exports only',
    applies: (f) => !f.includes(`${sep}test${sep}`) && f !== 'vitest.config.ts',
    re: /^\s*export\s+default\b/,
  },
  {
    name: 'no-ts-enum-namespace',
    why: 'erasable syntax only (Node type stripping, no runtime emit)',
    applies: () => true,
    re: /^\s*(export\s+)?(const\s+)?(enum|namespace)\s+\w+/,
  },
];

const files = walk(root).map((f) => relative(root, f));
for (const f of files) {
  const base = f.split(sep).at(-1);
  if (/^utils?\.ts$/.test(base)) findings.push(`${f}:1: no-utils-grab-bag: name the module after what it does`);
  const lines = readFileSync(join(root, f), 'utf8').split('\n');
  for (const rule of rules) {
    if (!rule.applies(f)) continue;
    lines.forEach((line, i) => {
      if (rule.re.test(line) && !/lint-allow/.test(line)) findings.push(`${f}:${i + 1}: ${rule.name}: ${line.trim()} (${rule.why})`);
    });
  }
}

if (findings.length > 0) {
  process.stderr.write(findings.join('\n') + `\n${findings.length} lint finding(s)\n`);
  process.exit(1);
}
process.stdout.write(`lint: ${files.length} files clean\n`);
