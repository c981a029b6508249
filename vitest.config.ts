import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './test/helpers/summary-reporter.js';

// vitest reads its config from a default export.
export default defineConfig({
  test: {
    include: ['cli/**/*.test.ts', 'shared/**/*.test.ts', 'integrations/**/*.test.ts', 'test/**/*.test.ts'],
    // Real servers (carbon, supervisord, Chromium) share 2 cores: keep parallelism modest.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['./test/helpers/global-setup.ts'],
    setupFiles: ['./test/helpers/load-integrations.ts'],
    reporters: ['default', new SummaryReporter()],
  },
});
