import { describe, expect, it } from 'vitest';
import { AppUsageError, parseAppFlags, statsAddress } from '../flags.js';

describe('parseAppFlags: the standard flags', () => {
  it('defaults: stats off, 127.0.0.1:8125, environment from NODE_ENV else development, info', () => {
    expect(parseAppFlags([], {})).toEqual({
      flags: { stats: false, statsHost: '127.0.0.1', statsPort: 8125, statsEnvironment: 'development', logLevel: 'info' },
      rest: [],
    });
    expect(parseAppFlags([], { NODE_ENV: 'production' }).flags.statsEnvironment).toBe('production');
  });

  it('parses every flag, in both --flag value and --flag=value forms', () => {
    const a = parseAppFlags(
      ['--stats', '--stats-host', 'statsd.internal', '--stats-port', '9125', '--stats-environment', 'prod', '--log-level', 'debug', '--config', 'a.yaml'],
      { NODE_ENV: 'ignored' },
    );
    expect(a.flags).toEqual({ stats: true, statsHost: 'statsd.internal', statsPort: 9125, statsEnvironment: 'prod', logLevel: 'debug', config: 'a.yaml' });
    expect(a.rest).toEqual([]);
    const b = parseAppFlags(['--stats-host=h', '--stats-port=1', '--stats-environment=stage', '--log-level=ERROR', '--config=/etc/x.yaml']);
    expect(b.flags).toEqual({ stats: false, statsHost: 'h', statsPort: 1, statsEnvironment: 'stage', logLevel: 'error', config: '/etc/x.yaml' });
  });

  it('leaves unknown flags, their values and positionals to the program, in order and untouched', () => {
    const r = parseAppFlags(['serve', '--port', '8080', '--stats', '-vx', '--stats-port=9000', '--name=a b', 'file.txt', '--log-level', 'warn', '--', '--stats', '--config', 'x']);
    expect(r.flags.stats).toBe(true);
    expect(r.flags.statsPort).toBe(9000);
    expect(r.flags.logLevel).toBe('warn');
    expect(r.flags.config).toBeUndefined();
    // After `--` nothing is ours: the program gets "--stats --config x" verbatim.
    expect(r.rest).toEqual(['serve', '--port', '8080', '-vx', '--name=a b', 'file.txt', '--', '--stats', '--config', 'x']);
  });

  it('falls back to TELLTALE_* variables; a flag on the command line wins', () => {
    const env = {
      TELLTALE_STATS: 'yes',
      TELLTALE_STATS_HOST: 'envhost',
      TELLTALE_STATS_PORT: '7000',
      TELLTALE_STATS_ENVIRONMENT: 'envenv',
      TELLTALE_LOG_LEVEL: 'warn',
      TELLTALE_CONFIG: 'env.yaml',
      NODE_ENV: 'production',
    };
    expect(parseAppFlags([], env).flags).toEqual({
      stats: true,
      statsHost: 'envhost',
      statsPort: 7000,
      statsEnvironment: 'envenv',
      logLevel: 'warn',
      config: 'env.yaml',
    });
    expect(parseAppFlags(['--stats-host', 'cli', '--stats-port', '1234', '--log-level', 'silent'], env).flags).toMatchObject({
      statsHost: 'cli',
      statsPort: 1234,
      logLevel: 'silent',
    });
    expect(parseAppFlags([], { TELLTALE_STATS: 'off' }).flags.stats).toBe(false);
    expect(parseAppFlags([], { TELLTALE_STATS: '' }).flags.stats).toBe(false);
  });

  it.each([
    [['--stats-port', 'abc'], /--stats-port must be a port number 1-65535, got "abc"/],
    [['--stats-port', '0'], /--stats-port must be a port number/],
    [['--stats-port', '65536'], /--stats-port must be a port number/],
    [['--stats-port'], /--stats-port needs a value/],
    [['--stats-host'], /--stats-host needs a value/],
    [['--stats-host='], /--stats-host must not be empty/],
    [['--stats=1'], /--stats takes no value/],
    [['--log-level', 'loud'], /--log-level must be one of debug, info, warn, error, silent, got "loud"/],
    [['--stats-environment', 'prod.eu'], /--stats-environment must be one metric node/],
  ])('rejects %j with an error naming the flag', (argv, msg) => {
    expect(() => parseAppFlags(argv)).toThrow(AppUsageError);
    expect(() => parseAppFlags(argv)).toThrow(msg);
  });

  it('names the environment variable when the bad value came from it', () => {
    expect(() => parseAppFlags([], { TELLTALE_STATS_PORT: 'x' })).toThrow(/TELLTALE_STATS_PORT must be a port number/);
    expect(() => parseAppFlags([], { TELLTALE_STATS: 'maybe' })).toThrow(/TELLTALE_STATS must be/);
    expect(() => parseAppFlags([], { NODE_ENV: 'a.b' })).toThrow(/NODE_ENV must be one metric node/);
    expect(() => parseAppFlags([], { TELLTALE_LOG_LEVEL: 'x' })).toThrow(/TELLTALE_LOG_LEVEL must be one of/);
  });
});

describe('statsAddress', () => {
  it('builds udp://host:port, brackets IPv6, passes full addresses through', () => {
    expect(statsAddress({ statsHost: '127.0.0.1', statsPort: 8125 })).toBe('udp://127.0.0.1:8125');
    expect(statsAddress({ statsHost: '::1', statsPort: 9 })).toBe('udp://[::1]:9');
    expect(statsAddress({ statsHost: 'tcp://statsd:8125', statsPort: 1 })).toBe('tcp://statsd:8125');
    expect(statsAddress({ statsHost: 'unix:///run/statsd.sock', statsPort: 1 })).toBe('unix:///run/statsd.sock');
  });
});
