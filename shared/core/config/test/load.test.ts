import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigText } from '../load.js';
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
      'integrations.yaml:7:13: emitter.sinks.1.type: expected one of statsd, graphite, console, got string "carbon"',
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
});
