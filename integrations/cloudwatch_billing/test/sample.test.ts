/** sample.yaml is what the README shows; it must load through the real loader, unchanged. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { loadConfigFile, loadConfigText } from '../../../shared/core/config/load.js';
import { cloudwatchBilling } from '../index.js';

const SAMPLE = fileURLToPath(new URL('../sample.yaml', import.meta.url));
const README = fileURLToPath(new URL('../README.md', import.meta.url));

it('sample.yaml validates with the core keys and the defaults the README documents', () => {
  const cfg = loadConfigFile(SAMPLE, { registry: [cloudwatchBilling], env: {} });
  const [inst] = cfg.integrations;
  expect(inst).toMatchObject({ name: 'cloudwatch_billing', type: 'cloudwatch_billing', prefix: 'aws.billing', intervalMs: 3_600_000 });
  expect(inst!.settings).toMatchObject({ lookback: 48 * 3_600_000, accounts: { '111111111111': 'prod' }, timeout: 120_000, instance_metadata: false });
});

it('the README includes sample.yaml verbatim', () => {
  expect(readFileSync(README, 'utf8')).toContain(readFileSync(SAMPLE, 'utf8').trimEnd());
});

it('reports a typo and a bad endpoint by key', () => {
  expect(() =>
    loadConfigText('x.yaml', 'integrations:\n  cloudwatch_billing:\n    profle: billing\n    endpoint: monitoring.example\n', { registry: [cloudwatchBilling], env: {} }),
  ).toThrow(/x\.yaml:3:5: integrations\.cloudwatch_billing\.profle: unknown key \(did you mean "profile"\?\)[\s\S]*x\.yaml:4:15: integrations\.cloudwatch_billing\.endpoint: expected an http\(s\):\/\/ URL/);
});

it('the README metrics table lists every catalogue entry', () => {
  const readme = readFileSync(README, 'utf8');
  for (const m of cloudwatchBilling.metrics) expect(readme).toContain(`| \`${m.name}\` | ${m.type} |`);
});
