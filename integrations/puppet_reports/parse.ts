/**
 * Pure parsing of Puppet run data: report files (`<reportdir>/<certname>/<YYYYMMDDHHMM>.yaml`,
 * any report_format from Puppet 3 to 8, YAML or JSON) into one `Run` (run.ts); agent summaries
 * are summary.ts. No IO here.
 *
 * A report that parses is not necessarily complete: js-yaml happily loads a file cut at a line
 * boundary. `parseReport` therefore validates structure and completeness and
 * throws a `RunParseError` of kind `incomplete` rather than returning half a run.
 */
import { load } from 'js-yaml';
import { AliasLimitError } from '../../shared/core/yaml/alias-expansion.js';
import { checkReportAliases, PUPPET_YAML_SCHEMA } from './yaml-schema.js';
import { countLogLevelsInBytes, failedEntryChunks, splitRootBlocks } from './report-blocks.js';
import { deriveStatus, metricValue, RunParseError, type FailedResource, type Run, type RunMetric, type RunStatus } from './run.js';

/**
 * Formats whose root keys are written by Psych at column 0 with plain nested YAML (Puppet ≥ 5.5),
 * and which end with `corrective_change`, written right after `resource_statuses`: its presence
 * proves the file was not cut inside the (huge) resource_statuses block.
 */
const FAST_PATH_FORMATS = new Set([9, 10, 11, 12]);

export interface ParseOptions {
  /** Read resource_statuses for failed-resource titles only when the file is at most this big. */
  resourceStatusesMaxBytes?: number;
  /** Force the full-document parse (benchmarks, tests comparing both paths). */
  forceFull?: boolean;
}

export type Obj = Record<string, unknown>;

/** Longest excerpt of file content put into an error message. */
const EXCERPT_CHARS = 80;

/**
 * A value from the file, for an error message: strings cut to EXCERPT_CHARS, collections named by
 * kind and length. Never JSON.stringify/String() a parsed value: an alias bomb expands to GBs.
 */
export function excerpt(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > EXCERPT_CHARS ? `${v.slice(0, EXCERPT_CHARS)}…` : v);
  if (Array.isArray(v)) return `(a list of ${v.length})`;
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? v.toISOString() : '(an invalid date)';
  if (v !== null && typeof v === 'object') return '(a mapping)';
  return String(v);
}

/** First line of a library error, bounded: js-yaml messages quote tags and aliases from the file. */
function firstLine(e: unknown): string {
  const line = (e as Error).message.split('\n')[0] ?? '';
  return line.length > 2 * EXCERPT_CHARS ? `${line.slice(0, 2 * EXCERPT_CHARS)}…` : line;
}

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Ruby symbols dumped by Psych come back as ":name". */
function unsym(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return v.startsWith(':') ? v.slice(1) : v;
}

export function finiteNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function optBool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

const TIME_RE = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?$/;

/**
 * Report times: quoted ISO-8601 with 9 fraction digits (Puppet ≥ 5), `…Z` (Puppet 6), unquoted
 * YAML 1.1 `2008-12-06 10:06:51.373758 -07:00` (legacy; js-yaml may already make it a Date).
 * An explicit parser because the legacy form is outside what `Date.parse` is specified to accept.
 */
export function parseRunTime(v: unknown): number | undefined {
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isFinite(t) ? t / 1000 : undefined;
  }
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = TIME_RE.exec(v.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (!Number.isFinite(ms)) return undefined;
  let secs = ms / 1000 + (frac ? Number(`0${frac}`) : 0);
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    secs -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4)) * 60);
  }
  return secs;
}

function readMetrics(raw: unknown, where: string): RunMetric[] {
  if (!isObj(raw)) throw new RunParseError('incomplete', `${where}: no metrics mapping`);
  const out: RunMetric[] = [];
  for (const [rawCat, block] of Object.entries(raw)) {
    const category = unsym(rawCat);
    if (!category || !isObj(block)) throw new RunParseError('parse', `${where}: metrics.${excerpt(rawCat)} is not a mapping`);
    const values = block['values'];
    if (!Array.isArray(values)) throw new RunParseError('incomplete', `${where}: metrics.${category}.values is not a list`);
    for (const triple of values) {
      if (!Array.isArray(triple) || triple.length < 3) {
        throw new RunParseError('incomplete', `${where}: metrics.${category} has an entry that is not [name, label, value]`);
      }
      const name = unsym(triple[0]);
      const value = finiteNumber(triple[2]);
      if (!name || value === undefined) {
        throw new RunParseError('parse', `${where}: metrics.${category} entry ${excerpt(triple[0])} has no finite value`);
      }
      out.push({ category, name, label: typeof triple[1] === 'string' ? triple[1] : undefined, value });
    }
  }
  for (const needed of ['resources', 'time']) {
    if (!out.some((m) => m.category === needed)) throw new RunParseError('incomplete', `${where}: metrics.${needed} is missing`);
  }
  return out;
}

