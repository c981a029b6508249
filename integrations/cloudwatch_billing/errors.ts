/**
 * Typed failures of one poll, each carrying a sysexits-style exit code so that `telltale
 * cloudwatch_billing --once` from cron exits with a code that says what to fix. The CLI uses
 * `err.exitCode` when present.
 */

/** What went wrong, from the operator's point of view. */
export type BillingFailure = 'auth' | 'temporary' | 'config' | 'no_data' | 'sink' | 'software';

/**
 * sysexits(3) codes, plus 79 for "nothing to report", which sysexits has no word for and which
 * must not be confused with a fault: the account simply has no billing metrics (yet).
 */
export const EXIT_CODES: Readonly<Record<BillingFailure, number>> = {
  /** EX_NOPERM: no/expired/invalid credentials, AccessDenied. Needs a human. */
  auth: 77,
  /** EX_TEMPFAIL: throttling after retries, 5xx, timeouts, a proxy's HTML page. Next run retries. */
  temporary: 75,
  /** EX_CONFIG: a profile that does not exist, an endpoint that rejects our requests. */
  config: 78,
  /** Not in sysexits: ListMetrics found no AWS/Billing metrics ("Receive Billing Alerts" is off). */
  no_data: 79,
  /** EX_UNAVAILABLE: the Graphite/statsd sink could not take the metrics. */
  sink: 69,
  /** EX_SOFTWARE: anything unclassified (a bug here or an SDK change). */
  software: 70,
};

export class BillingError extends Error {
  override readonly name = 'BillingError';
  readonly category: BillingFailure;
  readonly exitCode: number;

  constructor(category: BillingFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.category = category;
    this.exitCode = EXIT_CODES[category];
  }
}

/** The parts of an SDK error we look at; everything optional because anything can be thrown. */
interface ErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
}

const AUTH_CODES = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'AccessDenied',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'MissingAuthenticationToken',
  'IncompleteSignature',
  'InvalidSignatureException',
  'CredentialsProviderError',
]);

const TEMPORARY_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServiceFault',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'AbortError',
  'SyntaxError',
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Classifies an error thrown by the SDK. Pure: the decision table is tested directly. */
export function classifyAwsError(err: unknown): BillingFailure {
  if (err instanceof BillingError) return err.category;
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  if (AUTH_CODES.has(name)) return 'auth';
  if (TEMPORARY_CODES.has(name) || NETWORK_CODES.has(code)) return 'temporary';
  if (status === 401 || status === 403) return 'auth';
  if (status === 429 || (status !== undefined && status >= 500)) return 'temporary';
  // A non-JSON body the SDK could not parse (proxy pages) surfaces with a 2xx/4xx status.
  if (typeof e.message === 'string' && /Deserialization error|is not valid JSON|Unexpected token/.test(e.message)) return 'temporary';
  if (status !== undefined && status >= 400) return 'config';
  return 'software';
}

/** A one-line description of an SDK error for logs: name, message, HTTP status, attempts. */
export function describeAwsError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & ErrorShape;
  const firstLine = e.message.split('\n')[0] ?? '';
  const parts = [`${e.name}: ${firstLine}`];
  if (typeof e.$metadata?.httpStatusCode === 'number') parts.push(`HTTP ${e.$metadata.httpStatusCode}`);
  if (typeof e.$metadata?.attempts === 'number' && e.$metadata.attempts > 1) parts.push(`after ${e.$metadata.attempts} attempts`);
  return parts.join(', ');
}
