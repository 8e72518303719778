// Times one segment export end to end through the real local stack: the Functions host (child
// process), Azurite queues and tables, the Key Vault emulator and a destination's simulator.
//   node dist/bench/exportPipeline.js --destination campaign-monitor --profiles 1000000 [--rate unlimited|documented|N] [--host-heap-mb 200]
//     [--function-timeout 00:01:00] [--instances 2] [--data-dir DIR]
// --data-dir keeps the stack's storage in DIR (as bench/pipelineCost.ts does): a lake seeded there
// before is used as it is, so a run skips the seeding (the run writes its tables and queues there
// too: give it a copy of a shared lake).
// `unlimited` lifts the vendor limit in the simulator and the engine (pipeline overhead);
// `documented` keeps the simulator's and the adapter's own limits (time against the vendor's rate).
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { startStack } from '../local/stack.js';
import { WORKER_ARGUMENTS_SETTING } from '../local/host/workerArguments.js';
import { adminApi } from './benchApi.js';
import { destinationFor } from '../shared/destinations/registry.js';

interface Setup {
  setting: string;
  simulator: Record<string, unknown>;
  connection: Record<string, unknown>;
  details: Record<string, unknown>;
  mapping: Record<string, string>;
  /** Options that lift the simulator's limits for `--rate unlimited`. */
  unlimited: Record<string, unknown>;
}

