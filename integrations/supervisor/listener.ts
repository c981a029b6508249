/**
 * The listener process: stdin → parser → model → emitter, and exactly `READY`/`RESULT` on stdout.
 * All IO and timers live here; protocol.ts and model.ts are pure.
 */
import { hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { hostNode } from '../../shared/emitter/names.js';
import type { Emitter } from '../../shared/emitter/types.js';
import { ConfigKeyError, type Integration, type IntegrationContext, type SelfMetrics } from '../../shared/core/integration.js';
import { createLifecycle } from '../../shared/core/lifecycle.js';
import type { Logger } from '../../shared/core/log/logger.js';
import type { SupervisorConfig } from './config.js';
import { createModel, type Compat } from './model.js';
import { ACK_AND_READY, createProtocolParser, READY, type ParseItem } from './protocol.js';
import { callRpc, parseServerUrl, toProcessInfos, type RpcTarget } from './rpc.js';

export interface ListenerOptions {
  stdin: Readable;
  stdout: Writable;
  emitter: Emitter;
  log: Logger;
  now: () => number;
  self: SelfMetrics;
  signal: AbortSignal;
  compat: Compat;
  sulphiteSuffix: string | undefined;
  detectDrops: boolean;
  includeSelf: boolean;
  selfProcess: string | undefined;
  selfGroup: string | undefined;
  /** undefined: no resync. */
  rpc: { target: RpcTarget; everyTicks: number; timeoutMs: number; username: string | undefined; password: string | undefined } | undefined;
  lenGraceMs: number;
  /** Events for crashes (and starts); undefined: none. */
  events?: { onStart: boolean; host: string } | undefined;
}

/** Logs the first few protocol problems in full, then only every 1000th, to keep stderr readable. */
const LOG_FIRST = 20;

export function createListener(o: ListenerOptions): Integration {
  const parser = createProtocolParser();
  const model = createModel({
    emitter: o.emitter,
    now: o.now,
    compat: o.compat,
    sulphiteSuffix: o.sulphiteSuffix,
    detectDrops: o.detectDrops,
    includeSelf: o.includeSelf,
    self: { process: o.selfProcess, group: o.selfGroup },
    onEmitted: (n) => o.self.emitted(n),
    events: o.events,
  });
  const health = o.compat !== 'sulphite';
  let started = false;
  // The context's abort stops the listener; stop() aborts a resync and waits for it.
  const life = createLifecycle(o.signal, () => finish());
  let graceTimer: NodeJS.Timeout | undefined;
  let ticks = 0;
  let problems = 0;
  let resyncing: Promise<void> | undefined;
  /** After SUPERVISOR_STATE_CHANGE_STOPPING the socket is going away: a resync could only fail. */
  let supervisordStopping = false;
  const unknownNames = new Set<string>();
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });

  const problem = (msg: string, fields: Record<string, string | number>): void => {
    problems++;
    if (health) o.emitter.counter('listener.protocol_errors');
    o.self.error('receiving');
    if (problems <= LOG_FIRST || problems % 1000 === 0) {
      o.log.warn(msg, { ...fields, total: problems, ...(problems === LOG_FIRST ? { note: 'further problems logged every 1000th' } : {}) });
    }
  };

  const resync = (why: string): void => {
    const rpc = o.rpc;
    if (!rpc || resyncing || life.stopped || supervisordStopping) return;
    const since = model.seq;
    const call = callRpc(rpc.target, 'supervisor.getAllProcessInfo', {
      username: rpc.username,
      password: rpc.password,
      timeoutMs: rpc.timeoutMs,
      signal: life.signal,
    })
      .then((v) => {
        if (life.stopped) return;
        const infos = toProcessInfos(v);
        model.applySnapshot(infos, since);
        if (health) o.emitter.counter('listener.resync.ok');
        o.log.debug('resynced from XML-RPC', { why, processes: infos.length });
      })
      .catch((err: unknown) => {
        if (life.stopped) return;
        if (health) o.emitter.counter('listener.resync.errors');
        o.self.error('receiving');
        o.log.warn('XML-RPC resync failed; gauges rely on events only until the next try', { url: rpc.target.url, error: err instanceof Error ? err.message : String(err) });
      })
      .finally(() => {
        resyncing = undefined;
      });
    resyncing = life.track(call);
  };

  const handleItems = (items: ParseItem[]): void => {
    let acks = 0;
    for (const item of items) if (item.kind === 'event') acks++;
    // Answer first (always OK, RESULT and READY in one write), then compute metrics: supervisord
    // prepares the next event while we work. Acking later would save nothing on a crash, since
    // metrics only live in the emitter's memory until the next flush anyway.
    if (acks === 1) o.stdout.write(ACK_AND_READY);
    else if (acks > 1) o.stdout.write(Buffer.concat(new Array<Buffer>(acks).fill(ACK_AND_READY)));
    for (const item of items) {
      if (item.kind === 'junk') {
        problem('discarded bytes that are not part of the eventlistener protocol', { reason: item.reason, bytes: item.bytes });
        continue;
      }
      const ev = item.event;
      o.self.received();
      if (ev.problem !== undefined) {
        problem('damaged event header; acknowledged and skipped', { reason: ev.problem, eventname: ev.header.eventname });
        continue;
      }
      let r;
      try {
        r = model.handle(ev, o.now());
      } catch (err) {
        // A bug here must never cost the protocol; the event was acknowledged above.
        o.self.error('processing');
        o.log.error('failed to process event', { eventname: ev.header.eventname, error: err instanceof Error ? err.message : String(err) });
        continue;
      }
      if (!r.known && !unknownNames.has(ev.header.eventname) && unknownNames.size < 100) {
        unknownNames.add(ev.header.eventname);
        o.log.info('acknowledged an event type this version does not handle', { eventname: ev.header.eventname });
      }
      if (r.dropped > 0) o.log.warn('supervisord discarded events before we got them (raise buffer_size)', { dropped: r.dropped, poolserial: ev.header.poolserial ?? -1 });
      if (ev.truncated) o.log.debug('payload longer than the in-memory cap; kept its start', { eventname: ev.header.eventname, len: ev.header.len });
      if (ev.header.eventname === 'SUPERVISOR_STATE_CHANGE_STOPPING') supervisordStopping = true;
      else if (ev.header.eventname === 'SUPERVISOR_STATE_CHANGE_RUNNING') supervisordStopping = false;
      if (ev.header.eventname.startsWith('TICK_') && !r.redelivered) {
        ticks++;
        if (o.rpc && ticks % o.rpc.everyTicks === 0) resync('tick');
      }
    }
  };

  const clearGrace = (): void => {
    if (graceTimer) clearTimeout(graceTimer);
    graceTimer = undefined;
  };

  const onData = (chunk: Buffer | string): void => {
    clearGrace();
    handleItems(parser.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk));
    if (parser.ambiguous) {
      graceTimer = setTimeout(() => {
        graceTimer = undefined;
        handleItems(parser.settle());
      }, o.lenGraceMs);
    }
  };

  const finish = (): void => {
    detach();
    resolveDone();
  };

  const onEnd = (): void => {
    clearGrace();
    handleItems(parser.end());
    o.log.info('stdin closed; exiting', { events: model.seq });
    finish();
  };
  const onStdinError = (err: Error): void => {
    o.log.error('stdin failed', { error: err.message });
    finish();
  };
  const onStdoutError = (err: Error): void => {
    // EPIPE: supervisord is gone. Nothing can be answered any more.
    o.log.error('stdout failed; supervisord probably went away', { error: err.message });
    finish();
  };

  const detach = (): void => {
    clearGrace();
    o.stdin.off('data', onData);
    o.stdin.off('end', onEnd);
    o.stdin.off('error', onStdinError);
    o.stdout.off('error', onStdoutError);
  };

  const start = async (): Promise<void> => {
    if (started || life.stopped) return;
    started = true;
    o.stdin.on('data', onData);
    o.stdin.on('end', onEnd);
    o.stdin.on('error', onStdinError);
    o.stdout.on('error', onStdoutError);
    o.stdout.write(READY);
    o.log.info('listening for supervisord events', { resync: o.rpc ? o.rpc.target.url : 'off', compat: o.compat });
    resync('start');
  };

  return {
    start,
    // For a listener, "what is there now" is everything until stdin ends: replaying a capture
    // (`telltale supervisor --print < capture.bin`) and the normal life under supervisord alike.
    async once() {
      await start();
      await done;
      await resyncing;
    },
    stop: life.stop,
  };
}