function countLogLevels(logs: unknown): Record<string, number> | undefined {
  if (!Array.isArray(logs)) return undefined;
  const out: Record<string, number> = {};
  for (const l of logs) {
    const level = isObj(l) ? unsym(l['level']) : undefined;
    if (level) out[level] = (out[level] ?? 0) + 1;
  }
  return out;
}

function failedResources(statuses: unknown): FailedResource[] {
  const out: FailedResource[] = [];
  if (!isObj(statuses)) return out;
  for (const [key, st] of Object.entries(statuses)) {
    if (!isObj(st) || (st['failed'] !== true && st['failed_to_restart'] !== true)) continue;
    let message: string | undefined;
    if (Array.isArray(st['events'])) {
      for (const ev of st['events']) {
        if (isObj(ev) && unsym(ev['status']) === 'failure' && typeof ev['message'] === 'string') {
          message = ev['message'];
          break;
        }
      }
    }
    if (message === undefined && st['failed_to_restart'] === true) message = 'failed to restart';
    const line = finiteNumber(st['line']);
    out.push({
      resource: typeof st['resource'] === 'string' ? st['resource'] : key,
      file: typeof st['file'] === 'string' ? st['file'] : undefined,
      line,
      message,
    });
  }
  return out;
}

export function loadYaml(text: string, where: string): unknown {
  let doc: unknown;
  try {
    doc = load(text, { schema: PUPPET_YAML_SCHEMA, filename: where });
  } catch (e) {
    throw new RunParseError('parse', `${where}: ${firstLine(e)}`);
  }
  try {
    checkReportAliases(doc, text);
  } catch (e) {
    if (e instanceof AliasLimitError) throw new RunParseError('limit', `${where}: ${e.message}`);
    throw e;
  }
  return doc;
}

/** The json terminus (`lastrunreport` routed to JSON): JSON.parse is exact and far faster. */
function loadJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new RunParseError(text.trimEnd().endsWith('}') ? 'parse' : 'incomplete', `${where}: ${firstLine(e)}`);
  }
}

/** Build the Run from a loaded root mapping; shared by both paths so they cannot drift. */
function buildRun(
  doc: Obj,
  where: string,
  logLevels: Record<string, number> | undefined,
  failed: FailedResource[] | undefined,
  parsedBy: 'fast' | 'full',
): Run {
  const host = typeof doc['host'] === 'string' ? doc['host'].trim() : typeof doc['name'] === 'string' ? doc['name'].trim() : '';
  if (host === '') throw new RunParseError('incomplete', `${where}: no host`);
  const time = parseRunTime(doc['time']);
  if (time === undefined) throw new RunParseError('incomplete', `${where}: no parseable time (${excerpt(doc['time'])})`);
  const metrics = readMetrics(doc['metrics'], where);
  const rawStatus = unsym(doc['status']);
  let status: RunStatus | undefined;
  let statusSource: Run['statusSource'] = 'report';
  if (rawStatus === 'failed' || rawStatus === 'changed' || rawStatus === 'unchanged') status = rawStatus;
  else if (rawStatus === undefined) {
    status = deriveStatus(metrics);
    statusSource = 'derived';
  } else throw new RunParseError('parse', `${where}: unknown status ${excerpt(rawStatus)}`);
  const reportFormat = finiteNumber(doc['report_format']);
  const uuid = typeof doc['transaction_uuid'] === 'string' && doc['transaction_uuid'] !== '' ? doc['transaction_uuid'] : undefined;
  const total = metricValue(metrics, 'time', 'total');
  return {
    host,
    time,
    endTime: time + (total ?? 0),
    status,
    statusSource,
    reportFormat,
    key: uuid ?? `${host}@${time}`,
    transactionUuid: uuid,
    noop: optBool(doc['noop']),
    noopPending: optBool(doc['noop_pending']),
    correctiveChange: optBool(doc['corrective_change']),
    transactionCompleted: optBool(doc['transaction_completed']),
    cachedCatalogStatus: unsym(doc['cached_catalog_status']),
    metrics,
    logLevels,
    failedResources: failed,
    environment: typeof doc['environment'] === 'string' && doc['environment'] !== '' ? doc['environment'].slice(0, 100) : undefined,
    parsedBy,
  };
}

/**
 * Failed resources without parsing the whole resource_statuses block (the bulk of a big report):
 * parse only the entries failedEntryChunks cut out. Throws when the layout is not the expected one.
 */
export function failedResourcesFromBlock(block: Buffer | string, where: string): FailedResource[] {
  const chunks = failedEntryChunks(typeof block === 'string' ? Buffer.from(block) : block);
  if (chunks.length === 0) return [];
  const doc = loadYaml(`resource_statuses:\n${chunks.join('')}`, where);
  if (!isObj(doc) || !isObj(doc['resource_statuses'])) throw new RunParseError('parse', `${where}: unexpected resource_statuses layout`);
  const out = failedResources(doc['resource_statuses']);
  if (out.length !== chunks.length) throw new RunParseError('parse', `${where}: failed-entry scan disagrees with the entries parsed`);
  return out;
}

