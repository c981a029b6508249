/**
 * The metric names of supervisord's processes: one path node per process and group name (never
 * adding hierarchy, never empty), every name of a process built once, and Sulphite's names.
 */
import { sanitizeNode } from '../../shared/emitter/names.js';
import { STATE_NAMES, type ProcessStateName } from './payload.js';

/** Every metric name of one process, built once: names repeat on every event and TICK. */
export interface ProcNames {
  state: Record<ProcessStateName, string>;
  up: string;
  stateCode: string;
  uptime: string;
  tries: string;
  starts: string;
  restarts: string;
  exitsExpected: string;
  exitsUnexpected: string;
  backoff: string;
  fatal: string;
  startTime: string;
  backoffTime: string;
  runTime: string;
}

export function procNames(path: string): ProcNames {
  return {
    state: Object.fromEntries(STATE_NAMES.map((st) => [st, `${path}.state.${st.toLowerCase()}`])) as Record<ProcessStateName, string>,
    up: `${path}.up`,
    stateCode: `${path}.state`,
    uptime: `${path}.uptime`,
    tries: `${path}.backoff.tries`,
    starts: `${path}.starts`,
    restarts: `${path}.restarts`,
    exitsExpected: `${path}.exits.expected`,
    exitsUnexpected: `${path}.exits.unexpected`,
    backoff: `${path}.backoff`,
    fatal: `${path}.fatal`,
    startTime: `${path}.start_time`,
    backoffTime: `${path}.backoff_time`,
    runTime: `${path}.run_time`,
  };
}

/**
 * A metric path node for a process or group name. Every character outside [A-Za-z0-9_-]
 * becomes '_' (dots too: a name must never add hierarchy levels). A name with nothing usable
 * left (e.g. all non-ASCII) gets its UTF-8 in hex, so the path keeps its depth and stays unique.
 */
export function nodeName(raw: string): string {
  const s = sanitizeNode(raw);
  if (s !== '') return s;
  return `x${Buffer.from(raw, 'utf8').toString('hex').slice(0, 64)}`;
}

/** Sulphite's metric name for a process: `proc` or `proc_group`, with '.' and ' ' as '_'. */
export function sulphiteName(processname: string, groupname: string): string {
  const name = processname === groupname ? processname : `${processname}_${groupname}`;
  return name.replace(/[. ]/g, '_');
}
