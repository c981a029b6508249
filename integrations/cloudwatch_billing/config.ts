import { bool, duration, int, obj, record, str, type Infer } from '../../shared/core/config/schema.js';

/**
 * Options of one `cloudwatch_billing` instance. The core adds enabled, prefix, log_level and
 * interval (default 1h).
 */
export const cloudwatchBillingSchema = obj({
  /**
   * A named profile from ~/.aws/credentials or ~/.aws/config (or the files named by
   * AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE). Unset: the SDK's default chain (environment,
   * AWS_PROFILE or `default`, credential_process, web identity, container role).
   */
  profile: str({ nonEmpty: true })
    .optional()
    .describe('named AWS profile; unset = the SDK default credential chain'),
  /**
   * Ask the EC2 instance metadata service (IMDS) for the instance role's credentials when
   * nothing else provided any. Off by default because off EC2 that probe costs ~2 s per run
   * before failing; turn it on when the poller runs on EC2 with an instance role.
   */
  instance_metadata: bool()
    .default(false)
    .describe('also try EC2 instance-metadata credentials (on EC2 with an instance role)'),
  /**
   * Override the CloudWatch endpoint: a VPC interface endpoint, LocalStack, or a test fake.
   * The region stays us-east-1: billing metrics exist only there.
   */
  endpoint: str({ pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/, patternHint: 'an http(s):// URL like https://monitoring.us-east-1.amazonaws.com' })
    .optional()
    .describe('CloudWatch endpoint URL (VPC endpoint, LocalStack, tests)'),
  /**
   * How far back each poll reads. Every poll re-sends the whole window with CloudWatch's own
   * timestamps (idempotent in Graphite), so a missed run or a late AWS update is filled in.
   * 48h also supplies the previous point the spend rate needs.
   */
  lookback: duration({ minMs: 2 * 3_600_000, maxMs: 15 * 86_400_000 })
    .default(48 * 3_600_000)
    .describe('window re-read on every poll (2h..15d)'),
  /** Emit `spend_per_hour` derived from consecutive estimates. */
  spend_rate: bool().default(true).describe('derive spend_per_hour from the month-to-date estimates'),
  /**
   * Display names for linked accounts: `{"111111111111": prod}` makes the path
   * `aws.billing.prod.<service>…` instead of the 12-digit id.
   */
  accounts: record(str({ nonEmpty: true })).default({}).describe('linked account id → path name'),
  /** Deadline for resolving credentials before any API call (fail fast, with a hint). */
  credentials_timeout: duration({ minMs: 100, maxMs: 60_000 })
    .default(5_000)
    .describe('deadline for finding credentials'),
  /** Deadline for a whole poll: credentials, every API call and retries. Keep it below the interval. */
  timeout: duration({ minMs: 500, maxMs: 3_600_000 })
    .default(120_000)
    .describe('deadline for one whole poll'),
  /** Attempts per API call, including the first; the SDK backs off between them (throttling: ~1 s base). */
  max_attempts: int({ min: 1, max: 10 }).default(3).describe('attempts per API call (SDK retries)'),
  /** A socket idle this long fails the attempt (then the SDK retries). */
  socket_timeout: duration({ minMs: 100, maxMs: 300_000 })
    .default(10_000)
    .describe('idle socket timeout per attempt'),
});

export type CloudwatchBillingConfig = Infer<typeof cloudwatchBillingSchema>;
