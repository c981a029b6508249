/**
 * How a command that runs integrations ends: on the first SIGTERM/SIGINT (a second one exits at
 * once), stopping every instance and flushing the emitter within bounded time, then exiting once
 * stdout and stderr have taken their output (exit.ts).
 */
import type { Handle } from '../shared/core/runtime/runner.js';
import type { Logger } from '../shared/core/log/logger.js';
import { exitWhenWritten } from './exit.js';
import type { Program } from './program.js';

const STOP_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 3000;

/** Resolves on the first SIGTERM/SIGINT; a second one exits at once. */
export function untilSignal(log: Logger): Promise<string> {
  return new Promise((resolve) => {
    let seen = false;
    const on = (sig: NodeJS.Signals): void => {
      if (seen) {
        log.warn(`second ${sig}: exiting now`);
        process.exit(130);
      }
      seen = true;
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export async function shutdown(p: Program, handles: Handle[], code: number): Promise<never> {
  // Bounded: whatever happens, the process is gone within STOP + CLOSE timeouts.
  const hard = setTimeout(() => process.exit(code || 1), STOP_TIMEOUT_MS + CLOSE_TIMEOUT_MS + 1000);
  hard.unref();
  await Promise.all(
    handles.map((h) =>
      Promise.race([h.stop(), new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]).catch((e: unknown) =>
        p.log.error(`stopping ${h.name}: ${(e as Error).message}`),
      ),
    ),
  );
  const stats = await p.emitter.close({ timeoutMs: CLOSE_TIMEOUT_MS });
  await p.live?.stop();
  for (const [name, s] of Object.entries(stats.sinks)) {
    const dropped = Object.entries(s.dropped).filter(([, n]) => n > 0);
    if (dropped.length > 0) p.log.warn(`sink ${name} dropped lines`, Object.fromEntries(dropped));
  }
  // Still bounded by `hard`: a reader that never reads cannot keep the process.
  return exitWhenWritten(code);
}
