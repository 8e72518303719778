import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Forked workers inherit NODE_EXTRA_CA_CERTS set by the global setup, so the real
    // SecretClient trusts the Key Vault emulator's development certificate.
    pool: 'forks',
    // Most files wait on child processes (Azurite, the host, simulators) more than they compute:
    // three at a time keep both cores busy (the default here would be one).
    maxWorkers: 3,
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CI reads the JSON report to print its "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.ci/vitest-results.json' } : undefined,
    projects: [
      { extends: true, test: { name: 'outflow', include: ['test/**/*.test.ts'] } },
      {
        // The reliability suite in its ci profile: every fault-matrix row, the API load, the
        // security checks and the fuzzing, small (the full profile: npm run test:reliability).
        extends: true,
        test: {
          name: 'reliability (ci profile)',
          include: ['test/reliability/**/*.reliability.ts'],
          env: { RELIABILITY_PROFILE: 'ci' },
          globalSetup: ['test/reliability/reportSetup.ts'],
          // Its files one after another, beside the other tests: each starts a whole stack.
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
