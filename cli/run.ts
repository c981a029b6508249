/**
 * `telltale run`: every enabled service and poller from the file, the live page, until a signal.
 */
import { runPoller, runService, type Handle } from '../shared/core/runtime/runner.js';
import type { CliArgs } from './args.js';
import { prepareAll, setup } from './program.js';
import { shutdown, untilSignal } from './shutdown.js';

export async function cmdRun(args: CliArgs, env: NodeJS.ProcessEnv): Promise<never> {
  const p = await setup(args, env, undefined, true);
  if (p.live) {
    const { url } = await p.live.start();
    p.log.info(`live page: ${url}`);
  }
  const enabled = p.config.integrations.filter((i) => i.enabled);
  const handles: Handle[] = [];
  for (const i of enabled.filter((i) => i.definition.mode === 'listener')) {
    p.log.info(`${i.name}: ${i.type} is driven by its own stdin; run it as \`telltale ${i.type}\` (see its README)`);
  }
  const prepared = await prepareAll(p, enabled.filter((i) => i.definition.mode !== 'listener'));
  if (prepared.length === 0) p.log.warn('no long-running integration is enabled; waiting for a signal');
  for (const pr of prepared) handles.push(pr.inst.definition.mode === 'poller' ? runPoller(pr, p.deps) : runService(pr, p.deps));
  p.log.info(`running ${prepared.map((x) => x.inst.name).join(', ') || 'nothing'}`, { config: p.config.file });
  // Keep the event loop alive: sinks and watchers unref their handles.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  process.on('unhandledRejection', (e) => {
    p.log.error(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    p.emitter.child({ prefix: 'telltale.runtime' }).counter('unhandled');
  });
  const sig = await untilSignal(p.log);
  clearInterval(keepAlive);
  p.log.info(`${sig}: flushing and exiting`);
  return shutdown(p, handles, 0);
}
