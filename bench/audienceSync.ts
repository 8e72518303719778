// Audience sync against a full resend, and the plan's prediction against what the run did, on the
// whole local stack (Functions host, Azurite, Key Vault emulator, the vendor's simulator):
//   node dist/bench/audienceSync.js [--destination iterable] [--profiles 1000000] [--rate documented|unlimited|N]
//     [--function-timeout 00:30:00]
// 1. Export A (`delivery: {mode: 'changes', removals: true}`) runs first: it sends everyone.
// 2. The segment changes as a refresh would change it: 1% of members updated (a mapped field),
//    0.5% join, 0.5% leave (bench/lakeChanges.ts).
// 3. Export A runs again (joined + changed sent, leavers removed); export B (`mode: 'full'`, the
//    same segment and list) runs once for comparison: everyone sent again.
// Before every run `POST /exports/{id}/plan` is asked, so each run's prediction stands beside its
// wall time (from POST …/runs until the run view shows it ended) and the simulator's calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { startStack } from '../local/stack.js';
import { adminApi } from './benchApi.js';
import { changeLakeEntity } from './lakeChanges.js';
import { destinationFor } from '../shared/destinations/registry.js';

const { values } = parseArgs({
  options: {
    destination: { type: 'string', default: 'iterable' },
    profiles: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: 'documented' },
    /** Share of members whose mapped values change, join and leave. */
    changed: { type: 'string', default: '0.01' },
    joined: { type: 'string', default: '0.005' },
    left: { type: 'string', default: '0.005' },
    /** host.json functionTimeout for the stack (the planner and the senders hand on within 40 % of it, at most 5 min). */
    'function-timeout': { type: 'string' },
  },
});

// Iterable by default: batches of 1,000 at a documented 5 requests/s make a 1M full run about
// 200 s — long enough for the rate to be what the plan predicts, short enough to run three times.
// (Campaign Monitor's 2/s would take 8 min a full run; Mailchimp's 500-member batches at 10/s
// are about the same as Iterable.)
const SETUPS: Record<
  string,
  {
    setting: string;
    connection: Record<string, unknown>;
    details: Record<string, unknown>;
    mapping: Record<string, string>;
    unlimited: Record<string, unknown>;
  }
> = {
  iterable: {
    setting: 'ITERABLE_API_URL',
    connection: { secrets: { apiKey: 'bench-key' } },
    details: {},
    mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', city: 'City' },
    unlimited: { rateLimit: false },
  },
  mailchimp: {
    setting: 'MAILCHIMP_API_URL',
    connection: { secrets: { apiKey: '0123456789abcdef0123456789abcdef-us19' } },
    details: { listId: 'bench' },
    mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', city: 'City' },
    unlimited: {},
  },
};
const type = values.destination!;
const setup = SETUPS[type];
if (!setup) throw new Error(`Unknown destination ${type}; one of ${Object.keys(SETUPS).join(', ')}`);
const adapter = destinationFor(type);
const profiles = Number(values.profiles);
const rate = values.rate === 'documented' ? adapter.limits.requestsPerSecond : values.rate === 'unlimited' ? Infinity : Number(values.rate);
const engineRate = Number.isFinite(rate)
  ? { requestsPerSecond: rate, burst: values.rate === 'documented' ? adapter.limits.burst : Math.max(1, Math.ceil(rate)) }
  : { requestsPerSecond: 1_000_000, burst: 1_000_000 };
const simulatorOptions: Record<string, unknown> = values.rate === 'unlimited' ? setup.unlimited : {};
if (Number.isFinite(rate) && values.rate !== 'documented')
  simulatorOptions.rateLimit = { requestsPerSecond: rate, burst: Math.max(1, Math.ceil(rate)) };

let functionTimeouts = 0;
/**
 * What the host did while a run ran: invocations and their busy time per function, and the chunks'
 * hand-ons by reason — so a run slower than its rate shows what else was running or waiting.
 */
