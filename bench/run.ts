// `npm run bench`: runs the benchmarks one after another, each in its own process, and prints
// their figures. `npm run bench -- --destinations` adds 1,000,000 members per destination at
// each vendor's documented rate (about half an hour in all). `npm run bench -- --audience-sync`
// runs only the audience-sync benchmark (changes + removals against a full run, plans against
// actual runs; 1M members, at Iterable's documented rate and with the rate lifted; ~15 min).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../local/projectRoot.js';

const { values } = parseArgs({ options: { destinations: { type: 'boolean', default: false }, 'audience-sync': { type: 'boolean', default: false } } });
const dist = join(projectRoot(), 'dist', 'bench');

const runs: [string, string[]][] = [
  ['seedLake.js', ['--profiles', '1000000']],
  ['exportPipeline.js', ['--destination', 'campaign-monitor', '--profiles', '100000', '--rate', 'unlimited']],
  ['exportPipeline.js', ['--destination', 'campaign-monitor', '--profiles', '1000000', '--rate', 'unlimited']],
  ['exportPipeline.js', ['--destination', 'campaign-monitor', '--profiles', '200000', '--rate', '10']],
  ['dataOut.js', ['--profiles', '1000000']],
];
if (values.destinations) {
  for (const destination of ['campaign-monitor', 'iterable', 'dotdigital', 'mailchimp', 'linkedin', 'klaviyo', 'google-ads']) {
    runs.push(['exportPipeline.js', ['--destination', destination, '--profiles', '1000000', '--rate', 'documented']]);
  }
}

if (values['audience-sync']) {
  runs.splice(0, runs.length, ['audienceSync.js', ['--profiles', '1000000', '--rate', 'documented']], ['audienceSync.js', ['--profiles', '1000000', '--rate', 'unlimited']]);
}

let failed = 0;
for (const [script, args] of runs) {
  console.log(`\n$ node dist/bench/${script} ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [join(dist, script), ...args], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
