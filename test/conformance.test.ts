/**
 * One lifecycle and documentation conformance test over the whole registry: every integration
 * ships a sample.yaml that validates, a README that contains it verbatim and whose metrics table
 * is its catalogue row by row, and a lifecycle where stop works before start, twice, and after
 * start, leaving no timers or sockets behind.
 */
import { createHook } from 'node:async_hooks';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registry } from '../integrations/index.js';
import { loadConfigText } from '../shared/core/config/load.js';
import { testContext } from './helpers/context.js';
import { REPO_ROOT } from './helpers/cli.js';
import { metricRow, readmeMetricRows } from './helpers/readme-metrics.js';

/** Any ${VAR} in a sample resolves to a placeholder: samples document, they do not configure. */
const env = new Proxy({} as NodeJS.ProcessEnv, { get: (_t, k) => (typeof k === 'string' ? `placeholder-${k.toLowerCase()}` : undefined) });

function activeHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
}

/** Resources that keep a process alive while referenced: timers and libuv handles. */
const HANDLE_TYPES = new Set(['Timeout', 'Immediate', 'TCPWRAP', 'TCPSERVERWRAP', 'UDPWRAP', 'PIPEWRAP', 'PIPESERVERWRAP', 'FSEVENTWRAP', 'STATWATCHER', 'PROCESSWRAP', 'SIGNALWRAP']);

/**
 * Tracks every timer and handle created from now on, so that what a lifecycle leaves behind is
 * told apart from what the test runner happens to have open (its own timers come and go at any
 * time, which made a before/after count of getActiveResourcesInfo() both flaky and blind).
 */
function trackHandles(): { leftBehind(): Promise<string[]>; dispose(): void } {
  const live = new Map<number, { type: string; resource: { hasRef?: () => boolean }; stack: string }>();
  const own = new Set<unknown>(); // the waits below
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (!HANDLE_TYPES.has(type)) return;
      const stack = new Error().stack ?? '';
      // Whoever called setTimeout/net/fs: the first frame below this hook outside Node itself.
      const caller = stack.split('\n').slice(2).find((l) => !/\(node:|at node:/.test(l)) ?? '';
      if (/node_modules[\\/](@vitest|vitest)[\\/]/.test(caller)) return;
      live.set(id, { type, resource: resource as { hasRef?: () => boolean }, stack });
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  const referenced = (): string[] =>
    [...live.values()]
      .filter((r) => !own.has(r.resource) && r.resource.hasRef?.() !== false)
      .map((r) => `${r.type} created ${r.stack.split('\n').slice(2).filter((l) => !/\(node:|at node:/.test(l)).slice(0, 4).join(' ').replace(/\s+/g, ' ')}`);
  return {
    async leftBehind() {
      // Closing handles is asynchronous in libuv: give it the next few turns of the loop.
      for (let i = 0; i < 50 && referenced().length > 0; i++) {
        await new Promise((r) => own.add(setTimeout(r, 20)));
      }
      return referenced();
    },
    dispose: () => hook.disable(),
  };
}

describe.each(registry.map((d) => [d.type, d] as const))('%s', (type, def) => {
  const folder = join(REPO_ROOT, 'integrations', type);
  const samplePath = join(folder, 'sample.yaml');
  const readmePath = join(folder, 'README.md');

  it('has a sample.yaml that validates against its schema', () => {
    expect(existsSync(samplePath), `${samplePath} missing`).toBe(true);
    const cfg = loadConfigText(samplePath, readFileSync(samplePath, 'utf8'), { registry, env });
    expect(cfg.integrations.some((i) => i.type === type)).toBe(true);
  });

  it('has a README with the sample verbatim, every catalogue metric, example output and troubleshooting', () => {
    expect(existsSync(readmePath), `${readmePath} missing`).toBe(true);
    const readme = readFileSync(readmePath, 'utf8');
    expect(readme).toContain(readFileSync(samplePath, 'utf8').trim());
    // A `|` inside a Markdown table cell has to be written `\|`; the rendered name is what counts.
    const rendered = readme.replaceAll('\\|', '|');
    for (const m of def.metrics) expect(rendered, `README lacks metric ${m.name}`).toContain(m.name);
    expect(readme).toMatch(/^#+ .*example output/im);
    expect(readme).toMatch(/^#+ .*troubleshooting/im);
    expect(def.metrics.length).toBeGreaterThan(0);
  });

  it('has a README metrics table that is the catalogue, row by row (name, type, unit, description)', () => {
    const rows = readmeMetricRows(readFileSync(readmePath, 'utf8'));
    // Backticks are Markdown formatting on either side; the words must be the same.
    const plain = (s: string): string => s.replaceAll('`', '');
    const catalogue = def.metrics.map(({ name, type, unit, description }) => ({ name: plain(name), type, unit: plain(unit), description: plain(description) }));
    // On failure, the message shows the rows the README should have.
    expect(rows, `README.md metrics table should read:\n${def.metrics.map(metricRow).join('\n')}`).toEqual(catalogue);
  });

  it('create does no IO; stop works before start and twice; start -> stop leaves no handles', async () => {
    const cfg = loadConfigText(samplePath, readFileSync(samplePath, 'utf8'), { registry, env });
    const inst = cfg.integrations.find((i) => i.type === type)!;
    const before = activeHandles();
    const t = testContext({ name: inst.name, type, prefix: inst.prefix, intervalMs: inst.intervalMs });
    const integration = def.create(inst.settings as never, t.ctx);
    expect(activeHandles()).toEqual(before);
    await integration.stop();
    await integration.stop();
    if (def.mode === 'service' && integration.start) {
      const handles = trackHandles();
      try {
        const t2 = testContext({ name: inst.name, type, prefix: inst.prefix, intervalMs: inst.intervalMs });
        const again = def.create(inst.settings as never, t2.ctx);
        await again.start!();
        t2.abort.abort();
        await again.stop();
        await again.stop();
        expect(await handles.leftBehind()).toEqual([]);
      } finally {
        handles.dispose();
      }
    }
  });
});