const PERSON = { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' };
const SETUPS: Record<string, Setup> = {
  'campaign-monitor': {
    setting: 'CAMPAIGN_MONITOR_API_URL',
    simulator: {},
    connection: { secrets: { apiKey: 'bench-key' } },
    details: { listId: 'bench' },
    mapping: PERSON,
    unlimited: { rateLimit: false },
  },
  iterable: {
    setting: 'ITERABLE_API_URL',
    simulator: {},
    connection: { secrets: { apiKey: 'bench-key' } },
    details: {},
    mapping: PERSON,
    unlimited: { rateLimit: false },
  },
  mailchimp: {
    setting: 'MAILCHIMP_API_URL',
    simulator: {},
    connection: { secrets: { apiKey: '0123456789abcdef0123456789abcdef-us19' } },
    details: { listId: 'bench' },
    mapping: PERSON,
    unlimited: {},
  },
  dotdigital: {
    setting: 'DOTDIGITAL_API_URL',
    simulator: {},
    connection: { secrets: { username: 'apiuser-bench@apiconnector.com', password: 'bench-password' } },
    details: { addressBookId: 4242 },
    mapping: PERSON,
    unlimited: { rateLimit: false },
  },
  klaviyo: {
    setting: 'KLAVIYO_API_URL',
    simulator: {},
    connection: { secrets: { apiKey: 'pk_bench' } },
    details: { listId: 'OutFlw' },
    mapping: { ...PERSON, phone: 'Phone', city: 'City', country: 'Country' },
    unlimited: { rateLimit: false },
  },
  'google-ads': {
    setting: 'GOOGLE_ADS_API_URL',
    simulator: {},
    connection: {
      settings: { customerId: '1234567890' },
      secrets: { clientId: 'bench', clientSecret: 'bench', refreshToken: 'bench', developerToken: 'bench' },
    },
    details: {},
    mapping: { email: 'Email', phone: 'Phone', firstName: 'FirstName', lastName: 'LastName', country: 'Country', postalCode: 'PostalCode' },
    unlimited: { rateLimit: false },
  },
  linkedin: {
    setting: 'LINKEDIN_API_URL',
    simulator: {},
    connection: { settings: { adAccountId: '512345678', sourcePlatform: 'OUTFLOW_BENCH' }, secrets: { accessToken: 'bench-token' } },
    details: { audienceType: 'contacts' },
    mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
    unlimited: { rateLimit: false },
  },
};

const { values } = parseArgs({
  options: {
    destination: { type: 'string', default: 'campaign-monitor' },
    profiles: { type: 'string', default: '100000' },
    rate: { type: 'string', default: 'unlimited' },
    /** The host instances' V8 old space (MB) in place of the default cap (local/host/workerArguments.ts). */
    'host-heap-mb': { type: 'string' },
    /** host.json functionTimeout for the run (AzureFunctionsJobHost__functionTimeout), e.g. 00:01:00. */
    'function-timeout': { type: 'string' },
    /** Host instances on the same storage (OUTFLOW_HOST_INSTANCES). */
    instances: { type: 'string' },
    /** Runs of the same export: the later ones' plans are calibrated by the earlier runs (shared/plans/calibration.ts). */
    repeat: { type: 'string', default: '1' },
    'data-dir': { type: 'string' },
  },
});
const type = values.destination!;
const setup = SETUPS[type];
if (!setup) throw new Error(`Unknown destination ${type}; one of ${Object.keys(SETUPS).join(', ')}`);
const profiles = Number(values.profiles);
const adapter = destinationFor(type);
const rate = values.rate === 'documented' ? adapter.limits.requestsPerSecond : values.rate === 'unlimited' ? Infinity : Number(values.rate);

function peakRssMb(pid: number): number {
  // VmHWM: the process's peak resident set size (NaN once the process is gone).
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

const simulatorOptions = { ...setup.simulator, ...(values.rate === 'unlimited' ? setup.unlimited : {}) };
if (Number.isFinite(rate) && values.rate !== 'documented')
  simulatorOptions.rateLimit = { requestsPerSecond: rate, burst: Math.max(1, Math.ceil(rate)) };
const engineRate = Number.isFinite(rate)
  ? { requestsPerSecond: rate, burst: values.rate === 'documented' ? adapter.limits.burst : Math.max(1, Math.ceil(rate)) }
  : { requestsPerSecond: 1_000_000, burst: 1_000_000 };

/** Seconds from the run's start to one of its task's times, as the run view shows them. */
function secondsAfterStart(run: any, task: string, at: 'startedAt' | 'finishedAt'): number | null {
  const time = run.tasks?.find((candidate: { name: string }) => candidate.name === task)?.[at];
  return time && run.startedAt ? (Date.parse(time) - Date.parse(run.startedAt)) / 1000 : null;
}

/**
 * Every queue function invocation the host reported ending: how many, how long the longest, how
 * many failed; and the messages the host moved to a poison queue (read from its log: the poison
 * queues' own functions take the messages off them).
 */
const invocations = {
  planRun: 0,
  sendChunk: 0,
  longestPlanRunMs: 0,
  longestSendChunkMs: 0,
  failed: 0,
  functionTimeouts: 0,
  poisonMessages: 0,
};
function noteInvocation(line: string): void {
  // The front door's own failures are the bench's business (a 502 it answers has no body).
  if (line.includes('Front door')) console.error(line);
  if (/Timeout value of \S+ was exceeded/.test(line)) invocations.functionTimeouts++;
  if (/moving it to '\S+-poison'/.test(line)) invocations.poisonMessages++;
  const match = /Executed 'Functions\.(planRun|sendChunk)' \((\w+), Id=[^,]+, Duration=(\d+)ms\)/.exec(line);
  if (!match) return;
  const [, name, outcome, ms] = match;
  invocations[name as 'planRun' | 'sendChunk']++;
  if (outcome !== 'Succeeded') invocations.failed++;
  if (name === 'sendChunk') invocations.longestSendChunkMs = Math.max(invocations.longestSendChunkMs, Number(ms));
  if (name === 'planRun') invocations.longestPlanRunMs = Math.max(invocations.longestPlanRunMs, Number(ms));
}

const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'outflow-bench-'));
const key = randomBytes(32).toString('base64url');
const setupStarted = Date.now();
const stack = await startStack({
  dataDir,
  persistent: Boolean(values['data-dir']),
  seedProfiles: profiles,
  seedKind: 'b2c',
  authSigningKey: key,
  hostOutput: (line) => noteInvocation(line),
  simulatorOptions: { [setup.setting]: simulatorOptions },
  settings: {
    DESTINATION_RATE_LIMITS: JSON.stringify({ [type]: engineRate }),
    ...(values['host-heap-mb'] ? { [WORKER_ARGUMENTS_SETTING]: `--max-old-space-size=${Number(values['host-heap-mb'])}` } : {}),
    ...(values['function-timeout'] ? { AzureFunctionsJobHost__functionTimeout: values['function-timeout'] } : {}),
    ...(values.instances ? { OUTFLOW_HOST_INSTANCES: values.instances } : {}),
  },
});
const setupSeconds = (Date.now() - setupStarted) / 1000;
try {
  const call = await adminApi(stack.apiUrl, key);
  const connection = await call('POST', '/connections', { name: 'bench', type, privacyConsent: true, ...setup.connection });
  const created = await call('POST', '/exports', {
    name: 'bench',
    connectionId: connection.id,
    segments: ['Segment_AllCustomers'],
    mapping: setup.mapping,
    details: setup.details,
  });
  // What the plan predicts for the run, to stand beside what it takes.
  const plan = await call('POST', `/exports/${created.id}/plan`);
  const started = Date.now();
  const loadAtStart = loadavg()
    .map((load) => load.toFixed(1))
    .join('/');
  const { runId } = await call('POST', `/exports/${created.id}/runs`);
  let run: any;
  for (;;) {
    // A status read that loses its connection (a loaded machine) is read again, not fatal.
    run = await call('GET', `/exports/${created.id}/runs/${runId}`).catch((error: Error) =>
      /fetch failed/.test(error.message) ? { status: 'unread' } : Promise.reject(error),
    );
    if (['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'].includes(run.status)) break;
    if (Date.now() - started > 60 * 60_000) throw new Error('run did not finish within an hour');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const wallSeconds = (Date.now() - started) / 1000;
  // A figure, not a reason to lose the run's others: no instance list, no instance figure.
  const instancePids = (await stack.hostInstances().catch(() => [])).flatMap((instance) => (instance.pid ? [instance.pid] : []));
  const counters = ((stack.simulators.find((simulator) => simulator.setting === setup.setting)?.instance as any)?.state?.counters ??
    {}) as Record<string, unknown>;
  const calls = Math.ceil(profiles / adapter.batchSize);
  console.log(
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: `${cpus().length} cores, Node ${process.version}, load ${loadavg()
          .map((load) => load.toFixed(1))
          .join('/')}`,
        loadAtStart,
        destination: type,
        profiles,
        rate: Number.isFinite(rate) ? `${rate} requests/s${values.rate === 'documented' ? ' (documented)' : ''}` : 'unlimited',
        setupSeconds,
        wallSeconds,
        membersPerSecond: Math.round(profiles / wallSeconds),
        plan: {
          calls: plan.calls,
          predictedSeconds: plan.predictedSeconds,
          predictedOverWall: Number((plan.predictedSeconds / wallSeconds).toFixed(3)),
        },
        floorSeconds: Number.isFinite(rate) ? Math.max(0, (calls - engineRate.burst) / rate) : null,
        ...(Number.isFinite(rate)
          ? { wallOverFloor: Number((wallSeconds / Math.max(1, (calls - engineRate.burst) / rate)).toFixed(3)) }
          : {}),
        functionTimeout: values['function-timeout'] ?? 'host.json',
        hostInstances: Number(values.instances ?? 1),
        invocations,
        status: run.status,
        // When the first chunks were recorded (senders start) and when the plan ended, from the run's start.
        sendStartedAfterSeconds: secondsAfterStart(run, 'send', 'startedAt'),
        planEndedAfterSeconds: secondsAfterStart(run, 'plan', 'finishedAt'),
        counts: run.counts,
        simulator: counters,
        // The host's instances are the supervisor's child processes: the largest of them, and the supervisor's own.
        hostPeakRssMb: Math.max(0, ...instancePids.map(peakRssMb).filter(Number.isFinite)),
        supervisorPeakRssMb: peakRssMb(stack.host.pid!),
      },
      null,
      2,
    ),
  );
  for (let repeat = 2; repeat <= Number(values.repeat); repeat++) {
    const again = await call('POST', `/exports/${created.id}/plan`);
    const before = Number(counters.requests ?? 0);
    const startedAgain = Date.now();
    const next = await call('POST', `/exports/${created.id}/runs`);
    let view: any;
    for (;;) {
      view = await call('GET', `/exports/${created.id}/runs/${next.runId}`).catch((error: Error) =>
        /fetch failed/.test(error.message) ? { status: 'unread' } : Promise.reject(error),
      );
      if (['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'].includes(view.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const wall = (Date.now() - startedAgain) / 1000;
    const after = ((stack.simulators.find((simulator) => simulator.setting === setup.setting)?.instance as any)?.state?.counters ??
      {}) as Record<string, number>;
    console.log(
      JSON.stringify({
        run: repeat,
        status: view.status,
        wallSeconds: wall,
        plan: {
          calls: again.calls,
          predictedSeconds: again.predictedSeconds,
          calibration: again.basis?.calibration,
          predictedOverWall: Number((again.predictedSeconds / wall).toFixed(3)),
        },
        vendorRequests: Number(after.requests ?? 0) - before,
        load: loadavg()
          .map((load) => load.toFixed(1))
          .join('/'),
      }),
    );
  }
} finally {
  await stack.stop();
  if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true });
}
