/**
 * The AWS SDK reads credentials, profiles and IMDS switches from process.env; tests set them
 * explicitly and put back what was there, so no test depends on the machine's ~/.aws or on
 * another test's leftovers.
 */
import { fileURLToPath } from 'node:url';
import type { InstanceConfig } from '../../../shared/core/config/load.js';
import { applyProcessEnv } from '../../../shared/core/runtime/runner.js';
import type { CloudwatchBillingConfig } from '../config.js';
import { cloudwatchBilling } from '../index.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

const AWS_VARS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_CLOUDWATCH',
] as const;

/** Replaces every AWS_* variable the SDK reads with `vars` (unset when absent); returns a restore function. */
export function setAwsEnv(vars: Partial<Record<(typeof AWS_VARS)[number], string>>): () => void {
  const saved = new Map<string, string | undefined>(AWS_VARS.map((k) => [k, process.env[k]]));
  for (const k of AWS_VARS) {
    const v = vars[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/**
 * Static keys the fake accepts, no profile files, and a region that is NOT us-east-1 (the
 * poller must sign for us-east-1 regardless).
 */
export function staticKeysEnv(): Partial<Record<(typeof AWS_VARS)[number], string>> {
  return {
    AWS_ACCESS_KEY_ID: 'AKIDFAKE',
    AWS_SECRET_ACCESS_KEY: 'fake-secret',
    AWS_REGION: 'eu-west-1',
    AWS_SHARED_CREDENTIALS_FILE: FIXTURES + 'no-such-credentials',
    AWS_CONFIG_FILE: FIXTURES + 'no-such-config',
  };
}

/**
 * The same keys for a spawned `telltale`: every other AWS_* variable of the developer's shell
 * is unset (undefined is dropped by spawn), so the child never reads a real profile or endpoint.
 */
export function staticKeysChildEnv(): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(AWS_VARS.map((k) => [k, undefined])), ...staticKeysEnv() };
}

/**
 * What `telltale` does before create(): the definition's `processEnv` for the instances about to
 * run, set where the environment has nothing (setAwsEnv's restore puts the AWS_* ones back).
 */
export function applyDefinitionEnv(configs: readonly CloudwatchBillingConfig[]): void {
  const instances = configs.map((settings) => ({ definition: cloudwatchBilling, settings }) as unknown as InstanceConfig);
  applyProcessEnv(instances, process.env);
}
