import { defineConfig } from 'vitest/config';

/**
 * Test harness configuration (see tests/support/harness.ts).
 *
 * - `pool: 'forks'`: every test file runs in its own child process, because
 *   chDB binds one data directory per process.
 * - tests/global-setup.ts starts ONE local Kafka broker and ONE embedded
 *   Postgres for the whole run (unless KAFKA_BROKERS / DATABASE_URL are set)
 *   and hands their addresses to the test files through `provide`/`inject`.
 */
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    fileParallelism: true,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
    globalSetup: ['tests/global-setup.ts'],
  },
});
