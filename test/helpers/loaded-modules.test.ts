/**
 * The recorder itself: if it missed a kind of load, the import-footprint tests built on it would
 * pass while proving nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageOf, recordLoadedModules } from './loaded-modules.js';

describe('recordLoadedModules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'telltale-loaded-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // A CommonJS package with an internal require, an ESM package loaded lazily, and a main script
  // that exits through process.exit() as the CLI does.
  mkdirSync(join(dir, 'node_modules', 'cjs-pkg'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'cjs-pkg', 'package.json'), '{"name":"cjs-pkg","main":"index.js"}');
  writeFileSync(join(dir, 'node_modules', 'cjs-pkg', 'index.js'), "module.exports = require('./inner.js');");
  writeFileSync(join(dir, 'node_modules', 'cjs-pkg', 'inner.js'), "module.exports = require('node:os').EOL;");
  mkdirSync(join(dir, 'node_modules', '@scope', 'esm-pkg'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', '@scope', 'esm-pkg', 'package.json'), '{"name":"@scope/esm-pkg","type":"module","exports":"./index.js"}');
  writeFileSync(join(dir, 'node_modules', '@scope', 'esm-pkg', 'index.js'), "export { createHash } from 'node:crypto';");
  writeFileSync(
    join(dir, 'main.mjs'),
    "import eol from 'cjs-pkg';\nif (process.argv[2] === 'lazy') await import('@scope/esm-pkg');\nprocess.stdout.write(JSON.stringify(eol));\nprocess.exit(3);\n",
  );

  it('sees ESM imports, CommonJS requires behind them, built-ins and dynamic imports, through process.exit', async () => {
    const r = await recordLoadedModules(['main.mjs', 'lazy'], { cwd: dir });
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('"\\n"');
    expect(r.files).toEqual(
      expect.arrayContaining([join(dir, 'main.mjs'), join(dir, 'node_modules/cjs-pkg/index.js'), join(dir, 'node_modules/cjs-pkg/inner.js'), join(dir, 'node_modules/@scope/esm-pkg/index.js')]),
    );
    expect(r.builtins).toContain('node:crypto');
    expect(r.packages).toEqual(['@scope/esm-pkg', 'cjs-pkg']);
  });

  it('does not report what was not loaded', async () => {
    const r = await recordLoadedModules(['main.mjs'], { cwd: dir });
    expect(r.packages).toEqual(['cjs-pkg']);
    expect(r.builtins).not.toContain('node:crypto');
  });

  it('names packages by their last node_modules segment', () => {
    expect(packageOf('/a/node_modules/x/node_modules/@aws-sdk/client-cloudwatch/dist/index.js')).toBe('@aws-sdk/client-cloudwatch');
    expect(packageOf('/a/node_modules/ws/lib/websocket.js')).toBe('ws');
    expect(packageOf('/a/shared/index.js')).toBeUndefined();
  });
});
