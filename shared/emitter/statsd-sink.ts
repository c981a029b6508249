/**
 * The statsd sink: Etsy statsd line protocol over UDP (connected socket, MTU-sized packets),
 * TCP, or a unix stream socket (statsd's tcp server bound to a path).
 *
 * Why packets are packed: Etsy statsd absorbs ~90k datagrams/s but ~1.25M lines/s when 79 lines
 * share a 1432-byte packet (research/emitter.md §5). Why a connected socket: one DNS lookup
 * instead of one per send (which halves throughput) and ICMP port-unreachable surfaces as
 * ECONNREFUSED, a cheap "statsd is down" signal. Packet size: see {@link defaultMaxPacketBytes}.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { udpSocketType, type Address } from './address.js';
import { formatValue } from './names.js';
import { createLogThrottle } from './log-throttle.js';
import { createStreamTransport, type StreamTransport } from './stream-transport.js';
import { countDrop, emptySinkStats, type Sink, type SinkStats } from './types.js';


export interface StatsdSinkOptions {
  name?: string;
  address: Address;
  /**
   * Packet payload limit: 1432 (Fast Ethernet), 8932 (jumbo frames), 512 (internet). Default
   * {@link defaultMaxPacketBytes}: 7168 to a loopback address, 1432 to anything else.
   */
  maxPacketBytes?: number | undefined;
  /** Sum counters locally and send one line per name per flush (default true). */
  aggregateCounters?: boolean;
  /**
   * Keep gauges locally and send each name's final value once per flush (default true): statsd
   * itself keeps only the last value per flush, so a gauge set every second costs one line per
   * flush instead of ten. Deltas fold into a pending value or are summed.
   */
  aggregateGauges?: boolean;
  /** Client-side sampling applied to timers only, in (0,1] (default 1). */
  timerSampleRate?: number;
  /** UDP datagrams awaiting their send callback before new ones are dropped (default 1024). */
  maxInFlight?: number;
  /** Re-resolve and reconnect the UDP socket this often (DNS changes), ms (default 60 s). */
  reconnectEveryMs?: number;
  onError?: (err: Error) => void;
  random?: () => number;
}

/** UDP payload per packet to anything but loopback: fits a 1500-byte Ethernet MTU unfragmented. */
export const NETWORK_MAX_PACKET_BYTES = 1432;
/** UDP payload per packet to a loopback address; see {@link defaultMaxPacketBytes}. */
export const LOOPBACK_MAX_PACKET_BYTES = 7168;

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * The packet size used when none is configured. To a loopback address (127.0.0.0/8, ::1 in any
 * spelling, IPv4-mapped included, or `localhost`) nothing fragments (the loopback MTU is 64 KiB),
 * and each datagram costs the sender a system call and the receiver a wake-up: larger packets
 * mean fewer of both (an instrumented Express server spent 2.8 µs per request in `send` with
 * 1432-byte packets, 0.7 µs with 8 KiB). 7168 rather than 8192: Linux accounts a datagram's
 * buffer against the receiver's socket buffer in power-of-two slabs, and an 8192-byte payload
 * plus headers spills into a 16 KiB one, so statsd's default 208 KiB receive buffer would hold
 * less (96 KiB of lines) than with 1432-byte packets (129 KiB); 7168 stays in the 8 KiB slab
 * with room for larger kernel overheads (175 KiB). Datagrams that size are read whole by Etsy
 * statsd and Telegraf (64 KiB buffers) and by the Datadog agent (8 KiB). Anything else gets
 * {@link NETWORK_MAX_PACKET_BYTES}: an IP fragment lost on a real network loses the whole
 * datagram. A host name other than `localhost` is not resolved for this: configure
 * `max_packet_bytes` when it is local. Stream transports (tcp, unix) have no packets.
 */
export function defaultMaxPacketBytes(address: Address): number {
  if (address.transport !== 'udp') return NETWORK_MAX_PACKET_BYTES;
  return isLoopbackHost(address.host) ? LOOPBACK_MAX_PACKET_BYTES : NETWORK_MAX_PACKET_BYTES;
}

function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = net.isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

