import { defineConfig } from 'vitest/config';

// The reliability suite (npm run test:reliability): fault matrix at scale, API load, security and
// fuzzing over the real local stack. Not part of `npm test`: its files end in .reliability.ts.
// RELIABILITY_PROFILE=short runs every row small (CI); the default is the full profile.
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.reliability.ts'],
    pool: 'forks',
    // One file at a time: each starts a whole stack, and the figures must not share the 2 cores.
    fileParallelism: false,
    globalSetup: ['test/reliability/globalSetup.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
