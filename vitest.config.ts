import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { readFileSync } from 'node:fs';

/**
 * The reliability files first, the fault matrix first of them: it waits (on leases, outages,
 * restarts) more than it computes, for minutes, so it should run beside the rest, not after it.
 * Otherwise Vitest's order (by earlier durations, or file size on a fresh clone).
 */
class ReliabilityFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) =>
      file.moduleId.endsWith('faultMatrix.reliability.ts') ? 0 : file.moduleId.endsWith('.reliability.ts') ? 1 : 2;
    return sorted
      .map((file, index) => ({ file, index }))
      .sort((a, b) => rank(a.file) - rank(b.file) || a.index - b.index)
      .map(({ file }) => file);
  }
}

export default defineConfig({
  plugins: [
    {
      // Its published source maps point to sources it does not ship: read it without them, so
      // Vite does not warn once a module.
      name: 'workflow-parser-without-source-maps',
      enforce: 'pre',
      load: (id) =>
        /[\\/]@actions[\\/]workflow-parser[\\/].*\.js$/.test(id)
          ? { code: readFileSync(id, 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, ''), map: null }
          : null,
    },
  ],
  test: {
    // Forked workers inherit NODE_EXTRA_CA_CERTS set by the global setup, so the real
    // SecretClient trusts the Key Vault emulator's development certificate.
    pool: 'forks',
    // Most files wait on child processes (Azurite, the host, simulators) more than they compute:
    // three at a time keep both cores busy (the default here would be one).
    maxWorkers: 3,
    sequence: { sequencer: ReliabilityFirst },
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CI reads the JSON report to print its "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.ci/vitest-results.json' } : undefined,
    // @actions/workflow-parser imports its bundled schema JSON without an import attribute, which
    // Node's own loader refuses: Vite transforms it instead (test/infra/workflows.test.ts).
    server: { deps: { inline: ['@actions/workflow-parser'] } },
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