export function createStatsdSink(o: StatsdSinkOptions): Sink {
  const stats: SinkStats = emptySinkStats();
  const name = o.name ?? 'statsd';
  const maxPacket = o.maxPacketBytes ?? defaultMaxPacketBytes(o.address);
  const aggregate = o.aggregateCounters ?? true;
  const timerRate = o.timerSampleRate ?? 1;
  const random = o.random ?? Math.random;
  const counters = new Map<string, number>();
  const aggregateGauges = o.aggregateGauges ?? true;
  // The newest absolute value per gauge this flush, or, where none came, the summed deltas.
  const gauges = new Map<string, number>();
  const gaugeDeltas = new Map<string, number>();
  // Datapoints carry history (a report's or CloudWatch's window); statsd can only hold the
  // latest, so keep the newest per name and send it once per flush.
  const datapoints = new Map<string, { value: number; ts: number }>();
  const transport = o.address.transport === 'udp' ? createUdp(o, stats, maxPacket) : createStream(o, stats);

  const gaugeLine = (n: string, v: number): void => {
    // statsd treats a leading '-' as a delta when the gauge exists; an absolute negative value
    // needs `0|g` first, in the same packet.
    if (v < 0) transport.lines(`${n}:0|g\n${n}:${formatValue(v)}|g`, 2);
    else transport.line(`${n}:${formatValue(v)}|g`);
  };
  const deltaLine = (n: string, delta: number): void => transport.line(`${n}:${delta >= 0 ? '+' : ''}${formatValue(delta)}|g`);
  /** One timer value after the sink's own sampling; `head` is `name:`, `ascii` when known so. */
  const timerLine = (head: string, ms: number, sampleRate: number, ascii: boolean): void => {
    let rate = sampleRate;
    if (timerRate < 1) {
      if (random() >= timerRate) {
        countDrop(stats, 'sampled');
        return;
      }
      rate *= timerRate;
    }
    const text = rate < 1 ? `${head}${formatValue(ms)}|ms|@${rate}` : `${head}${formatValue(ms)}|ms`;
    if (ascii) transport.asciiLine(text);
    else transport.line(text);
  };

  return {
    name,
    counter(n, value, sampleRate) {
      if (aggregate) {
        counters.set(n, (counters.get(n) ?? 0) + value / sampleRate);
        return;
      }
      transport.line(sampleRate < 1 ? `${n}:${formatValue(value)}|c|@${sampleRate}` : `${n}:${formatValue(value)}|c`);
    },
    gauge(n, v) {
      if (!aggregateGauges) return gaugeLine(n, v);
      gauges.set(n, v);
      // statsd would apply the deltas and then overwrite them with this value.
      gaugeDeltas.delete(n);
    },
    gaugeDelta(n, delta) {
      if (!aggregateGauges) return deltaLine(n, delta);
      const abs = gauges.get(n);
      if (abs !== undefined) gauges.set(n, abs + delta);
      else gaugeDeltas.set(n, (gaugeDeltas.get(n) ?? 0) + delta);
    },
    timing(n, ms, sampleRate) {
      // The line is ASCII when the name is (the value and suffix are). Scanning the name, a flat
      // string, is cheaper than scanning the just-concatenated line, which V8 flattens first.
      timerLine(`${n}:`, ms, sampleRate, isAscii(n));
    },
    timingBatch(n, values, count, sampleRate) {
      // The same lines as count timing() calls; the name's ASCII check is done once, not per line.
      const head = `${n}:`;
      const ascii = isAscii(head);
      for (let i = 0; i < count; i++) timerLine(head, values[i]!, sampleRate, ascii);
    },
    set(n, member) {
      transport.line(`${n}:${member}|s`);
    },
    datapoint(n, value, ts) {
      const prev = datapoints.get(n);
      if (!prev || ts >= prev.ts) datapoints.set(n, { value, ts });
    },
    async flush() {
      if (gauges.size > 0) {
        for (const [n, v] of gauges) gaugeLine(n, v);
        gauges.clear();
      }
      if (gaugeDeltas.size > 0) {
        for (const [n, d] of gaugeDeltas) deltaLine(n, d);
        gaugeDeltas.clear();
      }
      if (datapoints.size > 0) {
        for (const [n, d] of datapoints) gaugeLine(n, d.value);
        datapoints.clear();
      }
      if (counters.size > 0) {
        for (const [n, v] of counters) transport.line(`${n}:${formatValue(v)}|c`);
        counters.clear();
      }
      transport.flushPacket();
    },
    async close(timeoutMs) {
      await this.flush(Date.now());
      await transport.close(timeoutMs);
    },
    stats: () => ({ ...stats, dropped: { ...stats.dropped } }),
  };
}

interface LineTransport {
  line(text: string): void;
  /** A line known to be ASCII (its byte length is its length). */
  asciiLine(text: string): void;
  /** Several lines that must travel in one packet (negative gauges). */
  lines(text: string, count: number): void;
  flushPacket(): void;
  close(timeoutMs: number): Promise<void>;
}