let hostActivity: { invocations: Record<string, { count: number; seconds: number }>; handOns: Record<string, number> } | undefined;
function noteHostActivity(line: string): void {
  if (!hostActivity) return;
  const executed = /Executed 'Functions\.(\w+)' \(\w+, Id=[^,]+, Duration=(\d+)ms\)/.exec(line);
  if (executed) {
    const entry = (hostActivity.invocations[executed[1]!] ??= { count: 0, seconds: 0 });
    entry.count++;
    entry.seconds = Number((entry.seconds + Number(executed[2]) / 1000).toFixed(1));
  }
  const handOn = /Handing the chunk on \((.+?)\); it continues/.exec(line);
  if (handOn) {
    // Reasons that quote a figure ("the longest took 3.1 s") are counted under one name.
    const reason = handOn[1]!.replace(/\d+(\.\d+)?/g, 'N');
    hostActivity.handOns[reason] = (hostActivity.handOns[reason] ?? 0) + 1;
  }
}
/** The planner's last `Planned:` line: its time per step (`compare` is a delivery run's comparison with its snapshot). */
let plannedLine: Record<string, unknown> | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'outflow-bench-'));
const key = randomBytes(32).toString('base64url');
const stackStarted = Date.now();
const stack = await startStack({
  dataDir,
  // Storage on disk, as `npm start` keeps it. In memory, Azurite's blob GC stalled every request
  // for 80-95 s ten minutes after its start (it rebuilds an index over all extents for each one
  // it deletes): a full resend caught in it took 1.45 x its rate (BENCHMARKS.md).
  persistent: true,
  seedProfiles: profiles,
  seedKind: 'b2c',
  authSigningKey: key,
  simulatorOptions: { [setup.setting]: simulatorOptions },
  settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ [type]: engineRate }) },
  ...(values['function-timeout'] ? { functionTimeout: values['function-timeout'] } : {}),
  // Planner invocations the host stopped at functionTimeout: each restarts the planning.
  hostOutput: (line) => {
    if (/function timeout has occurred/i.test(line)) functionTimeouts++;
    noteHostActivity(line);
    const json = line.indexOf('{"');
    if (line.includes('Planned:') && json >= 0) {
      try {
        const fields = JSON.parse(line.slice(json)) as Record<string, unknown>;
        plannedLine = { ms: fields.ms, stepMs: fields.stepMs, handOns: fields.handOns, chunks: fields.chunks };
      } catch {
        // Not the engine's JSON line: ignored.
      }
    }
  },
});
const counters = () =>
  ({ ...((stack.simulators.find((simulator) => simulator.setting === setup.setting)?.instance as any)?.state?.counters ?? {}) }) as Record<
    string,
    number
  >;
const difference = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after).flatMap(([name, value]) =>
      typeof value === 'number' && value !== (before[name] ?? 0) ? [[name, value - (before[name] ?? 0)]] : [],
    ),
  );

