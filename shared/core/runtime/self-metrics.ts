import type { Emitter } from '../../emitter/types.js';
import type { SelfMetrics } from '../integration.js';

/**
 * Self-metrics live under `<root>.telltale.<type>.<instance>.*` so one dashboard row can show
 * every integration's received/emitted/errors side by side, whatever the instance prefix is.
 */
export function createSelfMetrics(root: Emitter, type: string, instance: string): SelfMetrics {
  const e = root.child({ prefix: `telltale.${type}.${instance}` });
  return {
    received: (n = 1) => e.counter('received', n),
    emitted: (n = 1) => e.counter('emitted', n),
    error: (stage, n = 1) => e.counter(`errors.${stage}`, n),
  };
}
