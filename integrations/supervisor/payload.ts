/**
 * Event payloads: `key:value` tokens on the first line, then (for PROCESS_LOG and
 * PROCESS_COMMUNICATION) raw data. Pure; never throws on any input.
 */

export const STATE_CODES = {
  STOPPED: 0,
  STARTING: 10,
  RUNNING: 20,
  BACKOFF: 30,
  STOPPING: 40,
  EXITED: 100,
  FATAL: 200,
  UNKNOWN: 1000,
} as const;

export type ProcessStateName = keyof typeof STATE_CODES;
export const STATE_NAMES = Object.keys(STATE_CODES) as ProcessStateName[];

export function isStateName(s: string): s is ProcessStateName {
  return Object.prototype.hasOwnProperty.call(STATE_CODES, s);
}

export interface PayloadTokens {
  tokens: Record<string, string>;
  /** Everything after the first newline ('' when there is none). */
  data: string;
}

/**
 * Splits a payload into its token line and data. Decoding uses replacement characters, so
 * `Undecodable: b'…'` payloads (ASCII anyway) and stray bytes never throw.
 */
export function parsePayload(payload: Buffer): PayloadTokens {
  const text = payload.toString('utf8');
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  const data = nl < 0 ? '' : text.slice(nl + 1);
  const tokens: Record<string, string> = {};
  for (const tok of first.split(' ')) {
    const c = tok.indexOf(':');
    if (c <= 0) continue;
    tokens[tok.slice(0, c)] = tok.slice(c + 1);
  }
  return { tokens, data };
}

/** The families of event names supervisord 3.x/4.x sends; anything else is "unknown". */
export function eventFamily(
  name: string,
): 'process_state' | 'tick' | 'process_group' | 'supervisor_state' | 'process_log' | 'process_communication' | 'remote_communication' | undefined {
  if (name.startsWith('PROCESS_STATE_')) return isStateName(name.slice(14)) ? 'process_state' : undefined;
  if (name === 'TICK_5' || name === 'TICK_60' || name === 'TICK_3600') return 'tick';
  if (name === 'PROCESS_GROUP_ADDED' || name === 'PROCESS_GROUP_REMOVED') return 'process_group';
  if (name === 'SUPERVISOR_STATE_CHANGE_RUNNING' || name === 'SUPERVISOR_STATE_CHANGE_STOPPING') return 'supervisor_state';
  if (name === 'PROCESS_LOG_STDOUT' || name === 'PROCESS_LOG_STDERR') return 'process_log';
  if (name === 'PROCESS_COMMUNICATION_STDOUT' || name === 'PROCESS_COMMUNICATION_STDERR') return 'process_communication';
  if (name === 'REMOTE_COMMUNICATION') return 'remote_communication';
  return undefined;
}
