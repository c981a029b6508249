/**
 * vitest setup: tests build integrations with `definition.create()` directly, as the runtime does
 * after `load()`. Loading every run file here keeps them that simple; what the command itself
 * loads, and when, is tested on the built command (test/e2e/lazy-loading.test.ts).
 */
import { registry } from '../../integrations/index.js';

await Promise.all(registry.map((d) => d.load()));
