import { defineConfig } from 'vitest/config';

// Unit tests are fast and pure; cluster and browser tests start real processes,
// so they get generous timeouts and run with limited parallelism on 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    pool: 'forks',
  },
});