try {
  const call = await adminApi(stack.apiUrl, key);
  const connection = await call('POST', '/connections', { name: 'bench', type, privacyConsent: true, ...setup.connection });
  const exportOf = async (name: string, delivery: Record<string, unknown>) =>
    (
      await call('POST', '/exports', {
        name,
        connectionId: connection.id,
        segments: ['Segment_AllCustomers'],
        mapping: setup.mapping,
        details: setup.details,
        delivery,
        schedule: { active: false, mode: 'systemRefresh' },
      })
    ).id as string;
  const sync = await exportOf('audience sync', { mode: 'changes', removals: true });
  const full = await exportOf('full resend', { mode: 'full', removals: false });

  const results: Record<string, unknown>[] = [];
  async function planAndRun(label: string, exportId: string): Promise<void> {
    const planStarted = Date.now();
    const plan = await call('POST', `/exports/${exportId}/plan`);
    const planSeconds = (Date.now() - planStarted) / 1000;
    const before = counters();
    plannedLine = undefined;
    hostActivity = { invocations: {}, handOns: {} };
    const started = Date.now();
    const { runId } = await call('POST', `/exports/${exportId}/runs`);
    // The vendor's calls over the run: calls per 30 s, and the longest stretch without a call (a
    // gap the rate did not make). Sampled on a timer of its own (the simulator runs in this
    // process), not with the run view's polls: a storage stall holds a poll up, and would hide the gap.
    const callsAt: [number, number][] = [];
    const sampler = setInterval(() => callsAt.push([Date.now() - started, counters().requests ?? 0]), 500).unref();
    let run: any;
    for (;;) {
      run = await call('GET', `/exports/${exportId}/runs/${runId}`).catch((error: Error) =>
        /fetch failed/.test(error.message) ? { status: 'unread' } : Promise.reject(error),
      );
      if (['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'].includes(run.status)) break;
      if (Date.now() - started > 60 * 60_000) throw new Error('run did not finish within an hour');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const wallSeconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    // The run's parts from its tasks: planning (the segment read, or a delivery run's comparison),
    // sending (from the send task's start), and what is left (queue hops, finalizing).
    const task = (name: string) => run.tasks?.find((each: { name: string }) => each.name === name) ?? {};
    const at = (value: string | null | undefined) => (value ? Date.parse(value) : NaN);
    const planSecondsActual = (at(task('plan').finishedAt) - at(task('plan').startedAt)) / 1000;
    const sendSecondsActual = (at(run.finishedAt) - at(task('send').startedAt)) / 1000;
    const calls = difference(counters(), before);
    const callsPer30Seconds: number[] = [];
    let longestQuietSeconds = 0;
    // Gaps count from the send task's start: the planning before it is not one.
    let lastCallAt = at(task('send').startedAt) - started;
    for (let index = 1; index < callsAt.length; index++) {
      const [sampledAt, requests] = callsAt[index]!;
      const window = Math.floor(sampledAt / 30_000);
      callsPer30Seconds[window] = (callsPer30Seconds[window] ?? 0) + requests - callsAt[index - 1]![1];
      if (requests > callsAt[index - 1]![1]) lastCallAt = Math.max(lastCallAt, sampledAt);
      else if (sampledAt > lastCallAt) longestQuietSeconds = Math.max(longestQuietSeconds, (sampledAt - lastCallAt) / 1000);
    }
    const result = {
      run: label,
      status: run.status,
      counts: run.counts,
      plan: {
        members: plan.members,
        changes: plan.changes,
        calls: plan.calls,
        predictedSeconds: plan.predictedSeconds,
        basis: plan.basis,
        planSeconds,
      },
      wallSeconds,
      // When the run started after the stack did: Azurite sweeps its blob extents every 10 minutes from its start.
      startedAfterStackSeconds: Math.round((started - stackStarted) / 1000),
      runActualSeconds: run.actualSeconds,
      parts: {
        planSeconds: planSecondsActual,
        sendSeconds: sendSecondsActual,
        queuedSeconds: (at(run.startedAt) - started) / 1000,
        planner: plannedLine,
      },
      // The prediction the run recorded as its planner started (calibrated by the connection's runs).
      runPrediction: run.prediction,
      functionTimeouts,
      predictedOverActual: Number((plan.predictedSeconds / wallSeconds).toFixed(3)),
      simulatorCalls: calls,
      timeline: { callsPer30Seconds: Array.from(callsPer30Seconds, (count) => count ?? 0), longestQuietSeconds },
      hostActivity,
      load: loadavg()
        .map((load) => load.toFixed(1))
        .join('/'),
    };
    results.push(result);
    console.log(JSON.stringify(result));
  }

  await planAndRun('sync: first run (everyone)', sync);
  const lake = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient('lake');
  const changeStarted = Date.now();
  const left = Number(values.left);
  const changes = await changeLakeEntity({
    containerClient: lake,
    entity: 'Segment_AllCustomers',
    updateRate: Number(values.changed),
    deleteRate: left,
    inserts: Math.round(profiles * Number(values.joined)),
    changedAttribute: 'City',
    emailAttribute: 'Email',
  });
  const lakeChange = {
    updated: changes.updated.size,
    left: changes.deleted.size,
    joined: changes.inserted.size,
    rows: changes.rows,
    seconds: (Date.now() - changeStarted) / 1000,
  };
  console.log(JSON.stringify({ lakeChange }));
  await planAndRun('sync: changes + removals', sync);
  await planAndRun('full resend of the changed segment', full);

  console.log(
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}, load ${loadavg()
          .map((load) => load.toFixed(1))
          .join('/')}`,
        destination: type,
        profiles,
        rate: Number.isFinite(rate) ? `${rate} requests/s${values.rate === 'documented' ? ' (documented)' : ''}` : 'lifted',
        lakeChange,
        results,
      },
      null,
      2,
    ),
  );
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
