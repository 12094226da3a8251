import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/restore-sdk-mocks.ts: the files share their worker's modules (below), so no file leaves an
    // AWS SDK client mocked for the next.
    setupFiles: ['./simulator/polyfills.ts', './test/restore-sdk-mocks.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The files of a worker share its modules: the CDK and the AWS SDK are imported once per worker,
    // not once per file (that was over half of a run's time). Tests keep no state between files:
    // environment stubs are undone after each, SDK mocks restored (setupFiles), the simulator installs
    // and removes its fake clock and seeded random per run.
    isolate: false,
    // Both cores of the CI machine (the default leaves one idle); the simulator runs on virtual time, so
    // CPU contention slows it down but cannot change an outcome.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
