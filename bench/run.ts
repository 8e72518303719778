// `npm run bench`: runs the benchmarks one after another, each in its own process, and prints
// their figures. `npm run bench -- --destinations` adds 1,000,000 members per destination at
// each vendor's documented rate (about half an hour in all). `npm run bench -- --audience-sync`
// runs only the audience-sync benchmark (changes + removals against a full run, plans against
// actual runs; 1M members, at Iterable's documented rate and with the rate lifted; ~15 min).
// `npm run bench -- --pipeline-cost` runs only the pipeline-cost set: the bare floor and the
// pipeline at 100k and 1M members on one persisted stack per size, then the 1M pipeline again
// under the CPU profiler (bench/pipelineCost.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../local/projectRoot.js';

const { values } = parseArgs({
  options: {
    destinations: { type: 'boolean', default: false },
    'audience-sync': { type: 'boolean', default: false },
    'pipeline-cost': { type: 'boolean', default: false },
    /** A folder holding (or to hold, and keep) the 1M pipeline-cost stack, so a later run skips seeding. */
    'lake-dir': { type: 'string' },
  },
});
const dist = join(projectRoot(), 'dist', 'bench');

// The 1M pipeline-cost runs share one seeded lake on disk (the profiled run re-uses it).
const lakeDir = values['lake-dir'] ?? mkdtempSync(join(tmpdir(), 'outflow-bench-lake-'));
// Kept after the run, for a closer look (e.g. in Chrome DevTools); the summary is printed.
const profileDir = mkdtempSync(join(tmpdir(), 'outflow-host-cpu-profiles-'));
const pipelineCost: [string, string[]][] = [
  ['pipelineCost.js', ['--profiles', '100000']],
  ['pipelineCost.js', ['--profiles', '1000000', '--data-dir', lakeDir]],
  ['pipelineCost.js', ['--profiles', '1000000', '--data-dir', lakeDir, '--skip-floor', '--cpu-prof', profileDir]],
];
const runs: [string, string[]][] = [
  ['seedLake.js', ['--profiles', '1000000']],
  ...pipelineCost.slice(0, 2),
  ['exportPipeline.js', ['--destination', 'campaign-monitor', '--profiles', '200000', '--rate', '10']],
  ['dataOut.js', ['--profiles', '1000000']],
];
if (values.destinations) {
  for (const destination of ['campaign-monitor', 'iterable', 'dotdigital', 'mailchimp', 'linkedin', 'klaviyo', 'google-ads']) {
    runs.push(['exportPipeline.js', ['--destination', destination, '--profiles', '1000000', '--rate', 'documented']]);
  }
}

if (values['audience-sync']) {
  runs.splice(
    0,
    runs.length,
    ['audienceSync.js', ['--profiles', '1000000', '--rate', 'documented']],
    ['audienceSync.js', ['--profiles', '1000000', '--rate', 'unlimited']],
  );
}
if (values['pipeline-cost']) runs.splice(0, runs.length, ...pipelineCost);

let failed = 0;
for (const [script, args] of runs) {
  console.log(`\n$ node dist/bench/${script} ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [join(dist, script), ...args], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
if (!values['lake-dir']) rmSync(lakeDir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
