import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigText } from '../../../shared/core/config/load.js';
import type { IntegrationDefinition, Shape } from '../../../shared/core/integration.js';
import { supervisor } from '../index.js';

const registry = [supervisor] as unknown as IntegrationDefinition<Shape>[];
const samplePath = fileURLToPath(new URL('../sample.yaml', import.meta.url));

describe('supervisor config', () => {
  it('sample.yaml validates through the real loader and means the defaults', () => {
    const cfg = loadConfigText(samplePath, readFileSync(samplePath, 'utf8'), { registry, env: {} });
    const inst = cfg.integrations.find((i) => i.type === 'supervisor');
    expect(inst?.prefix).toBe('supervisor');
    expect(inst?.settings).toEqual({
      compat: 'none',
      resync: true,
      resync_every: 1,
      rpc_timeout: 2000,
      detect_drops: 'auto',
      include_self: true,
      events: 'crashes',
      len_grace: 250,
    });
  });

  it('reports bad values with file:line and the key', () => {
    const text = 'integrations:\n  supervisor:\n    compat: graphite\n    len_grace: forever\n    resync_evry: 2\n';
    let err: unknown;
    try {
      loadConfigText('x.yaml', text, { registry, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).problems.join('\n');
    expect(msg).toMatch(/x\.yaml:3:\d+: .*compat.*one of none, sulphite, both/);
    expect(msg).toMatch(/x\.yaml:4:\d+: .*len_grace/);
    expect(msg).toMatch(/x\.yaml:5:\d+: .*resync_evry.*did you mean "resync_every"/);
  });
});
