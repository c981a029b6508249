/**
 * The CloudWatch client and its credentials: always us-east-1, bounded timeouts, and credentials
 * resolved up front under a deadline so a cron run fails in seconds with a message saying what
 * to do, instead of failing deep inside the first API call (or hanging on instance metadata).
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Logger } from '../../shared/core/log/logger.js';
import type { CloudwatchBillingConfig } from './config.js';
import { BillingError, describeAwsError } from './errors.js';
import { sdk } from './sdk.js';

/** Billing metric data is stored only in US East (N. Virginia), for charges worldwide. */
export const BILLING_REGION = 'us-east-1';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The SDK reads two switches only from the process environment (it has no client option for
 * them); the definition asks the core for them (`processEnv` in index.ts), for all instances at
 * once. Here an instance only reads the result.
 */
function checkEnvironment(config: CloudwatchBillingConfig, env: Env, log: Logger): void {
  const imds = env['AWS_EC2_METADATA_DISABLED'];
  if (config.instance_metadata && imds !== undefined && imds !== 'false') {
    log.warn('instance_metadata: true, but AWS_EC2_METADATA_DISABLED is set in the environment; instance-role credentials stay disabled');
  }
}

export function createBillingClient(config: CloudwatchBillingConfig, env: Env, log: Logger): CloudWatchClient {
  checkEnvironment(config, env, log);
  return new sdk.CloudWatchClient({
    // Never the user's AWS_REGION / profile region: billing data exists only in us-east-1.
    region: BILLING_REGION,
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(config.profile !== undefined ? { profile: config.profile } : {}),
    maxAttempts: config.max_attempts,
    // `requestTimeout` alone only logs a warning in this SDK; socketTimeout really fails the
    // attempt (and the run deadline's AbortSignal bounds everything, retries included).
    requestHandler: {
      connectionTimeout: Math.min(3_000, config.socket_timeout),
      socketTimeout: config.socket_timeout,
    },
  });
}

/** Section names of an AWS shared config/credentials file: `[name]` or, in config, `[profile name]`. */
export function profilesInIni(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*\[\s*(?:profile\s+)?([^\]\s]+)\s*\]\s*$/.exec(line);
    if (m && m[1] !== undefined && !out.includes(m[1])) out.push(m[1]);
  }
  return out;
}

async function readProfiles(env: Env): Promise<{ files: string[]; profiles: string[] }> {
  const files = [
    env['AWS_SHARED_CREDENTIALS_FILE'] ?? join(homedir(), '.aws', 'credentials'),
    env['AWS_CONFIG_FILE'] ?? join(homedir(), '.aws', 'config'),
  ];
  const profiles: string[] = [];
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const p of profilesInIni(text)) if (!profiles.includes(p)) profiles.push(p);
  }
  return { files, profiles };
}

/** Rejects after `ms`, or when `signal` aborts; the timer never keeps the process alive. */
function deadline(ms: number, signal: AbortSignal, what: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BillingError('temporary', `${what} took longer than ${ms} ms`)), ms);
    timer.unref();
    onAbort = () => reject(new BillingError('temporary', `${what} interrupted: ${String(signal.reason)}`));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Resolves the client's credentials before any API call. The SDK memoizes them (and refreshes
 * temporary ones near expiry), so later polls pay nothing here.
 */
export async function resolveCredentials(client: CloudWatchClient, config: CloudwatchBillingConfig, env: Env, signal: AbortSignal): Promise<void> {
  const d = deadline(config.credentials_timeout, signal, 'resolving AWS credentials');
  try {
    await Promise.race([client.config.credentials(), d.promise]);
  } catch (err) {
    if (err instanceof BillingError) {
      throw new BillingError(
        err.category,
        `${err.message}: the credential chain is probably waiting on STS, SSO or instance metadata; ` +
          `check network access to them, or give the poller static keys in a profile`,
      );
    }
    throw await credentialsError(err, config, env);
  } finally {
    d.cancel();
  }
}

async function credentialsError(err: unknown, config: CloudwatchBillingConfig, env: Env): Promise<BillingError> {
  const detail = describeAwsError(err);
  const envProfile = env['AWS_PROFILE'];
  const profile = config.profile ?? (envProfile === '' ? undefined : envProfile);
  if (profile !== undefined) {
    const source = config.profile !== undefined ? 'key profile' : 'AWS_PROFILE in the environment';
    const { files, profiles } = await readProfiles(env);
    if (!profiles.includes(profile)) {
      return new BillingError(
        'config',
        `AWS profile "${profile}" (${source}) is not in ${files.join(' or ')}` +
          (profiles.length ? `; profiles there: ${profiles.join(', ')}` : '; no profiles found there') +
          ` (${detail})`,
        { cause: err },
      );
    }
    return new BillingError(
      'auth',
      `AWS profile "${profile}" (${source}) did not yield credentials: ${detail}. ` +
        `For SSO profiles run 'aws sso login --profile ${profile}' (SSO tokens expire: prefer keys or a role for cron)`,
      { cause: err },
    );
  }
  const imds = config.instance_metadata
    ? 'the instance metadata service was asked too'
    : 'on EC2 with an instance role set instance_metadata: true';
  return new BillingError(
    'auth',
    `no AWS credentials found (${detail}). Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the cron job, ` +
      `or a profile: key naming a section of ~/.aws/credentials (HOME is the crontab owner's), or ${imds}`,
    { cause: err },
  );
}
