/**
 * `telltale <type>`: one instance (the file's, or a default one with --set), once (`--once`,
 * and always for a stdin-driven listener) or until a signal.
 */
import { registry } from '../integrations/index.js';
import { runPoller, runService } from '../shared/core/runtime/runner.js';
import { UsageError, type CliArgs } from './args.js';
import { prepareAll, setup } from './program.js';
import { shutdown, untilSignal } from './shutdown.js';

export async function cmdOne(type: string, args: CliArgs, env: NodeJS.ProcessEnv): Promise<never> {
  const def = registry.find((d) => d.type === type);
  if (!def) throw new UsageError(`unknown command or integration "${type}"`);
  const p = await setup(args, env, { type, ...(args.name ? { name: args.name } : {}), set: args.set });
  const inst = p.config.integrations.find((i) => i.type === type && (args.name === undefined || i.name === args.name));
  if (!inst) throw new UsageError(`no instance named "${args.name}" of type ${type} in ${p.config.file}`);
  if (!inst.enabled) p.log.info(`${inst.name} is disabled in ${p.config.file}; running it because it was asked for by name`);
  const [pr] = await prepareAll(p, [inst]);
  if (!pr) throw new Error('unreachable');

  // A listener is driven by stdin until EOF; --once means the same for it.
  if (args.once || def.mode === 'listener') {
    const stop = untilSignal(p.log).then(async () => {
      pr.abort.abort();
      await pr.integration.stop();
    });
    void stop;
    try {
      await pr.integration.once();
      await pr.integration.stop();
    } catch (e) {
      const code = typeof (e as { exitCode?: unknown }).exitCode === 'number' ? (e as { exitCode: number }).exitCode : 1;
      p.log.error(`${inst.name}: ${(e as Error).message}`);
      await pr.integration.stop().catch(() => undefined);
      return shutdown(p, [], code);
    }
    return shutdown(p, [], 0);
  }
  const handle = def.mode === 'poller' ? runPoller(pr, p.deps) : runService(pr, p.deps);
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const sig = await untilSignal(p.log);
  clearInterval(keepAlive);
  p.log.info(`${sig}: flushing and exiting`);
  return shutdown(p, [handle], 0);
}
