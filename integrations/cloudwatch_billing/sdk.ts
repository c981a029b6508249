/**
 * The AWS SDK's CloudWatch client, loaded with require. The package is CommonJS (no `exports`,
 * `main` is its bundled dist-cjs); importing it from ESM made Node lex it and its re-exports for
 * named exports and sniff its format first, ~80 ms of a cron run's start-up. The same files load
 * either way.
 */
import { createRequire } from 'node:module';

type Sdk = typeof import('@aws-sdk/client-cloudwatch');

export const sdk = createRequire(import.meta.url)('@aws-sdk/client-cloudwatch') as Sdk;
