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

const STATE_SET: ReadonlySet<string> = new Set(STATE_NAMES);

export function isStateName(s: string): s is ProcessStateName {
  return STATE_SET.has(s);
}

/** The payload tokens the model reads; every other token is ignored. */
export interface PayloadFields {
  processname: string | undefined;
  groupname: string | undefined;
  from_state: string | undefined;
  tries: string | undefined;
  expected: string | undefined;
  when: string | undefined;
}

/**
 * The known `key:value` tokens of a payload's first line (the last of a repeated key wins).
 * Decoding uses replacement characters, so `Undecodable: b'…'` payloads (ASCII anyway) and
 * stray bytes never throw. A long payload (PROCESS_LOG data can be 100s of KB) has only its
 * first line decoded. Hand-rolled into a fixed-shape object: this runs on every event, and a
 * record keyed by sliced strings cost a string interning per token.
 */
export function readPayload(payload: Buffer): PayloadFields {
  let text: string;
  let n: number;
  if (payload.length <= 1024) {
    // Decode it all and stop at the first '\n' (cheaper than a native Buffer search): '\n' is
    // ASCII and never inside a UTF-8 sequence, so this is the same first line as below.
    text = payload.toString('utf8');
    n = text.indexOf('\n');
    if (n < 0) n = text.length;
  } else {
    const nl = payload.indexOf(0x0a);
    text = payload.toString('utf8', 0, nl < 0 ? payload.length : nl);
    n = text.length;
  }
  const f: PayloadFields = { processname: undefined, groupname: undefined, from_state: undefined, tries: undefined, expected: undefined, when: undefined };
  for (let i = 0; i < n; ) {
    let sp = text.indexOf(' ', i);
    if (sp < 0 || sp > n) sp = n;
    const c = text.indexOf(':', i);
    if (c > i && c < sp) {
      // The known keys all differ in length.
      switch (c - i) {
        case 11:
          if (text.startsWith('processname', i)) f.processname = text.slice(c + 1, sp);
          break;
        case 9:
          if (text.startsWith('groupname', i)) f.groupname = text.slice(c + 1, sp);
          break;
        case 10:
          if (text.startsWith('from_state', i)) f.from_state = text.slice(c + 1, sp);
          break;
        case 5:
          if (text.startsWith('tries', i)) f.tries = text.slice(c + 1, sp);
          break;
        case 8:
          if (text.startsWith('expected', i)) f.expected = text.slice(c + 1, sp);
          break;
        case 4:
          if (text.startsWith('when', i)) f.when = text.slice(c + 1, sp);
          break;
      }
    }
    i = sp + 1;
  }
  return f;
}

/** `PROCESS_STATE_RUNNING` → `RUNNING`: one lookup instead of a slice and a second lookup. */
const STATE_OF_EVENT: ReadonlyMap<string, ProcessStateName> = new Map(STATE_NAMES.map((s) => [`PROCESS_STATE_${s}`, s]));

/** The state a PROCESS_STATE_* event name announces, or undefined for any other name. */
export function stateOfEvent(name: string): ProcessStateName | undefined {
  return STATE_OF_EVENT.get(name);
}

/** The families of event names supervisord 3.x/4.x sends; anything else is "unknown". */
export function eventFamily(
  name: string,
): 'process_state' | 'tick' | 'process_group' | 'supervisor_state' | 'process_log' | 'process_communication' | 'remote_communication' | undefined {
  if (name.startsWith('PROCESS_STATE_')) return STATE_OF_EVENT.has(name) ? 'process_state' : undefined;
  if (name === 'TICK_5' || name === 'TICK_60' || name === 'TICK_3600') return 'tick';
  if (name === 'PROCESS_GROUP_ADDED' || name === 'PROCESS_GROUP_REMOVED') return 'process_group';
  if (name === 'SUPERVISOR_STATE_CHANGE_RUNNING' || name === 'SUPERVISOR_STATE_CHANGE_STOPPING') return 'supervisor_state';
  if (name === 'PROCESS_LOG_STDOUT' || name === 'PROCESS_LOG_STDERR') return 'process_log';
  if (name === 'PROCESS_COMMUNICATION_STDOUT' || name === 'PROCESS_COMMUNICATION_STDERR') return 'process_communication';
  if (name === 'REMOTE_COMMUNICATION') return 'remote_communication';
  return undefined;
}
