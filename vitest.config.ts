import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./simulator/polyfills.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Both cores of the CI machine (the default leaves one idle); the simulator runs on virtual time, so
    // CPU contention slows it down but cannot change an outcome.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
