/**
 * What the listener knows about supervisord's processes, and the metrics each event turns into.
 * Pure apart from the emitter it is given: no IO, no timers, the clock is passed in.
 */
import type { Emitter } from '../../shared/emitter/types.js';
import type { ListenerEvent } from './protocol.js';
import { nodeName, procNames, sulphiteName, type ProcNames } from './names.js';
import { eventFamily, isStateName, readPayload, STATE_CODES, STATE_NAMES, stateOfEvent, type PayloadFields, type ProcessStateName } from './payload.js';

export type Compat = 'none' | 'sulphite' | 'both';

export interface ModelOptions {
  emitter: Emitter;
  now: () => number;
  compat: Compat;
  /** Appended to every Sulphite name (Sulphite's --graphite-suffix). */
  sulphiteSuffix: string | undefined;
  /** Count poolserial gaps as drops (only meaningful with numprocs=1). */
  detectDrops: boolean;
  /** Track the listener's own process (`SUPERVISOR_PROCESS_NAME` in `SUPERVISOR_GROUP_NAME`). */
  includeSelf: boolean;
  self: { process: string | undefined; group: string | undefined };
  /** Called with the number of metric calls made, for the standard self-metrics. */
  onEmitted?: (n: number) => void;
  /** Events for FATAL and unexpected exits (and every start with onStart); undefined: none. */
  events?: { onStart: boolean; host: string } | undefined;
}

/** One process as supervisord's XML-RPC `getAllProcessInfo` reports it (the fields we use). */
export interface ProcessInfo {
  name: string;
  group: string;
  statename: string;
  /** Unix seconds the process was last started (0 if never). */
  start: number;
  /** supervisord's clock at the time of the call, unix seconds. */
  now: number;
}

interface Proc {
  group: string;
  name: string;
  n: ProcNames;
  state: ProcessStateName;
  runningSince: number | undefined;
  startingSince: number | undefined;
  /** First STARTING of the current start attempt sequence (reset on RUNNING/FATAL/STOPPED). */
  sequenceStart: number | undefined;
  sawBackoff: boolean;
  tries: number;
  /** Model sequence number of the last event that touched this process. */
  lastSeq: number;
  /** Gauge values last sent, so a transition only sends what changed (TICK sends all). */
  sent: [up: number, state: number, uptime: number, tries: number];
}

export interface HandleResult {
  /** The event name is one this listener understands. */
  known: boolean;
  redelivered: boolean;
  dropped: number;
}

export interface SupervisorModel {
  handle(event: ListenerEvent, receivedAt: number): HandleResult;
  /** Re-send every gauge (on TICK, and after a resync). */
  sendGauges(): void;
  /**
   * Apply a getAllProcessInfo snapshot requested when the model was at `sinceSeq`. Processes
   * that saw an event since then keep their event-derived state (the snapshot may be older).
   */
  applySnapshot(infos: readonly ProcessInfo[], sinceSeq: number): void;
  /** Number of events handled so far; pass it back to applySnapshot. */
  readonly seq: number;
  /** Known processes, for tests and diagnostics. */
  processes(): { group: string; name: string; state: ProcessStateName; tries: number }[];
}