function createUdp(o: StatsdSinkOptions, stats: SinkStats, maxPacket: number): LineTransport {
  if (o.address.transport !== 'udp') throw new Error('udp transport expected');
  const { host, port } = o.address;
  const maxInFlight = o.maxInFlight ?? 1024;
  const reconnectEvery = o.reconnectEveryMs ?? 60_000;
  let packet = '';
  let packetBytes = 0;
  let packetLines = 0;
  let inFlight = 0;
  let closed = false;
  let socket: dgram.Socket | undefined;
  let ready = false;
  let lastConnect = 0;
  const errorLog = createLogThrottle();
  // Packets produced before the socket is connected (dgram connects asynchronously).
  const pending: { buf: Buffer; lines: number }[] = [];
  const idleWaiters = new Set<() => void>();

  const open = (): void => {
    const s = dgram.createSocket(udpSocketType(host));
    socket = s;
    ready = false;
    lastConnect = Date.now();
    s.on('error', (err) => onErr(err));
    s.connect(port, host, () => {
      if (socket !== s) return;
      ready = true;
      for (const p of pending.splice(0)) sendBuf(p.buf, p.lines);
    });
    s.unref();
  };

  const onErr = (err: Error): void => {
    stats.errors++;
    stats.lastError = err.message;
    // A statsd that is down refuses every packet: log the first error, then one line a minute
    // saying how many followed (they are all counted in stats and self-metrics anyway).
    const held = errorLog.pass();
    if (held !== undefined) o.onError?.(held > 0 ? new Error(`${err.message} (${held} more errors since the last report)`) : err);
  };

  const reopen = (): void => {
    const old = socket;
    socket = undefined;
    if (old) {
      // Let in-flight sends finish on the old socket.
      setTimeout(() => old.close(), 1000).unref();
    }
    stats.reconnects++;
    open();
  };

  const sendBuf = (buf: Buffer, lines: number): void => {
    if (!socket || !ready) {
      if (pending.length >= maxInFlight) {
        countDrop(stats, 'overflow', lines);
        return;
      }
      pending.push({ buf, lines });
      return;
    }
    if (inFlight >= maxInFlight) {
      countDrop(stats, 'overflow', lines);
      return;
    }
    inFlight++;
    stats.queued = inFlight;
    socket.send(buf, (err) => {
      inFlight--;
      stats.queued = inFlight;
      if (err) {
        countDrop(stats, 'send_error', lines);
        onErr(err);
      } else {
        stats.sent += lines;
        stats.bytes += buf.length;
      }
      if (inFlight === 0) for (const w of [...idleWaiters]) w();
    });
  };

  const flushPacket = (): void => {
    if (packetLines === 0) return;
    const buf = Buffer.from(packet, 'utf8');
    const lines = packetLines;
    packet = '';
    packetBytes = 0;
    packetLines = 0;
    sendBuf(buf, lines);
    if (!closed && ready && Date.now() - lastConnect > reconnectEvery) reopen();
  };

  const add = (text: string, count: number, ascii = false): void => {
    if (closed) {
      countDrop(stats, 'closed', count);
      return;
    }
    // Names are ASCII after sanitising; only set members may be multi-byte.
    const bytes = ascii || (text.length < 256 && isAscii(text)) ? text.length : Buffer.byteLength(text);
    if (bytes > maxPacket) {
      if (bytes > 65_507) {
        countDrop(stats, 'oversize', count);
        return;
      }
      // A single line bigger than the packet size is sent alone rather than lost.
      flushPacket();
      sendBuf(Buffer.from(text, 'utf8'), count);
      return;
    }
    if (packetLines > 0 && packetBytes + 1 + bytes > maxPacket) flushPacket();
    if (packetLines > 0) {
      packet += '\n' + text;
      packetBytes += 1 + bytes;
    } else {
      packet = text;
      packetBytes = bytes;
    }
    packetLines += count;
  };

  open();

  return {
    line: (t) => add(t, 1),
    asciiLine: (t) => add(t, 1, true),
    lines: (t, n) => add(t, n),
    flushPacket,
    async close(timeoutMs) {
      flushPacket();
      closed = true;
      const deadline = Date.now() + timeoutMs;
      // Wait until the connect completed and pending + in-flight packets are handed over.
      while ((pending.length > 0 || inFlight > 0) && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 10);
          idleWaiters.add(() => {
            clearTimeout(t);
            resolve();
          });
        });
        idleWaiters.clear();
      }
      if (pending.length > 0) countDrop(stats, 'closed', pending.reduce((a, p) => a + p.lines, 0));
      pending.length = 0;
      socket?.close();
      socket = undefined;
    },
  };
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

function createStream(o: StatsdSinkOptions, stats: SinkStats): LineTransport {
  const a = o.address;
  if (a.transport === 'udp') throw new Error('stream transport expected');
  // statsd's TCP server decodes ASCII and only processes complete lines; no replay (counters
  // would double count).
  const t: StreamTransport = createStreamTransport({
    address: a.transport === 'unix' ? { transport: 'unix', path: a.path } : { transport: 'tcp', host: a.host, port: a.port },
    stats,
    replayWindowMs: 0,
    ...(o.onError ? { onError: o.onError } : {}),
  });
  return {
    line: (text) => t.enqueue(text),
    asciiLine: (text) => t.enqueue(text),
    lines: (text) => t.enqueue(text),
    flushPacket: () => undefined,
    close: (timeoutMs) => t.close(timeoutMs),
  };
}
