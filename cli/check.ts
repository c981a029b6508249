/**
 * `telltale check`: loads and validates the file (every problem at FILE:LINE:COL, exit 78),
 * prints the effective settings and probes each sink; no integration's running code is loaded.
 */
import type { CliArgs } from './args.js';
import { probeSinks } from './probe.js';
import { loadConfig } from './config.js';
import { overrideSinks } from './program.js';
import { exitWhenWritten } from './exit.js';

export async function cmdCheck(args: CliArgs, env: NodeJS.ProcessEnv): Promise<never> {
  // Loading validates everything, cross-key checks (each definition's validate()) included; no
  // integration's running code is loaded to check a file.
  const config = await loadConfig(args.config, env);
  const { expandPrefix } = await import('../shared/core/config/load.js');
  const sinks = overrideSinks(args, config);
  const out = (s: string): void => void process.stdout.write(s + '\n');
  out(`config: ${config.file} (valid)`);
  out(`emitter: prefix=${args.prefix !== undefined ? expandPrefix(args.prefix) : config.emitter.prefix} flush_interval=${config.emitter.flushIntervalMs}ms`);
  out(`state_dir: ${config.stateDir}`);
  out('integrations:');
  for (const i of config.integrations) {
    out(`  ${i.name} (type ${i.type}, ${i.definition.mode}${i.enabled ? '' : ', disabled'}): prefix=${i.prefix || '(none)'} log_level=${i.logLevel}${i.definition.mode === 'poller' ? ` interval=${i.intervalMs}ms` : ''}`);
    out(`    ${JSON.stringify(i.settings)}`);
  }
  out('sinks:');
  const results = await probeSinks(sinks);
  for (const r of results) out(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.label}: ${r.detail}`);
  return exitWhenWritten(results.every((r) => r.ok) ? 0 : 1);
}
