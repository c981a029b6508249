import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfigText } from '../load.js';
import { DEFAULT_STATSD_ADDRESS, sinkWithDefaults } from '../emitter-config.js';
import { bool, duration, int, list, obj, oneOf, str } from '../schema.js';
import { defineIntegration, type IntegrationDefinition, type Shape } from '../../integration.js';

const tail = defineIntegration({
  type: 'tailer',
  summary: 'test service',
  mode: 'service',
  defaultPrefix: '',
  schema: obj({ path: str({ nonEmpty: true }), format: oneOf(['common', 'combined'] as const).default('combined'), follow: bool().default(true) }),
  metrics: [],
  create: () => ({ once: async () => {}, stop: async () => {} }),
});
const poll = defineIntegration({
  type: 'poller',
  summary: 'test poller',
  mode: 'poller',
  defaultPrefix: 'poll',
  defaultIntervalMs: 5000,
  schema: obj({ disks: list(str()).default(['/']), limit: int({ min: 1 }).default(10), timeout: duration().default(2000) }),
  metrics: [],
  create: () => ({ once: async () => {}, stop: async () => {} }),
});
const registry = [tail, poll] as unknown as IntegrationDefinition<Shape>[];

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfigText('integrations.yaml', text, { registry, env, hostname: 'web01.example.com' });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('integrations.yaml loader', () => {
  it('applies defaults: type from the instance name, core keys, default statsd sink, {host}', () => {
    const c = loadConfigText('integrations.yaml', 'integrations:\n  poller: {}\n  web:\n    type: tailer\n    path: /var/log/a.log\n', { registry, env: {}, hostname: 'web01.example.com' });
    expect(c.emitter.prefix).toBe('telltale.web01');
    expect(c.emitter.flushIntervalMs).toBe(10_000);
    expect(c.emitter.sinks).toEqual([expect.objectContaining({ type: 'statsd', address: { transport: 'udp', host: '127.0.0.1', port: 8125 } })]);
    const [p, w] = c.integrations;
    expect(p).toMatchObject({ name: 'poller', type: 'poller', enabled: true, prefix: 'poll', intervalMs: 5000, logLevel: 'info', settings: { disks: ['/'], limit: 10, timeout: 2000 } });
    expect(w).toMatchObject({ name: 'web', type: 'tailer', prefix: '', settings: { path: '/var/log/a.log', format: 'combined', follow: true } });
  });

  it('reports every problem at once, in file order, as FILE:LINE:COL: key: message', () => {
    const text = [
      'emitter:', //                         1
      '  prefix: ops.{fqdn}', //             2
      '  flush_intervall: 10s', //           3 typo
      '  sinks:', //                         4
      '    - type: statsd', //               5
      '      address: udp://nohost', //      6 no port
      '    - type: carbon', //               7 unknown sink type
      'integrations:', //                    8
      '  poller:', //                        9
      '    interval: soon', //              10 bad duration
      '    limit: 0', //                    11 below min
      '  web:', //                          12
      '    type: tailer', //                13
      '    format: apache', //              14 bad enum; path missing
      '  nosuch: {}', //                    15 unknown type
    ].join('\n');
    const p = problems(text);
    expect(p).toEqual([
      'integrations.yaml:3:3: emitter.flush_intervall: unknown key (did you mean "flush_interval"?); known keys: prefix, flush_interval, sinks, max_datapoint_age',
      'integrations.yaml:6:16: emitter.sinks.0.address: expected udp://HOST:PORT, got "udp://nohost"',
      'integrations.yaml:7:13: emitter.sinks.1.type: expected one of statsd, graphite, console, graphite_events, got string "carbon"',
      'integrations.yaml:10:15: integrations.poller.interval: expected a duration like 500ms, 10s, 5m, 1h, got string "soon"',
      'integrations.yaml:11:12: integrations.poller.limit: expected an integer >= 1, got number 0',
      'integrations.yaml:12:3: integrations.web.path: required: expected a string',
      'integrations.yaml:14:13: integrations.web.format: expected one of common, combined, got string "apache"',
      'integrations.yaml:15:3: integrations.nosuch: unknown integration type "nosuch"; set `type:` to one of: tailer, poller',
    ]);
  });

  it('interpolates ${ENV} and ${ENV:-default}; an unquoted number stays a number', () => {
    const c = loadConfigText(
      'i.yaml',
      'emitter:\n  sinks:\n    - type: statsd\n      address: udp://${STATSD_HOST:-127.0.0.1}:${STATSD_PORT}\n      max_packet_bytes: ${MTU}\nintegrations:\n  poller:\n    limit: ${LIMIT}\n',
      { registry, env: { STATSD_PORT: '9125', MTU: '8932', LIMIT: '3' } },
    );
    expect(c.emitter.sinks[0]).toMatchObject({ address: { transport: 'udp', host: '127.0.0.1', port: 9125 }, max_packet_bytes: 8932 });
    expect(c.integrations[0]!.settings['limit']).toBe(3);
  });

  it('names a missing environment variable with its position', () => {
    expect(problems('emitter:\n  prefix: ${NOPE}\n')).toEqual([
      'integrations.yaml:2:11: environment variable NOPE is not set (use ${NOPE:-default} for a default)',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const p = problems('emitter:\n  prefix: [unclosed\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^integrations\.yaml:\d+:\d+: /);
  });

  it('refuses duplicate keys (a second definition would silently win)', () => {
    const p = problems('integrations:\n  poller: {}\n  poller: {}\n');
    expect(p[0]).toMatch(/integrations\.yaml:3:\d+: .*unique/i);
  });

  it('validates the live section, including the token rule for non-loopback binds', () => {
    expect(problems('live:\n  enabled: true\n  listen: 0.0.0.0:8089\n')[0]).toMatch(/^integrations\.yaml:3:11: live\.listen: listen 0\.0\.0\.0:8089 is not loopback and no token is set/);
    const ok = loadConfigText('i.yaml', 'live:\n  enabled: true\n', { registry, env: {} });
    expect(ok.live).toMatchObject({ enabled: true, listen: '127.0.0.1:8089' });
  });

  it('`select` injects an instance for `telltale <type>` and applies --set overrides', () => {
    const c = loadConfigText('i.yaml', 'integrations: {}\n', { registry, env: {}, select: { type: 'poller', set: { limit: 7 } } });
    expect(c.integrations).toHaveLength(1);
    expect(c.integrations[0]).toMatchObject({ name: 'poller', settings: { limit: 7 } });
    expect(() => loadConfigText('i.yaml', '{}', { registry, env: {}, select: { type: 'poller', set: { limit: 'x' } } })).toThrow(/integrations\.poller\.limit: expected an integer/);
  });

  it('rejects a graphite sink over udp and explains the accepted transports', () => {
    expect(problems('emitter:\n  sinks:\n    - type: graphite\n      address: udp://127.0.0.1:2003\n')).toEqual([
      'integrations.yaml:4:16: emitter.sinks.0.address: unsupported transport "udp://" here; use tcp://, unix://',
    ]);
  });

  it('sinks made without the file (no sinks:, --statsd/--graphite/--print) get exactly the defaults the file gives', () => {
    const fromFile = (sink: string) =>
      loadConfigText('integrations.yaml', `emitter:\n  sinks:\n    - ${sink}\n`, { registry, env: {} }).emitter.sinks[0];
    expect(defaultConfig({ registry, env: {} }).emitter.sinks).toEqual([fromFile(`type: statsd\n      address: ${DEFAULT_STATSD_ADDRESS}`)]);
    expect(sinkWithDefaults('statsd', 'tcp://127.0.0.1:8126')).toEqual(fromFile('type: statsd\n      address: tcp://127.0.0.1:8126'));
    expect(sinkWithDefaults('graphite', '127.0.0.1:2003')).toEqual(fromFile('type: graphite\n      address: 127.0.0.1:2003'));
    expect(sinkWithDefaults('console')).toEqual(fromFile('type: console'));
    expect(sinkWithDefaults('graphite', 'udp://127.0.0.1:2003')).toMatch(/udp/);
  });
});

describe('graphite sink with several destinations', () => {
  const load = (text: string) => loadConfigText('integrations.yaml', text, { registry, env: {} }).emitter.sinks![0];

  it('takes one address or a list, a routing and a replication, with carbon-c-relay =instance keys', () => {
    expect(load('emitter:\n  sinks:\n    - type: graphite\n      address: tcp://10.0.0.1:2003\n')).toMatchObject({
      address: [{ address: { transport: 'tcp', host: '10.0.0.1', port: 2003 }, instance: undefined }],
      routing: 'failover',
      replication: 1,
      failback_after: 30_000,
    });
    const hashed = load('emitter:\n  sinks:\n    - type: graphite\n      address: [127.0.0.1:2103=a, 127.0.0.1:2203=b, "tcp://[::1]:2303=c"]\n      routing: carbon_ch\n      replication: 2\n');
    expect(hashed).toMatchObject({
      routing: 'carbon_ch',
      replication: 2,
      address: [
        { address: { transport: 'tcp', host: '127.0.0.1', port: 2103 }, instance: 'a' },
        { address: { transport: 'tcp', host: '127.0.0.1', port: 2203 }, instance: 'b' },
        { address: { transport: 'tcp', host: '::1', port: 2303 }, instance: 'c' },
      ],
    });
  });

  it('reports every inconsistency at its own line and column', () => {
    const text = [
      'emitter:',
      '  sinks:',
      '    - type: graphite',
      '      address:',
      '        - tcp://relay-a:2003',
      '        - tcp://relay-a:2003',
      '        - tcp://relay-b:2003=x',
      '        - unix:///run/carbon.sock',
      '      routing: failover',
      '      replication: 2',
      '    - type: graphite',
      '      address: [127.0.0.1:2003, 127.0.0.1:2004, "unix:///run/c.sock"]',
      '      routing: carbon_ch',
      '      replication: 4',
      '    - type: graphite',
      '      address: [10.0.0.1:2003=same, 10.0.0.2:2003=same]',
      '      routing: fnv1a_ch',
      '    - type: graphite',
      '      address: tcp://h:2003=bad/instance',
      '      routing: random',
      '      failback_after: soon',
      '',
    ].join('\n');
    expect(problems(text)).toEqual([
      'integrations.yaml:6:11: emitter.sinks.0.address.1: relay-a:2003 is listed twice (also item 1)',
      'integrations.yaml:7:11: emitter.sinks.0.address.2: =x: an instance only means something to a hash routing (routing is failover)',
      'integrations.yaml:10:20: emitter.sinks.0.replication: replication needs a hash routing (fnv1a_ch, carbon_ch, jump_fnv1a_ch); failover sends each line to one destination',
      'integrations.yaml:12:49: emitter.sinks.1.address.2: carbon_ch keys destinations by host and port like carbon-c-relay; use tcp://HOST:PORT',
      'integrations.yaml:12:33: emitter.sinks.1.address.1: same ring key as item 1: host 127.0.0.1 and no =instance (carbon_ch ignores the port; give each an =instance, as in the relay config)',
      'integrations.yaml:14:20: emitter.sinks.1.replication: replication 4 needs at least 4 addresses, got 3',
      'integrations.yaml:16:37: emitter.sinks.2.address.1: same ring key as item 1: =same',
      'integrations.yaml:19:16: emitter.sinks.3.address: an =instance is 1-64 of A-Z a-z 0-9 _ . -, got "bad/instance"',
      'integrations.yaml:20:16: emitter.sinks.3.routing: expected one of failover, fnv1a_ch, carbon_ch, jump_fnv1a_ch, got string "random"',
      'integrations.yaml:21:23: emitter.sinks.3.failback_after: expected a duration like 500ms, 10s, 5m, 1h, got string "soon"',
    ]);
  });
});
