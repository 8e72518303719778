import { defineConfig } from 'vitest/config';

// The reliability suite (npm run test:reliability): fault matrix at scale, API load, security and
// fuzzing over the real local stack, full profile by default (its files end in .reliability.ts).
// `npm test` runs the same files in the small ci profile (vitest.config.ts).
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.reliability.ts'],
    pool: 'forks',
    // One file at a time: each starts a whole stack, and the figures must not share the 2 cores.
    fileParallelism: false,
    globalSetup: ['test/globalSetup.ts', 'test/reliability/reportSetup.ts'],
    // The report again after every test, so a run stopped part way still shows what it measured.
    setupFiles: ['test/reliability/renderReportAfterEachTest.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
