/**
 * YAML aliases in integrations.yaml (issue 18 item 9): what a fleet config needs loads, every
 * excess is a ConfigError with FILE:LINE:COL (the CLI turns it into exit 78).
 */
import { describe, expect, it } from 'vitest';
import { CONFIG_MAX_ALIAS_COUNT, ConfigError, loadConfigText } from '../load.js';
import { list, obj, str } from '../schema.js';
import { defineIntegration, type IntegrationDefinition, type Shape } from '../../integration.js';

const web = defineIntegration({
  type: 'web',
  summary: 'test poller',
  mode: 'poller',
  defaultPrefix: 'web',
  defaultIntervalMs: 5000,
  schema: obj({ url: str({ nonEmpty: true }), tags: list(str()).default([]) }),
  metrics: [],
  create: () => ({ once: async () => {}, stop: async () => {} }),
});
const registry = [web] as unknown as IntegrationDefinition<Shape>[];
const load = (text: string) => loadConfigText('integrations.yaml', text, { registry, env: {}, hostname: 'h' });

function problems(text: string): string[] {
  try {
    load(text);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('integrations.yaml aliases', () => {
  it('1,000 instances reusing two anchors load, every instance with the anchored values', () => {
    let t = 'integrations:\n  w0:\n    type: web\n    url: &url http://127.0.0.1/status\n    tags: &tags [a, b]\n';
    for (let i = 1; i < 1000; i++) t += `  w${i}:\n    type: web\n    url: *url\n    tags: *tags\n`;
    const c = load(t);
    expect(c.integrations).toHaveLength(1000);
    expect(c.integrations[999]!.settings).toEqual({ url: 'http://127.0.0.1/status', tags: ['a', 'b'] });
  });

  it('more aliases than the limit: a ConfigError at the first alias past it', () => {
    const uses = Array(CONFIG_MAX_ALIAS_COUNT + 1).fill('*t').join(', ');
    const p = problems(`integrations:\n  w0:\n    type: web\n    url: http://x/\n    tags: &t x\n  w1:\n    type: web\n    url: http://x/\n    tags: [${uses}]\n`);
    expect(p).toHaveLength(1);
    expect(p[0]).toBe(`integrations.yaml:9:${12 + 4 * CONFIG_MAX_ALIAS_COUNT}: more than ${CONFIG_MAX_ALIAS_COUNT} aliases in one file`);
  });

  it('a huge anchor reused within the use limit is refused by its expanded size, at the key where it expands', () => {
    const big = `[${Array.from({ length: 1000 }, (_, i) => `d${i}`).join(', ')}]`;
    const p = problems(`integrations:\n  w0:\n    type: web\n    url: http://x/\n    tags: &big ${big}\n  w1:\n    type: web\n    url: http://x/\n    tags: [${Array(2000).fill('*big').join(', ')}]\n`);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^integrations\.yaml:9:\d+: integrations\.w1\.tags\.\d+: aliases expand to more than 1000000 nodes$/);
  });

  it('a bomb is refused by the yaml library guard, as a ConfigError at a use of an anchor of the chain', () => {
    let t = 'integrations:\n  w0:\n    type: web\n    url: http://x/\n    tags: &a0 [' + Array(10).fill('lol').join(', ') + ']\n';
    for (let i = 1; i <= 6; i++) t += `  w${i}:\n    type: web\n    url: http://x/\n    tags: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    const p = problems(t);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^integrations\.yaml:\d+:\d+: \*a\d \(used 10 times\): aliases expand too much/);
  });
});
