/**
 * The contract between the core and an integration. An integration sees only its own config and
 * a narrow context: a child emitter already scoped to its prefix, a child logger, a clock, an
 * abort signal and a place for state. It never sees the global config, the sinks or the other
 * integrations.
 */
import type { Readable, Writable } from 'node:stream';
export type { Shape } from "./config/schema.js";
import type { Issue, ObjectSchema, Shape, InferShape } from './config/schema.js';
import type { Emitter } from '../emitter/types.js';
import type { Logger } from './log/logger.js';

export type MetricType = 'counter' | 'gauge' | 'timer' | 'set' | 'datapoint';

/** One entry of an integration's metric catalogue (README table, live page titles/units). */
export interface MetricDoc {
  /** Relative to the instance prefix; `<placeholders>` for variable parts, e.g. `<group>.<process>.starts`. */
  name: string;
  type: MetricType;
  /** `count`, `ms`, `s`, `bytes`, `percent`, `USD`, `1` (a state/flag)… */
  unit: string;
  description: string;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Standard self-metrics every integration reports (Vector's component spec, simplified). */
export interface SelfMetrics {
  /** Input units taken in (lines, events, reports, API datapoints). */
  received(n?: number): void;
  /** Metrics handed to the emitter. */
  emitted(n?: number): void;
  /** An error at a stage; logged by the caller, counted here. */
  error(stage: 'receiving' | 'processing' | 'sending', n?: number): void;
}

/** What a state file held: its document, nothing yet, or why it cannot be used (never read as "empty"). */
export type StateRead =
  | { kind: 'missing' }
  /** `legacy`: a bare document written before the envelope (an older telltale); same data. */
  | { kind: 'ok'; data: unknown; legacy: boolean }
  | { kind: 'corrupt'; reason: string };

/**
 * The instance's state files (read positions, last-seen reports), in one format: a JSON envelope
 * naming the integration, the instance and the time, around the integration's own document.
 * `name` is a file name in the instance's state directory, or an absolute path.
 */
export interface StateFiles {
  /** The file `name` refers to (for messages). */
  path(name: string): string;
  read(name: string): Promise<StateRead>;
  readSync(name: string): StateRead;
  /** Atomic and durable: temp file, fsync, rename, fsync of the directory. Writes to one file are serialized. */
  write(name: string, data: unknown): Promise<void>;
  writeSync(name: string, data: unknown): void;
}

export interface IntegrationContext {
  /** Instance name from integrations.yaml (the map key). */
  readonly name: string;
  readonly emitter: Emitter;
  readonly log: Logger;
  readonly clock: Clock;
  /** Aborted when the integration must stop. */
  readonly signal: AbortSignal;
  readonly self: SelfMetrics;
  /** A directory this instance may keep state in (created on demand by the integration). */
  readonly stateDir: string;
  /** State files in `stateDir` (or at an absolute path), written atomically and durably. */
  readonly state: StateFiles;
  /** For pollers: the configured interval in ms. */
  readonly intervalMs: number;
  /**
   * The environment the command was started with, read-only. Read variables here, never from
   * `process.env` (several instances share one process, and tests give each its own). A library
   * that only reads `process.env` gets its switches through the definition's `processEnv`.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Standard streams, for integrations that speak a protocol (the supervisor listener).
   * Everyone else must not touch them: stdout belongs to protocols.
   */
  readonly stdio: { readonly stdin: Readable; readonly stdout: Writable };
}

/**
 * A problem in one key of an instance's settings that only `create()` can see (a format string
 * that does not compile, two disks that map to one metric node). Throw it from `create()` and the
 * core reports it like the loader's own errors: `FILE:LINE:COL: integrations.<name>.<path>: <detail>`,
 * at the key's value (or at the key itself with `atKey`, when the key is what is wrong). `path` is
 * relative to the instance's settings; `[]` points at the instance (a rule about several keys).
 * Any other error thrown by `create()` is reported at the instance too.
 */
export class ConfigKeyError extends Error {
  override name = 'ConfigKeyError';
  readonly path: readonly (string | number)[];
  /** The message without the key. */
  readonly detail: string;
  readonly atKey: boolean;
  constructor(path: readonly (string | number)[], detail: string, opts: { atKey?: boolean } = {}) {
    super(path.length > 0 ? `${path.join('.')}: ${detail}` : detail);
    this.path = path;
    this.detail = detail;
    this.atKey = opts.atKey ?? false;
  }
}

export interface Integration {
  /**
   * Long-running mode (services and listeners): start IO and resolve once running. Runs until
   * `stop()` or the abort signal. Pollers do not implement it: the core calls `once()` on a timer.
   */
  start?(): Promise<void>;
  /** Process what is available now, emit, and resolve (`--once`, cron, or one poll). */
  once(): Promise<void>;
  /** Idempotent; safe before start; awaits in-flight work and clears every timer/handle. */
  stop(): Promise<void>;
}

/**
 * - `service`: long-running, started by `telltale run` (access_log, puppet_reports).
 * - `poller`: the core calls `once()` every `interval` (host, cloudwatch_billing).
 * - `listener`: driven by its stdin; only runs as `telltale <type>` (supervisor).
 */
export type IntegrationMode = 'service' | 'poller' | 'listener';

export interface IntegrationDefinition<S extends Shape = Shape> {
  /** The config `type:` and folder name (snake_case). */
  readonly type: string;
  readonly summary: string;
  readonly mode: IntegrationMode;
  /** Pollers only: interval when the config gives none (ms). */
  readonly defaultIntervalMs?: number;
  /** Instance prefix when the config gives none, e.g. 'host', 'supervisor', 'aws.billing'. */
  readonly defaultPrefix: string;
  /** The integration's own keys; the core adds enabled/prefix/log_level/interval. */
  readonly schema: ObjectSchema<S>;
  readonly metrics: readonly MetricDoc[];
  /**
   * Whether an instance with this config emits timestamped datapoints (which statsd cannot keep).
   * Default: whether the catalogue lists one. For datapoints that only an option turns on.
   */
  timestamped?(config: InferShape<S>): boolean;
  /**
   * Checks across keys that the schema cannot express (a threshold naming a configured disk, a
   * format string that must compile), with paths relative to the instance: the loader reports
   * them at their file:line:col for `check` and `run` alike, before any running code is loaded.
   * Lives in `config.ts`.
   */
  validate?(config: InferShape<S>): Issue[];
  /**
   * Variables that a library this integration uses reads only from `process.env` (it has no option
   * for them), given every enabled instance's config at once. The core sets them once for the
   * process, before any `create()`, and only those the operator has not set: the decision covers
   * all instances, so no instance changes the environment behind another's back.
   */
  processEnv?(configs: readonly InferShape<S>[]): Readonly<Record<string, string>>;
  /**
   * Imports the running code: the integration's run file (`service.ts`, `poller.ts` or
   * `listener.ts`, named by `mode`) and everything it needs (the AWS SDK, chokidar...). Only the
   * command that creates an instance calls it, so `--help`, `--version`, `check` and the other
   * integrations never load that code. Resolves once loaded; later calls are free.
   */
  load(): Promise<void>;
  /**
   * Validates (no IO) and builds the running integration, after `load()` has resolved (it throws
   * before). Checks that need only the config belong in the schema, where `check` sees them.
   */
  create(config: InferShape<S>, ctx: IntegrationContext): Integration;
}

export type CreateIntegration<S extends Shape> = (config: InferShape<S>, ctx: IntegrationContext) => Integration;

/**
 * What `index.ts` writes: the definition, with `load` importing the run file's create function
 * (`() => import('./service.js').then((m) => m.createAccessLog)`). An inline definition (tests)
 * may give `create` itself instead.
 */
export type IntegrationSpec<S extends Shape> = Omit<IntegrationDefinition<S>, 'load' | 'create'> &
  ({ load(): Promise<CreateIntegration<S>>; create?: never } | { create: CreateIntegration<S>; load?: never });

/** Keeps the config type flowing from the schema to `create`, and remembers the loaded run file. */
export function defineIntegration<S extends Shape>(spec: IntegrationSpec<S>): IntegrationDefinition<S> {
  // The cache of an import(), not state of an instance: every instance shares the same code.
  let create: CreateIntegration<S> | undefined = spec.create;
  let loading: Promise<void> | undefined;
  const load = spec.load;
  return {
    ...spec,
    load() {
      loading ??= load ? load().then((fn) => void (create = fn)) : Promise.resolve();
      return loading;
    },
    create(config, ctx) {
      if (!create) throw new Error(`${spec.type}: create() before load() resolved`);
      return create(config, ctx);
    },
  };
}