function resourceStatusesWanted(run: Run): boolean {
  if (run.status === 'failed') return true;
  return (metricValue(run.metrics, 'resources', 'failed') ?? 0) + (metricValue(run.metrics, 'resources', 'failed_to_restart') ?? 0) > 0;
}

/** Completeness checks common to both paths. */
export function checkComplete(data: string | Buffer, where: string): void {
  if (data.length === 0) throw new RunParseError('incomplete', `${where}: empty file`);
  // A pre-allocated or sparse file reads as NULs; never valid YAML or JSON.
  if ((typeof data === 'string' ? data.indexOf('\0') : data.indexOf(0)) !== -1) throw new RunParseError('incomplete', `${where}: NUL bytes (file still being written or sparse)`);
  // Psych always ends a dump with a newline; a missing one means the write was cut short.
  const first = typeof data === 'string' ? data.charCodeAt(0) : data[0];
  const last = typeof data === 'string' ? data.charCodeAt(data.length - 1) : data[data.length - 1];
  if (first !== 0x7b /* { */ && last !== 0x0a) throw new RunParseError('incomplete', `${where}: does not end with a newline (truncated)`);
}

function checkTail(doc: Obj, reportFormat: number | undefined, where: string): void {
  if (reportFormat !== undefined && FAST_PATH_FORMATS.has(reportFormat) && !('corrective_change' in doc)) {
    throw new RunParseError('incomplete', `${where}: no corrective_change key (report_format ${reportFormat} writes it last; truncated)`);
  }
}

/**
 * Parse one report file (its bytes, or its text). `where` names the file in every error.
 * Fast path (report_format 9-12): decode and load only the small root blocks and the metrics,
 * count log levels by line, and read resource_statuses only for failed runs, without ever
 * decoding it whole. Everything else, or anything the fast path does not recognise, goes through
 * the full-document parse.
 */
export function parseReport(file: Buffer | string, where: string, opts: ParseOptions = {}): Run {
  const data = typeof file === 'string' ? Buffer.from(file) : file;
  checkComplete(data, where);
  const maxRs = opts.resourceStatusesMaxBytes ?? 16 * 1024 * 1024;
  if (!opts.forceFull) {
    try {
      const run = parseFast(data, where, maxRs);
      if (run) return run;
    } catch (e) {
      // Missing pieces are missing for the full parse too, and this message is the precise one;
      // a limit hit on the head is hit again by the whole document, so do not pay twice.
      if (e instanceof RunParseError && e.kind !== 'parse') throw e;
      // Anything else the fast path disliked: the full parse applies the same checks and gives
      // the error for the whole document.
    }
  }
  const text = typeof file === 'string' ? file : data.toString('utf8');
  const doc = text.startsWith('{') ? loadJson(text, where) : loadYaml(text, where);
  if (!isObj(doc)) throw new RunParseError('incomplete', `${where}: not a YAML/JSON mapping (got ${doc === null ? 'null' : Array.isArray(doc) ? 'a list' : typeof doc})`);
  const fmt = finiteNumber(doc['report_format']);
  checkTail(doc, fmt, where);
  const run = buildRun(doc, where, countLogLevels(doc['logs']), undefined, 'full');
  if (resourceStatusesWanted(run)) run.failedResources = failedResources(doc['resource_statuses']);
  return run;
}

/** The fast path; undefined when the file is not in the layout it knows. */
function parseFast(data: Buffer, where: string, maxRs: number): Run | undefined {
  const blocks = splitRootBlocks(data);
  if (blocks?.has('metrics') && blocks.has('host')) {
    // Blocks end at a newline, so no UTF-8 sequence is split by decoding them one by one.
    let head = '';
    for (const [key, b] of blocks) if (key !== 'logs' && key !== 'resource_statuses') head += data.toString('utf8', b.start, b.end);
    const doc = loadYaml(head, where);
    if (isObj(doc)) {
      const fmt = finiteNumber(doc['report_format']);
      if (fmt !== undefined && FAST_PATH_FORMATS.has(fmt)) {
        checkTail(doc, fmt, where);
        const logsBlock = blocks.get('logs');
        const levels = logsBlock ? countLogLevelsInBytes(data.subarray(logsBlock.start, logsBlock.end)) : undefined;
        const run = buildRun(doc, where, levels, undefined, 'fast');
        const rs = blocks.get('resource_statuses');
        if (rs && resourceStatusesWanted(run)) {
          const block = data.subarray(rs.start, rs.end);
          try {
            run.failedResources = failedResourcesFromBlock(block, where);
          } catch {
            // An unexpected layout inside resource_statuses: parse the block as a whole instead.
            if (block.length <= maxRs) {
              const statuses = loadYaml(block.toString('utf8'), where);
              run.failedResources = failedResources(isObj(statuses) ? statuses['resource_statuses'] : undefined);
            }
          }
        }
        return run;
      }
    }
  }
  return undefined;
}
