// What the engine costs over the bare floor, measured in one run on one lake: the same members of
// "All customers" go to the Campaign Monitor simulator twice, first from one plain process
// (bench/bareFloor.ts: read, parse, map, post, 8 in flight; no queues, no ledger), then through
// the real host with the vendor rate lifted (DESTINATION_RATE_LIMITS). Storage is Azurite on disk,
// as `npm start` runs it.
//   node dist/bench/pipelineCost.js --profiles 1000000 [--data-dir DIR] [--cpu-prof DIR] [--skip-floor] [--host-heap-mb M]
//     [--floor-cpu-prof DIR]
// --data-dir keeps the stack's storage (lake included) in DIR, so runs can share one seeded lake;
// --cpu-prof writes V8 CPU profiles of the host's processes to DIR and prints where the time went.
// --host-heap-mb M starts the host instances with a V8 old space of M MB instead of the default cap
// (half the default Flex Consumption instance, local/host/workerArguments.ts); 0 = V8's own limit.
// Prints JSON: wall times, their ratio, the host's CPU-seconds (user + system of the supervisor
// and its instances, from /proc) and the instances' peak RSS.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { startStack } from '../local/stack.js';
import { WORKER_ARGUMENTS_SETTING, workerExecArgv } from '../local/host/workerArguments.js';
import { adminApi } from './benchApi.js';
import { stepTable, summarise, type CpuProfile } from './cpuProfileSummary.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    'data-dir': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'skip-floor': { type: 'boolean', default: false },
    'in-flight': { type: 'string', default: '8' },
    'host-heap-mb': { type: 'string' },
    /** Writes a V8 CPU profile of the floor's process to DIR, to set beside the host's. */
    'floor-cpu-prof': { type: 'string' },
  },
});
const profiles = Number(values.profiles);
const MAPPING = { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' };
/** Linux clock ticks per second (`getconf CLK_TCK`), the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = 100;

/** User + system CPU-seconds a process has used so far (fields 14 and 15 of /proc/<pid>/stat). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join('/');

const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'outflow-pipeline-cost-'));
const profileDir = values['cpu-prof'];
if (profileDir) mkdirSync(profileDir, { recursive: true });
const key = randomBytes(32).toString('base64url');
const setupStarted = Date.now();
// A loaded machine may drop a connection while the lake is seeded; a second attempt seeds again.
const startBenchStack = () =>
  startStack({
    dataDir,
    persistent: true,
    seedProfiles: profiles,
    seedKind: 'b2c',
    authSigningKey: key,
    hostOutput: () => undefined,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } },
    settings: {
      // As many calls in flight as the floor has: the adapter's own 4 is the vendor's, not the engine's.
      DESTINATION_RATE_LIMITS: JSON.stringify({
        'campaign-monitor': { requestsPerSecond: 1_000_000, burst: 1_000_000, maxConcurrentRequests: Number(values['in-flight']) },
      }),
      ...(values['host-heap-mb'] ? { [WORKER_ARGUMENTS_SETTING]: `--max-old-space-size=${Number(values['host-heap-mb'])}` } : {}),
    },
    hostExecArgv: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
const stack = await startBenchStack().catch((error: Error) => {
  console.error(`Starting the stack failed (${error.message}); trying once more.`);
  return startBenchStack();
});
const setupSeconds = (Date.now() - setupStarted) / 1000;
const simulator = stack.simulators.find((candidate) => candidate.setting === 'CAMPAIGN_MONITOR_API_URL')!;

async function runFloor(): Promise<{
  members: number;
  posts: number;
  failedPosts: number;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  load: string;
}> {
  const loadBefore = load();
  const child = spawn(
    process.execPath,
    [
      ...(values['floor-cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['floor-cpu-prof']}`] : []),
      join(import.meta.dirname, 'bareFloor.js'),
      '--api-url',
      simulator.url,
      '--mapping',
      JSON.stringify(MAPPING),
      '--in-flight',
      values['in-flight']!,
    ],
    {
      env: { ...process.env, AzureWebJobsStorage: stack.settings.AzureWebJobsStorage },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (data: Buffer) => (output += data.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`The floor process exited with ${code}.`);
  return { ...JSON.parse(output.trim().split('\n').pop()!), load: `${loadBefore} → ${load()}` };
}

try {
  const floor = values['skip-floor'] ? undefined : await runFloor();

  const call = await adminApi(stack.apiUrl, key);
  const connection = await call('POST', '/connections', {
    name: 'bench',
    type: 'campaign-monitor',
    privacyConsent: true,
    secrets: { apiKey: 'bench-key' },
  });
  const created = await call('POST', '/exports', {
    name: 'bench',
    connectionId: connection.id,
    segments: ['Segment_AllCustomers'],
    mapping: MAPPING,
    details: { listId: 'bench' },
  });
  const instancePids = (await stack.hostInstances()).map((instance) => instance.pid!).filter(Boolean);
  const hostPids = [stack.host.pid!, ...instancePids];
  const cpuBefore = hostPids.map(cpuSeconds);
  const loadBefore = load();
  const started = Date.now();
  const { runId } = await call('POST', `/exports/${created.id}/runs`);
  let run: any;
  let peakRssKb = 0;
  // The run's status is read once a second: each read lists the run's chunk rows (its progress),
  // work the instance does for the observer, not for the run; a read every 100 ms cost it about
  // 200 reads of the run and its ledger at 1M. The wall time is the run's own finishedAt; the RSS
  // is sampled every 100 ms from /proc.
  for (let tick = 0; ; tick++) {
    for (const pid of instancePids) peakRssKb = Math.max(peakRssKb, statusKb(pid, 'VmRSS'));
    if (tick % 10 === 0) {
      run = await call('GET', `/exports/${created.id}/runs/${runId}`).catch((error: Error) =>
        /fetch failed/.test(error.message) ? { status: 'unread' } : Promise.reject(error),
      );
      if (['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'].includes(run.status)) break;
    }
    if (Date.now() - started > 60 * 60_000) throw new Error('run did not finish within an hour');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const finishedAt = Date.parse(run.finishedAt ?? '');
  const pipelineSeconds = ((Number.isFinite(finishedAt) ? finishedAt : Date.now()) - started) / 1000;
  const hostCpu = hostPids.map((pid, index) => cpuSeconds(pid) - cpuBefore[index]!);
  const hostCpuSeconds = hostCpu.reduce((sum, value) => sum + value, 0);
  const counters = ((simulator.instance as any)?.state?.counters ?? {}) as Record<string, unknown>;
  // Where the wall time went: before the planner started (queue hop), planning (the segment read,
  // chunks queued as it goes), sending (from the first chunk's start to the run's end).
  const at = (value: string | null | undefined) => (value ? Date.parse(value) : NaN);
  const task = (name: string) => run.tasks?.find((each: { name: string }) => each.name === name) ?? {};
  const part = (from: number, to: number) =>
    Number.isFinite(from) && Number.isFinite(to) ? Number(((to - from) / 1000).toFixed(2)) : null;
  const parts = {
    queuedSeconds: part(started, at(run.startedAt)),
    planSeconds: part(at(task('plan').startedAt), at(task('plan').finishedAt)),
    firstSendAfterSeconds: part(started, at(task('send').startedAt)),
    sendSeconds: part(at(task('send').startedAt), at(run.finishedAt)),
  };
  console.log(
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: `${cpus().length} cores, Node ${process.version}`,
        storage: 'Azurite on disk (as npm start)',
        profiles,
        setupSeconds,
        floor,
        pipeline: {
          seconds: pipelineSeconds,
          status: run.status,
          counts: run.counts,
          parts,
          load: `${loadBefore} → ${load()}`,
          profiled: !!profileDir,
          hostCpuSeconds: Number(hostCpuSeconds.toFixed(2)),
          hostCpuSecondsPer1M: Number(((hostCpuSeconds * 1_000_000) / profiles).toFixed(2)),
          hostCpuByProcess: Object.fromEntries(
            hostPids.map((pid, index) => [index === 0 ? `supervisor ${pid}` : `instance ${pid}`, Number(hostCpu[index]!.toFixed(2))]),
          ),
          instanceNodeArguments: workerExecArgv({ ...process.env, ...stack.settings }).join(' '),
          instancePeakRssMb: Math.round(Math.max(peakRssKb, ...instancePids.map((pid) => statusKb(pid, 'VmHWM'))) / 1024),
          supervisorPeakRssMb: Math.round(statusKb(stack.host.pid!, 'VmHWM') / 1024),
        },
        pipelineOverFloor: floor ? Number((pipelineSeconds / floor.seconds).toFixed(2)) : null,
        simulator: counters,
      },
      null,
      2,
    ),
  );
} finally {
  await stack.stop();
  if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true });
}

if (profileDir) {
  // Written by each host process as it exits; the instance's is the one with the engine's work.
  const summaries = readdirSync(profileDir)
    .filter((file) => file.endsWith('.cpuprofile'))
    .map((file) => ({ label: file, ...summarise(JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile) }))
    .sort((a, b) => b.busySeconds - a.busySeconds);
  console.log(`\nHost CPU profile by step (${profileDir}):\n${stepTable(summaries.slice(0, 1))}`);
}