export function rpcTargetFrom(url: string | undefined): RpcTarget | string | undefined {
  if (url === undefined || url === '') return undefined;
  return parseServerUrl(url);
}

/** The integration's create(): reads supervisord's environment and wires the listener to the context. */
export function createSupervisor(config: SupervisorConfig, ctx: IntegrationContext): Integration {
  const env = ctx.env;
  const selfProcess = env['SUPERVISOR_PROCESS_NAME'];
  const selfGroup = env['SUPERVISOR_GROUP_NAME'];
  const detectDrops =
    config.detect_drops === 'on' ||
    // A pool with numprocs > 1 names its members <pool>_<n>: each member sees only some serials.
    (config.detect_drops === 'auto' && (selfProcess === undefined || selfGroup === undefined || selfProcess === selfGroup));
  let rpc;
  if (config.resync) {
    const target = rpcTargetFrom(config.server_url ?? env['SUPERVISOR_SERVER_URL']);
    if (typeof target === 'string') {
      throw config.server_url !== undefined ? new ConfigKeyError(['server_url'], target) : new ConfigKeyError([], `SUPERVISOR_SERVER_URL: ${target}`);
    }
    if (target) {
      rpc = {
        target,
        everyTicks: config.resync_every,
        timeoutMs: config.rpc_timeout,
        username: env['SUPERVISOR_USERNAME'],
        password: env['SUPERVISOR_PASSWORD'],
      };
    } else {
      ctx.log.debug('no SUPERVISOR_SERVER_URL and no server_url: resync off');
    }
  }
  return createListener({
    stdin: ctx.stdio.stdin,
    stdout: ctx.stdio.stdout,
    emitter: ctx.emitter,
    log: ctx.log,
    now: () => ctx.clock.now(),
    self: ctx.self,
    signal: ctx.signal,
    compat: config.compat,
    sulphiteSuffix: config.sulphite_suffix,
    detectDrops,
    includeSelf: config.include_self,
    selfProcess,
    selfGroup,
    rpc,
    lenGraceMs: config.len_grace,
    events: config.events === 'off' ? undefined : { onStart: config.events === 'crashes_and_starts', host: hostNode(hostname()) },
  });
}
