/**
 * `npm run lint` on small trees: a tree that follows CONTRIBUTING.md's layers and integration
 * shape passes, and each kind of violation makes it exit 1 naming the file, line and rule.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const LINT = fileURLToPath(new URL('../scripts/lint.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));

/** A tree that passes: every layer, a registry, one complete poller integration and the command. */
const GOOD: Record<string, string> = {
  'shared/emitter/types.ts': 'export interface Emitter { counter(name: string): void }\n',
  'shared/emitter/statsd-sink.ts': "import type { Emitter } from './types.js';\nexport type Sink = Emitter;\n",
  'shared/core/integration.ts': "import type { Emitter } from '../emitter/types.js';\nexport type Ctx = { emitter: Emitter };\n",
  'shared/core/runtime/runner.ts': "import type { Ctx } from '../integration.js';\nexport type Run = Ctx;\n",
  'shared/core/log/logger.ts': 'export const level = 1;\n',
  'shared/live/hub.ts': "import type { Ctx } from '../core/integration.js';\nexport type Hub = Ctx;\n",
  'shared/library/index.ts': "export { level } from '../core/log/logger.js';\nexport type { Emitter } from '../emitter/types.js';\n",
  'integrations/index.ts': "import { demo } from './demo/index.js';\nexport const registry = [demo];\n",
  'integrations/demo/index.ts': [
    "import type { Ctx } from '../../shared/core/integration.js';",
    "import { demoSchema } from './config.js';",
    "import { demoMetrics } from './metrics.js';",
    "import { createDemo } from './poller.js';",
    "export const demo = { type: 'demo', mode: 'poller', schema: demoSchema, metrics: demoMetrics, create: createDemo };",
    'export type { Ctx };',
    '',
  ].join('\n'),
  'integrations/demo/config.ts': 'export const demoSchema = {};\nexport type DemoConfig = typeof demoSchema;\n',
  'integrations/demo/metrics.ts': 'export const demoMetrics: string[] = [];\n',
  'integrations/demo/poller.ts': "import type { Ctx } from '../../shared/core/integration.js';\nimport { parse } from './parse.js';\nexport function createDemo(c: Ctx) { return parse(c); }\n",
  'integrations/demo/parse.ts': 'export function parse(x: unknown) { return x; }\n',
  'integrations/demo/README.md': '# demo\n',
  'integrations/demo/sample.yaml': 'demo: {}\n',
  'integrations/demo/test/parse.test.ts': "import { parse } from '../parse.js';\nimport { createEmitter } from '../../../shared/emitter/statsd-sink.js';\nvoid parse; void createEmitter;\n",
  'cli/main.ts': "import { registry } from '../integrations/index.js';\nimport type { Run } from '../shared/core/runtime/runner.js';\nexport type R = Run;\nvoid registry;\n",
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Writes GOOD with `changes` applied (null deletes a file) and runs the lint on it. */
function lint(changes: Record<string, string | null> = {}): { status: number | null; stderr: string } {
  const root = mkdtempSync(join(tmpdir(), 'telltale-lint-'));
  dirs.push(root);
  const files: Record<string, string | null> = { ...GOOD, ...changes };
  for (const [path, text] of Object.entries(files)) {
    if (text === null) continue;
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const r = spawnSync(process.execPath, [LINT, '--root', root], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('scripts/lint.mjs', () => {
  it('passes a tree that follows the layers and the integration shape', () => {
    expect(lint()).toEqual({ status: 0, stderr: '' });
  });

  it('passes this repository', () => {
    const r = spawnSync(process.execPath, [LINT, '--root', REPO], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('fails on an upward import: the emitter importing the core', () => {
    const r = lint({ 'shared/emitter/bad.ts': "\nimport type { Ctx } from '../core/integration.js';\nexport type B = Ctx;\n" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('shared/emitter/bad.ts:2: import-direction: ../core/integration.js: shared/emitter/ may import only shared/emitter/');
  });

  it('fails on the core importing the live page, and the library importing the runtime', () => {
    const r = lint({
      'shared/core/config/load.ts': "import type { Hub } from '../../live/hub.js';\nexport type L = Hub;\n",
      'shared/library/app.ts': "import type { Run } from '../core/runtime/runner.js';\nexport type A = Run;\n",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('shared/core/config/load.ts:1: import-direction: ../../live/hub.js');
    expect(r.stderr).toContain('shared/library/app.ts:1: import-direction: ../core/runtime/runner.js');
  });

  it('fails on shared/ importing integrations/, even from a test, and on anything importing cli/', () => {
    const r = lint({
      'shared/live/test/x.test.ts': "import { demo } from '../../../integrations/demo/index.js';\nvoid demo;\n",
      'shared/core/main.ts': "import type { R } from '../../cli/main.js';\nexport type M = R;\n",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('shared/live/test/x.test.ts:1: import-direction: ../../../integrations/demo/index.js: shared/ never imports integrations/');
    expect(r.stderr).toContain('shared/core/main.ts:1: import-direction: ../../cli/main.js: nothing but the command imports cli/');
  });

  it('fails on an integration importing another integration, a sink or the runtime', () => {
    const r = lint({
      'integrations/demo/parse.ts': [
        "import { other } from '../other/parse.js';",
        "import type { Sink } from '../../shared/emitter/statsd-sink.js';",
        "import type { Run } from '../../shared/core/runtime/runner.js';",
        'export function parse(x: Sink | Run) { return [x, other]; }',
        '',
      ].join('\n'),
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('integrations/demo/parse.ts:1: import-direction: ../other/parse.js: an integration never imports another integration');
    expect(r.stderr).toContain('integrations/demo/parse.ts:2: import-direction: ../../shared/emitter/statsd-sink.js: an integration imports only its own folder and the contract');
    expect(r.stderr).toContain('integrations/demo/parse.ts:3: import-direction: ../../shared/core/runtime/runner.js');
  });

  it('fails when an integration leaves the shape: run file not named by mode, index.ts importing running code', () => {
    const r = lint({
      'integrations/demo/poller.ts': null,
      'integrations/demo/service.ts': GOOD['integrations/demo/poller.ts']!,
      'integrations/demo/index.ts': GOOD['integrations/demo/index.ts']!.replace("'./poller.js'", "'./service.js'") + "import { parse } from './parse.js';\nvoid parse;\n",
      'integrations/demo/metrics.ts': null,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('integrations/demo/poller.ts:1: integration-shape: a poller keeps its running code in poller.ts');
    expect(r.stderr).toContain('integrations/demo/service.ts:1: integration-shape: a poller keeps its running code in poller.ts, not service.ts');
    expect(r.stderr).toContain('integrations/demo/metrics.ts:1: integration-shape: missing metrics.ts');
    expect(r.stderr).toMatch(/integrations\/demo\/index\.ts:7: integration-shape: index\.ts is the definition only: .* not \.\/parse\.js/);
  });

  it('fails on an integration reading or writing process.env (ctx.env is its environment)', () => {
    const r = lint({ 'integrations/demo/parse.ts': "export function parse(x: unknown) { return process.env['HOME'] ?? x; }\n" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('integrations/demo/parse.ts:1: no-process-env');
  });

  it('fails on a production file over 400 lines, not on a test that long', () => {
    const long = Array.from({ length: 401 }, (_, i) => `export const x${i} = ${i};`).join('\n') + '\n';
    const r = lint({ 'integrations/demo/parse.ts': long, 'integrations/demo/test/parse.test.ts': long });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('integrations/demo/parse.ts:401: file-size: 401 lines (at most 400)');
    expect(r.stderr).not.toContain('parse.test.ts');
  });

  it('fails on export names that break the shape and on a CLI test not named *.e2e.test.ts', () => {
    const r = lint({
      'integrations/demo/config.ts': 'export const schema = {};\nexport type Config = typeof schema;\n',
      'test/helpers/cli.ts': 'export const CLI = "dist/cli/main.js";\n',
      'integrations/demo/test/run.test.ts': "import { CLI } from '../../../test/helpers/cli.js';\nvoid CLI;\n",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('integrations/demo/config.ts:1: integration-shape: config.ts exports demoSchema');
    expect(r.stderr).toContain('integrations/demo/config.ts:1: integration-shape: config.ts exports type DemoConfig');
    expect(r.stderr).toContain('integrations/demo/test/run.test.ts:1: e2e-test-name');
  });
});
