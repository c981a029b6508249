import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../shared/core/config/load.js';
import { testContext } from '../../../test/helpers/context.js';
import { host } from '../index.js';

const read = (f: string): string => readFileSync(fileURLToPath(new URL(`../${f}`, import.meta.url)), 'utf8');

describe('host docs', () => {
  it('the README includes sample.yaml verbatim, and sample.yaml loads and creates', () => {
    const sample = read('sample.yaml');
    expect(read('README.md')).toContain(sample.trimEnd());
    const config = loadConfigText('sample.yaml', sample, { registry: [host], env: {} });
    const inst = config.integrations.find((i) => i.type === 'host');
    expect(inst?.intervalMs).toBe(1000);
    expect(() => host.create(inst!.settings as never, testContext().ctx)).not.toThrow();
  });
});
