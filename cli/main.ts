#!/usr/bin/env node
/**
 * The `telltale` command. Logs go to stderr; stdout belongs to protocols (the supervisor
 * listener) and to `check`'s report. Each command is its own module: run.ts, one.ts, check.ts.
 */
import { registry } from '../integrations/index.js';
import { ConfigError } from '../shared/core/config/errors.js';
import { parseCli, usage, UsageError } from './args.js';
import { exitWhenWritten } from './exit.js';
import { version } from './version.js';

const EX_CONFIG = 78;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // Commands with flags of their own, loaded only when asked for.
  if (argv[0] === 'event') return exitWhenWritten(await (await import('./event.js')).cmdEvent(argv.slice(1), env));
  if (argv[0] === 'dashboard') return exitWhenWritten(await (await import('./dashboard.js')).cmdDashboard(argv.slice(1), env));
  const args = parseCli(argv);
  if (args.version) {
    process.stdout.write(`telltale ${version()}\n`);
    process.exit(0);
  }
  if (args.help || !args.command) {
    const text = usage(registry);
    if (args.help) {
      process.stdout.write(text);
      return exitWhenWritten(0);
    }
    process.stderr.write(text);
    process.exit(64);
  }
  // Each command's module is loaded when it runs (a one-shot does not load check's probes).
  if (args.command === 'run') await (await import('./run.js')).cmdRun(args, env);
  else if (args.command === 'check') await (await import('./check.js')).cmdCheck(args, env);
  else await (await import('./one.js')).cmdOne(args.command, args, env);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`telltale: ${e.message}\n`);
    process.exit(EX_CONFIG);
  }
  if (e instanceof UsageError) {
    process.stderr.write(`telltale: ${e.message}\n(see telltale --help)\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`telltale: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
