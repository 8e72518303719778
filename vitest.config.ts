import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { readFileSync } from 'node:fs';

/**
 * The fault matrix first: it waits (on leases, outages, restarts) more than it computes, for
 * minutes, so it runs beside the rest from the start, in one of the workers. The other reliability
 * files are spread through the queue, so they seldom overlap one another (each starts a whole
 * stack). Otherwise Vitest's order (by earlier durations, or file size on a fresh clone).
 */
class FaultMatrixFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isReliability = (file: TestSpecification) => file.moduleId.endsWith('.reliability.ts');
    const faultMatrix = sorted.filter((file) => file.moduleId.endsWith('faultMatrix.reliability.ts'));
    const reliability = sorted.filter((file) => isReliability(file) && !faultMatrix.includes(file));
    const rest = sorted.filter((file) => !isReliability(file));
    const spread = [...rest];
    reliability.forEach((file, index) =>
      spread.splice(Math.round(((index + 1) * rest.length) / (reliability.length + 1)) + index, 0, file),
    );
    return [...faultMatrix, ...spread];
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
    // three at a time keep both cores busy (the default here would be one). The fault matrix holds
    // one of the three for most of the run (FaultMatrixFirst).
    maxWorkers: 3,
    sequence: { sequencer: FaultMatrixFirst },
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
          setupFiles: ['test/reliability/renderReportAfterEachTest.ts'],
          // Beside the other tests, in the same queue (FaultMatrixFirst above). Not
          // `fileParallelism: false`: Vitest 4 runs such a project in a group of its own after every
          // other file, which made the fault matrix's minutes of waiting the end of every run.
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