export function createModel(o: ModelOptions): SupervisorModel {
  const e = o.emitter;
  const procs = new Map<string, Proc>();
  const defaultScheme = o.compat !== 'sulphite';
  const sulphite = o.compat !== 'none';
  let seq = 0;
  let lastSerial: number | undefined;
  let lastPoolserial: number | undefined;
  let supervisordUp: number | undefined;
  let emitted = 0;

  const counter = (name: string, v = 1): void => {
    e.counter(name, v);
    emitted++;
  };
  const gauge = (name: string, v: number): void => {
    e.gauge(name, v);
    emitted++;
  };
  const timing = (name: string, ms: number): void => {
    e.timing(name, Math.max(0, ms));
    emitted++;
  };

  const getProc = (group: string, name: string): Proc => {
    const key = `${group}:${name}`;
    let p = procs.get(key);
    if (!p) {
      p = {
        group,
        name,
        n: procNames(`${nodeName(group)}.${nodeName(name)}`),
        state: 'STOPPED',
        runningSince: undefined,
        startingSince: undefined,
        sequenceStart: undefined,
        sawBackoff: false,
        tries: 0,
        lastSeq: 0,
        sent: [-1, -1, -1, -1],
      };
      procs.set(key, p);
    }
    return p;
  };

  const procGauges = (p: Proc, now: number, all: boolean): void => {
    const up = p.state === 'RUNNING' ? 1 : 0;
    const code = STATE_CODES[p.state];
    const uptime = p.state === 'RUNNING' && p.runningSince !== undefined ? Math.max(0, Math.floor((now - p.runningSince) / 1000)) : 0;
    const sent = p.sent;
    if (all || sent[0] !== up) gauge(p.n.up, (sent[0] = up));
    if (all || sent[1] !== code) gauge(p.n.stateCode, (sent[1] = code));
    if (all || sent[2] !== uptime) gauge(p.n.uptime, (sent[2] = uptime));
    if (all || sent[3] !== p.tries) gauge(p.n.tries, (sent[3] = p.tries));
  };

  const sendGauges = (): void => {
    if (!defaultScheme) return;
    const now = o.now();
    const counts = new Map<ProcessStateName, number>(STATE_NAMES.map((s) => [s, 0]));
    for (const p of procs.values()) {
      procGauges(p, now, true);
      counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
    }
    for (const [s, n] of counts) gauge(`supervisord.processes.${s.toLowerCase()}`, n);
    if (supervisordUp !== undefined) gauge('supervisord.up', supervisordUp);
  };

  const isSelf = (processname: string, groupname: string): boolean =>
    o.self.process !== undefined && processname === o.self.process && groupname === (o.self.group ?? o.self.process);

  const processState = (to: ProcessStateName, f: PayloadFields, now: number): void => {
    const name = f.processname;
    const group = f.groupname ?? name;
    if (name === undefined || group === undefined) return;
    if (!o.includeSelf && isSelf(name, group)) return;
    const fromRaw = f.from_state ?? '';
    // Trust the event's from_state over our own memory: events may have been dropped.
    const p = getProc(group, name);
    const from: ProcessStateName | undefined = isStateName(fromRaw) ? fromRaw : undefined;
    p.lastSeq = seq;

    if (sulphite) {
      const sname = sulphiteName(name, group);
      const suffix = o.sulphiteSuffix ? `.${o.sulphiteSuffix}` : '';
      e.datapoint(`${sname}.${fromRaw.toLowerCase()}.process_state_${to.toLowerCase()}${suffix}`, 1, Math.floor(now / 1000));
      emitted++;
    }

    const tries = Number(f.tries);
    if (defaultScheme) counter(p.n.state[to]);
    // Sulphite-only mode sends nothing of telltale's own scheme, events included.
    const ev = defaultScheme ? o.events : undefined;
    const event = (what: string, tag: string, data: string): void => {
      if (!ev) return;
      e.event(`${group}:${name} ${what}`, { tags: ['supervisor', tag, ev.host, nodeName(group), nodeName(name)], data, when: Math.floor(now / 1000) });
      emitted++;
    };
    if (to === 'FATAL') event('FATAL', 'fatal', `gave up starting after ${p.tries} failed attempts (from ${fromRaw})`);
    else if (to === 'EXITED' && f.expected !== '1') event('exited unexpectedly', 'crash', `exited from ${fromRaw} with an exit code not in exitcodes`);
    else if (to === 'STARTING' && ev?.onStart) event('started', 'start', `from ${fromRaw}${Number.isFinite(tries) && tries > 0 ? `, try ${tries}` : ''}`);
    switch (to) {
      case 'STARTING':
        if (defaultScheme) {
          counter(p.n.starts);
          if (from === 'EXITED' || from === 'BACKOFF') counter(p.n.restarts);
        }
        if (from !== 'BACKOFF' || p.sequenceStart === undefined) {
          p.sequenceStart = now;
          p.sawBackoff = false;
        }
        p.startingSince = now;
        p.tries = Number.isFinite(tries) ? tries : 0;
        break;
      case 'RUNNING':
        if (defaultScheme && from === 'STARTING' && p.startingSince !== undefined) timing(p.n.startTime, now - p.startingSince);
        if (defaultScheme && p.sawBackoff && p.sequenceStart !== undefined) timing(p.n.backoffTime, now - p.sequenceStart);
        p.runningSince = now;
        p.tries = 0;
        p.sequenceStart = undefined;
        p.sawBackoff = false;
        p.startingSince = undefined;
        break;
      case 'BACKOFF':
        if (defaultScheme) counter(p.n.backoff);
        p.sawBackoff = true;
        if (Number.isFinite(tries)) p.tries = tries;
        p.startingSince = undefined;
        break;
      case 'STOPPING':
        if (defaultScheme && from === 'RUNNING' && p.runningSince !== undefined) timing(p.n.runTime, now - p.runningSince);
        p.runningSince = undefined;
        break;
      case 'EXITED':
        if (defaultScheme) {
          counter(f.expected === '1' ? p.n.exitsExpected : p.n.exitsUnexpected);
          if (from === 'RUNNING' && p.runningSince !== undefined) timing(p.n.runTime, now - p.runningSince);
        }
        p.runningSince = undefined;
        break;
      case 'FATAL':
        if (defaultScheme) {
          counter(p.n.fatal);
          if (p.sequenceStart !== undefined) timing(p.n.backoffTime, now - p.sequenceStart);
        }
        p.sequenceStart = undefined;
        p.sawBackoff = false;
        break;
      case 'STOPPED':
        p.sequenceStart = undefined;
        p.sawBackoff = false;
        p.runningSince = undefined;
        p.tries = 0;
        break;
      case 'UNKNOWN':
        break;
    }
    p.state = to;
    if (defaultScheme) procGauges(p, now, false);
  };

  const handle = (event: ListenerEvent, receivedAt: number): HandleResult => {
    const h = event.header;
    const result: HandleResult = { known: true, redelivered: false, dropped: 0 };
    if (defaultScheme) counter('listener.events');
    // A rejected or interrupted event comes back with the same serial: count it once.
    if (h.serial !== undefined && h.serial === lastSerial) {
      result.redelivered = true;
      if (defaultScheme) counter('listener.redelivered');
      flushEmitted();
      return result;
    }
    if (h.serial !== undefined) lastSerial = h.serial;
    if (h.poolserial !== undefined) {
      if (o.detectDrops && lastPoolserial !== undefined && h.poolserial > lastPoolserial + 1) {
        result.dropped = h.poolserial - lastPoolserial - 1;
        if (defaultScheme) counter('listener.dropped', result.dropped);
      }
      lastPoolserial = h.poolserial;
    }
    seq++;
    const family = eventFamily(h.eventname);
    if (family === undefined) {
      result.known = false;
      if (defaultScheme) counter('listener.unknown');
      flushEmitted();
      return result;
    }
    const f = readPayload(event.payload);
    switch (family) {
      case 'process_state':
        processState(stateOfEvent(h.eventname)!, f, receivedAt);
        break;
      case 'tick': {
        const when = Number(f.when);
        if (defaultScheme && Number.isFinite(when) && when > 0) timing('listener.lag', receivedAt - when * 1000);
        sendGauges();
        break;
      }
      case 'process_group': {
        const g = f.groupname?.trim();
        const added = h.eventname === 'PROCESS_GROUP_ADDED';
        if (defaultScheme) counter(added ? 'supervisord.groups.added' : 'supervisord.groups.removed');
        if (!added && g !== undefined) for (const [k, p] of procs) if (p.group === g) procs.delete(k);
        break;
      }
      case 'supervisor_state':
        supervisordUp = h.eventname === 'SUPERVISOR_STATE_CHANGE_RUNNING' ? 1 : 0;
        if (defaultScheme) gauge('supervisord.up', supervisordUp);
        break;
      case 'process_log':
        if (sulphite) {
          const name = f.processname;
          const group = f.groupname ?? name;
          if (name !== undefined && group !== undefined) {
            const suffix = o.sulphiteSuffix ? `.${o.sulphiteSuffix}` : '';
            e.datapoint(`${sulphiteName(name, group)}.${h.eventname.toLowerCase()}${suffix}`, 1, Math.floor(receivedAt / 1000));
            emitted++;
          }
        }
        break;
      case 'process_communication':
      case 'remote_communication':
        // Understood and acknowledged; no metric by default (the payload is application data).
        break;
    }
    flushEmitted();
    return result;
  };

  const flushEmitted = (): void => {
    if (emitted > 0) o.onEmitted?.(emitted);
    emitted = 0;
  };

  const applySnapshot = (infos: readonly ProcessInfo[], sinceSeq: number): void => {
    const now = o.now();
    const seen = new Set<string>();
    for (const info of infos) {
      const key = `${info.group}:${info.name}`;
      seen.add(key);
      if (!o.includeSelf && isSelf(info.name, info.group)) continue;
      const existing = procs.get(key);
      if (existing && existing.lastSeq > sinceSeq) continue;
      const p = existing ?? getProc(info.group, info.name);
      if (!isStateName(info.statename)) continue;
      p.state = info.statename;
      if (p.state === 'RUNNING' && info.start > 0) {
        // Use supervisord's own clock difference: the two clocks may disagree.
        p.runningSince = now - Math.max(0, info.now - info.start) * 1000;
      } else if (p.state !== 'RUNNING') {
        p.runningSince = undefined;
      }
      if (p.state === 'RUNNING' || p.state === 'STOPPED') p.tries = 0;
    }
    for (const [k, p] of procs) if (!seen.has(k) && p.lastSeq <= sinceSeq) procs.delete(k);
    sendGauges();
    flushEmitted();
  };

  return {
    handle,
    sendGauges: () => {
      sendGauges();
      flushEmitted();
    },
    applySnapshot,
    get seq() {
      return seq;
    },
    processes: () => [...procs.values()].map((p) => ({ group: p.group, name: p.name, state: p.state, tries: p.tries })),
  };
}
