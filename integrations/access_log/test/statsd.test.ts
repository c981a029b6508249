/**
 * A backfill through the real statsd sink: every response time of a file much larger than the
 * sink's in-flight window reaches the wire, once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { createEmitter } from '../../../shared/emitter/emitter.js';
import { createStatsdSink } from '../../../shared/emitter/statsd-sink.js';
import { createLogger } from '../../../shared/core/log/logger.js';
import { createSelfMetrics } from '../../../shared/core/runtime/self-metrics.js';
import { createStateFiles } from '../../../shared/core/runtime/state-files.js';
import { startUdpServer } from '../../../test/helpers/servers.js';
import { accessLog } from '../index.js';
import { tempDir } from './harness.js';

describe('access_log once() through the statsd sink', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('sends every response time of a backlog of many read chunks (no in-flight overflow)', async () => {
    // 60,000 lines (~6 MB, 6 read chunks): ~1,600 packets of timer lines at 1432 bytes, more
    // than the sink's default 1,024 datagrams in flight. Line i has a response time of i µs.
    const N = 60_000;
    let text = '';
    for (let i = 0; i < N; i++) {
      text += `10.0.${(i >> 8) & 255}.${i & 255} - - [10/Oct/2023:13:55:36 +0000] "GET /n/${i} HTTP/1.1" 200 10 "-" "t" ${(i / 1e6).toFixed(6)} "-"\n`;
    }
    const path = join(tmp.dir, 'big.log');
    writeFileSync(path, text);

    const udp = await startUdpServer();
    try {
      // 1432-byte packets, the default before loopback got larger ones: at the loopback default
      // this backlog is only ~320 packets and would no longer outrun the in-flight window.
      const sink = createStatsdSink({ address: { transport: 'udp', host: '127.0.0.1', port: udp.port }, maxPacketBytes: 1432 });
      const root = createEmitter({ sinks: [sink], selfMetrics: false, flushIntervalMs: 3_600_000 });
      const v = validate(accessLog.schema, { path, format: 'nginx_combined_rt', name: 'web' });
      if ('issues' in v) throw new Error(JSON.stringify(v.issues));
      const integ = accessLog.create(v.value, {
        name: 'web',
        emitter: root.child({ prefix: 'bf' }),
        log: createLogger({ level: 'warn', write: () => undefined }),
        clock: { now: Date.now },
        signal: new AbortController().signal,
        self: createSelfMetrics(root, 'access_log', 'web'),
        stateDir: join(tmp.dir, 'state'),
        state: createStateFiles(join(tmp.dir, 'state'), { type: 'access_log', instance: 'web' }),
        intervalMs: 1000,
        env: process.env,
        stdio: { stdin: process.stdin, stdout: process.stdout },
      });
      await integ.once();
      const stats = await root.close();

      expect(stats.sinks['statsd']!.dropped).toEqual({});
      const isTimer = (l: string): boolean => l.startsWith('bf.web.response_time:');
      // Counted incrementally: re-splitting every datagram on each arrival would be quadratic.
      let seen = 0;
      let timers = 0;
      await udp.waitFor((s) => {
        for (; seen < s.datagrams.length; seen++) timers += s.datagrams[seen]!.toString().split('\n').filter(isTimer).length;
        return timers >= N;
      });
      const values = udp
        .lines()
        .filter(isTimer)
        .map((l) => Number(/^[^:]+:([\d.]+)\|ms$/.exec(l)![1]) * 1000);
      values.sort((a, b) => a - b);
      expect(values).toHaveLength(N);
      expect(values.every((x, i) => Math.round(x) === i)).toBe(true);
      expect(udp.lines()).toContain(`bf.web.requests:${N}|c`);
    } finally {
      await udp.close();
    }
  });
});
