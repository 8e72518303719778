// The fault matrix: one export of a whole segment per row (200,000 members; 10,000 in the ci
// profile) over the real local stack (persistent Azurite, Key Vault emulator, the Campaign
// Monitor simulator behind a small gate, the Functions host as a child process), with one fault
// injected per row. Each row compares what reached the vendor with the segment snapshot the run
// planned, email for email, and records the figures for RELIABILITY.md.
//
//   lost      = members of the snapshot neither in the list nor reported (failed/skipped records,
//               or members of a chunk that failed with a reason)
//   extra     = members in the list that are not in the snapshot (a refreshed segment leaking in)
//   re-sent   = deliveries beyond one per member, counted per member by the simulator (the list
//               itself is keyed by email, so it holds each member once whatever was sent). Expected
//               only where a call's outcome was unknown to the engine: a host killed or storage
//               restarted between a call and its acknowledgement, or a call that timed out but that
//               the vendor processed anyway; each such row says why, and bounds how many times one
//               member may have arrived.
//
// The rows after the first stack run on a second one that keeps the Azure runtime's rules
// (local/host): two host instances on the same storage, functionTimeout lowered to 20 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually } from '../support/apiClient.js';
import { segmentRows } from '../support/lakeRows.js';
import { seedLake } from '../../local/demoData/seedLake.js';
import { listSegments, partitionBlobs, readModel, readRecords } from '../../shared/lake/lakeReader.js';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { startVendorGate, type VendorGate } from './support/vendorGate.js';
import { PROJECT_ROOT, PROFILE, recordResult, SIZES } from './support/results.js';
import { scanForSecrets } from './support/secretScan.js';
import { FAULT_ROW_CLAIMS } from './support/faultRowClaims.js';
import { deliveryFigures } from './support/deliveryFigures.js';
import { QueueServiceClient } from '@azure/storage-queue';
import { QUEUES } from '../../shared/storage/names.js';
import { stringify } from 'csv-stringify/sync';

const MEMBERS = SIZES.members;
const BATCH = 1_000;
const CALLS = MEMBERS / BATCH;
const KEY_VAULT_OUTAGE_MS = SIZES.keyVaultOutageMs;
/** The vendor call timeout: the profile's VENDOR_TIMEOUT_SECONDS, or the Campaign Monitor adapter's own (callVendor's default). */
const VENDOR_TIMEOUT_MS = (SIZES.vendorTimeoutSeconds ?? 60) * 1000;
/** How much longer than the call timeout the slow vendor holds a call before processing it. */
const HOLD_BEYOND_MS = Math.min(5_000, VENDOR_TIMEOUT_MS);
/** Campaign Monitor's import call (POST /api/v3.3/subscribers/{listId}/import.json). */
const IMPORT_PATH = /\/subscribers\/[^/]+\/import\.json(\?|$)/;
const SEGMENT = 'All customers';
const SEGMENT_ID = 'Segment_AllCustomers';
const TERMINAL = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];
const mapping = { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' };
const LOG_DIR = join(PROJECT_ROOT, '.outflow', 'reliability', `logs-${PROFILE}`);

let stack: TestStack;
let simulator: CampaignMonitorSimulator;
let gate: VendorGate;
let lake: ContainerClient;
const secretsUsed: string[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const normalized = (email: string | undefined) => (email ?? '').trim().toLowerCase();

interface RowContext {
  exportId: string;
  runId: string;
  listId: string;
  connectionId: string;
  expected: string[];
  /** Members the row expects to be reported rather than delivered (the poison row's partition). */
  reportedElsewhere: Set<string>;
  notes: string[];
}

interface Row {
  id: string;
  title: string;
  fault: string;
  /** Stretches the run to about this long (its connection's rate) so mid-run faults land mid-run. */
  targetSeconds?: number;
  /** The connection's rate, when the row is about a given rate rather than a run's length. */
  requestsPerSecond?: number;
  /** Members of the row's segment when not the profile's: the lake is seeded for the row, and back after it. */
  members?: number;
  status: 'succeeded' | 'partiallySucceeded' | 'failed' | 'cancelled';
  reason?: RegExp;
  timeoutMs: number;
  /** Re-sends this row may cause, and why (none otherwise). */
  resendsExpected?: string;
  /** With resendsExpected: the most deliveries one member may have had (default 2). */
  maxDeliveriesPerMember?: number;
  /** Starts the run some other way than POST …/runs (answers its id). */
  start?(context: RowContext): Promise<string>;
  /** Checks of the row's own, after the run ended (`logs` are the host's lines of the row). */
  verify?(context: RowContext, run: any, logs: string[]): Promise<void>;
  setUp?(): Promise<void>;
  /** Runs beside the run: waits for the right moment and injects the fault. */
  inject?(context: RowContext): Promise<void>;
  tearDown?(): Promise<void>;
}

async function tolerantGet(path: string): Promise<any> {
  try {
    const response = await stack.api.get(path);
    return response.status === 200 ? response.body : undefined;
  } catch {
    return undefined; // host restarting or storage down: ask again
  }
}

async function waitForRun(exportId: string, runId: string, timeoutMs: number): Promise<any> {
  return eventually(
    async () => {
      const run = await tolerantGet(`/exports/${exportId}/runs/${runId}`);
      return run && TERMINAL.includes(run.status) ? run : undefined;
    },
    { timeoutMs, intervalMs: 1_000, what: `run ${runId} to end` },
  );
}

function deliveredCount(listId: string): number {
  return simulator.state.lists.get(listId)?.subscribers.size ?? 0;
}

async function whenDelivered(context: RowContext, share: number, timeoutMs = 300_000): Promise<void> {
  const wanted = Math.ceil(context.expected.length * share);
  await eventually(async () => (deliveredCount(context.listId) >= wanted ? true : undefined), {
    timeoutMs,
    intervalMs: 100,
    what: `${wanted} members in ${context.listId}`,
  });
}

async function whenPlanned(context: RowContext): Promise<void> {
  await eventually(
    async () => {
      const run = await tolerantGet(`/exports/${context.exportId}/runs/${context.runId}`);
      return run?.tasks?.find((task: { name: string }) => task.name === 'plan')?.status === 'succeeded' ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 100, what: 'the run to be planned' },
  );
}

/** Every failed or skipped record of a run (their emails). */
async function reportedRecords(exportId: string, runId: string): Promise<string[]> {
  const emails: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const response = await stack.api.get(
      `/exports/${exportId}/runs/${runId}/records?top=5000${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`,
    );
    expect(response.status, response.text).toBe(200);
    emails.push(...response.body.items.map((record: { email: string }) => normalized(record.email)));
    token = response.body.continuationToken;
    if (!token) break;
  }
  return emails;
}

async function runRow(row: Row): Promise<void> {
  const started = Date.now();
  const firstLogLine = stack.logs.length;
  expect(FAULT_ROW_CLAIMS[row.id], `what row ${row.id} proves (support/faultRowClaims.ts)`).toBeTruthy();
  if (row.members && row.members !== MEMBERS) await reseed(1, row.members);
  const rows = await segmentRows(stack.azurite.connectionString, SEGMENT);
  const context: RowContext = {
    exportId: '',
    runId: '',
    listId: `reliability-${row.id}`,
    connectionId: '',
    expected: rows.map((r) => normalized(r.Email)),
    reportedElsewhere: new Set(),
    notes: [],
  };
  const apiKey = `cm-${row.id}-${Math.random().toString(36).slice(2, 12)}`;
  secretsUsed.push(apiKey);
  const limits = row.requestsPerSecond
    ? { requestsPerSecond: row.requestsPerSecond }
    : row.targetSeconds
      ? { requestsPerSecond: Math.max(0.5, Number((CALLS / row.targetSeconds).toFixed(2))) }
      : {};
  const connection = await stack.api.post('/connections', {
    name: `Reliability ${row.id}`,
    type: 'campaign-monitor',
    secrets: { apiKey },
    privacyConsent: true,
    limits,
  });
  expect(connection.status, connection.text).toBe(201);
  context.connectionId = connection.body.id;
  const created = await stack.api.post('/exports', {
    name: `Reliability ${row.title}`,
    connectionId: context.connectionId,
    segments: [SEGMENT_ID],
    mapping,
    details: { listId: context.listId },
  });
  expect(created.status, created.text).toBe(201);
  context.exportId = created.body.id;
  const countersBefore = { ...simulator.state.counters };
  const gateBefore = { ...gate.counters };

  let run: any;
  let failure: Error | undefined;
  try {
    await row.setUp?.();
    if (row.start) context.runId = await row.start(context);
    else {
      const runStarted = await stack.api.post(`/exports/${context.exportId}/runs`);
      expect(runStarted.status, runStarted.text).toBe(202);
      context.runId = runStarted.body.runId;
    }
    const injected = row.inject?.(context) ?? Promise.resolve();
    // An injection that fails must not leave the run-wait hanging for its whole timeout.
    [run] = await Promise.all([waitForRun(context.exportId, context.runId, row.timeoutMs), injected]);
  } catch (error) {
    failure = error as Error;
  } finally {
    await row.tearDown?.().catch(() => undefined);
  }
  // The next rows export the profile's segment again.
  if (row.members && row.members !== MEMBERS) await reseed(1);
  // A held call is forwarded after the run may have ended: count its delivery too.
  await eventually(async () => (gate.counters.forwardedLate >= gate.counters.held ? true : undefined), {
    timeoutMs: VENDOR_TIMEOUT_MS + 30_000,
    what: 'held calls to reach the vendor',
  }).catch(() => undefined);
  await sleep(500);

  const list = simulator.state.lists.get(context.listId);
  const delivered = new Set(list?.subscribers.keys() ?? []);
  const inspection = simulator.inspectList(context.listId);
  const expectedSet = new Set(context.expected);
  const reported =
    run && run.counts.failed + run.counts.skipped > 0 ? new Set(await reportedRecords(context.exportId, context.runId)) : new Set<string>();
  const missing = context.expected.filter((email) => !delivered.has(email));
  const lost = missing.filter((email) => !reported.has(email) && !context.reportedElsewhere.has(email)).length;
  const extra = [...delivered].filter((email) => !expectedSet.has(email)).length;
  // Deliveries per member, as the simulator counted them (each import call's members, repeats included).
  const { mostDeliveries, histogram: deliveryHistogram } = deliveryFigures(list?.deliveries ?? new Map<string, number>());
  const allowedDeliveries = row.resendsExpected ? (row.maxDeliveriesPerMember ?? 2) : 1;
  const deliveries = inspection?.deliveries ?? 0;
  const counters = simulator.state.counters;
  const injected = {
    serverErrors: counters.serverErrors - countersBefore.serverErrors,
    tooManyRequests: counters.tooManyRequests - countersBefore.tooManyRequests,
    connectionResets: counters.connectionResets - countersBefore.connectionResets,
    refusedKeys: gate.counters.refused - gateBefore.refused,
    heldBeyondTimeout: gate.counters.held - gateBefore.held,
  };
  const reasonOk = row.reason ? row.reason.test(run?.reason ?? '') : !run?.reason || row.status !== 'succeeded';
  let verifyError: Error | undefined;
  if (!failure && run) await row.verify?.(context, run, stack.logs.slice(firstLogLine)).catch((error: Error) => (verifyError = error));
  const passed =
    !failure &&
    !verifyError &&
    lost === 0 &&
    extra === 0 &&
    mostDeliveries <= allowedDeliveries &&
    run?.status === row.status &&
    reasonOk &&
    run?.counts.succeeded === delivered.size &&
    (!!row.resendsExpected || deliveries === delivered.size);
  recordResult('faultMatrix', row.id, {
    passed,
    title: row.title,
    fault: row.fault,
    expected: context.expected.length,
    delivered: delivered.size,
    reportedNotSent: missing.length - lost,
    lost,
    extra,
    mostDeliveries,
    allowedDeliveries,
    deliveryHistogram,
    resentDeliveries: deliveries - delivered.size,
    resentMembers: inspection?.duplicates ?? 0,
    resendsExpected: row.resendsExpected ?? null,
    runStatus: run?.status ?? 'did not end',
    expectedStatus: row.status,
    reason: run?.reason ?? null,
    counts: run?.counts ?? null,
    vendorCalls: counters.requests - countersBefore.requests,
    injected,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    runSeconds: run?.startedAt && run?.finishedAt ? Math.round((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 100) / 10 : null,
    notes: context.notes,
    error: failure ? failure.message : verifyError ? verifyError.message : null,
  });
  // Lists of 200,000 members add up over ten rows; the figures are taken.
  simulator.state.lists.delete(context.listId);
  // The host's log of the row, for looking into a slow or failed one.
  mkdirSync(LOG_DIR, { recursive: true });
  writeFileSync(join(LOG_DIR, `${row.id}.log`), stack.logs.slice(firstLogLine).join('\n'));

  if (failure) throw failure;
  if (verifyError) throw verifyError;
  expect(run.status, run.reason ?? '').toBe(row.status);
  if (row.reason) expect(run.reason).toMatch(row.reason);
  expect(lost, `lost members (${missing.length} missing, ${reported.size} reported)`).toBe(0);
  expect(extra, 'members not in the planned snapshot').toBe(0);
  expect(mostDeliveries, `most deliveries of one member (${JSON.stringify(deliveryHistogram)} members by deliveries)`).toBeLessThanOrEqual(
    allowedDeliveries,
  );
  expect(run.counts.succeeded, 'the run counts what the list holds').toBe(delivered.size);
  if (!row.resendsExpected) expect(deliveries - delivered.size, 're-sent deliveries').toBe(0);
}

/** 20 partitions, so the last one's chunks wait in the queue behind the others (the poison row). */
async function reseed(seed: number, members = MEMBERS): Promise<void> {
  await seedLake({ containerClient: lake, profiles: members, kind: 'b2c', seed, invalidEmailRate: 0, rowsPerPartition: members / 20 });
}

/** Messages in every poison queue of the stack (a queue not created yet holds none). */
async function poisonMessages(): Promise<number> {
  const service = QueueServiceClient.fromConnectionString(stack.azurite.connectionString);
  let total = 0;
  for (const queue of Object.values(QUEUES)) {
    const properties = await service
      .getQueueClient(`${queue}-poison`)
      .getProperties()
      .catch(() => undefined);
    total += properties?.approximateMessagesCount ?? 0;
  }
  return total;
}

const rows: Row[] = [
  {
    id: 'vendor-5xx',
    title: 'Vendor 5xx at 10%',
    fault: '10% of vendor calls answered 500 before processing',
    status: 'succeeded',
    timeoutMs: 600_000,
    setUp: async () => simulator.setFaults({ serverErrorRate: 0.1, seed: 101 }),
    tearDown: async () => simulator.setFaults({}),
  },
  {
    id: '429-storms',
    title: '429 storms',
    fault: `after every ${SIZES.storm.every} calls, the next ${SIZES.storm.length} answered 429 with X-RateLimit-Reset: 1 and no Retry-After (the vendor documents none)`,
    status: 'succeeded',
    timeoutMs: 900_000,
    setUp: async () => simulator.setFaults({ tooManyRequestsBursts: SIZES.storm, seed: 102 }),
    tearDown: async () => simulator.setFaults({}),
  },
  {
    id: 'slow-vendor',
    title: 'Slow vendor (timeouts)',
    fault: `every call 0.2–1 s; 1 call in ${SIZES.holdEvery} held ${(VENDOR_TIMEOUT_MS + HOLD_BEYOND_MS) / 1000} s (beyond the ${VENDOR_TIMEOUT_MS / 1000} s call timeout), then processed anyway`,
    status: 'succeeded',
    timeoutMs: 900_000,
    resendsExpected:
      'each held call timed out and was retried, and the vendor processed the held original too, so its batch arrived again (upserts); a retry can itself be held, so a few members arrived three times',
    maxDeliveriesPerMember: 4,
    setUp: async () => {
      simulator.setFaults({ latencyMs: 200, latencyJitterMs: 800, seed: 103 });
      gate.holdCalls({ every: SIZES.holdEvery, holdMs: VENDOR_TIMEOUT_MS + HOLD_BEYOND_MS });
    },
    tearDown: async () => {
      simulator.setFaults({});
      gate.holdCalls(undefined);
    },
  },
  {
    id: 'connection-resets',
    title: 'Connection resets',
    fault: '5% of vendor calls: socket destroyed without an answer',
    status: 'succeeded',
    timeoutMs: 600_000,
    setUp: async () => simulator.setFaults({ connectionResetRate: 0.05, seed: 104 }),
    tearDown: async () => simulator.setFaults({}),
  },
  {
    id: 'host-killed-twice',
    title: 'Host killed and restarted mid-run (twice)',
    fault: 'SIGKILL of the Functions host at 25% and at 60% delivered, restarted at once',
    targetSeconds: SIZES.stretchSeconds,
    status: 'succeeded',
    timeoutMs: 900_000,
    resendsExpected: 'batches in flight at each kill (sent, not yet acknowledged in the ledger) are sent again on resume: upserts',
    // Two kills: a batch re-sent after the first may be in flight again at the second.
    maxDeliveriesPerMember: 3,
    inject: async (context) => {
      for (const share of [0.25, 0.6]) {
        await whenDelivered(context, share);
        await stack.killHost();
        context.notes.push(`killed at ${deliveredCount(context.listId)} delivered`);
        await stack.restartHost();
      }
    },
  },
  {
    id: 'azurite-restarted',
    title: 'Azurite restarted mid-run',
    fault: 'Azurite (on disk) stopped at 40% delivered, down 3 s, started again on the same ports and data',
    targetSeconds: SIZES.stretchSeconds,
    status: 'succeeded',
    timeoutMs: 900_000,
    resendsExpected: 'batches sent while their ledger write could not reach storage are sent again on resume: upserts',
    inject: async (context) => {
      await whenDelivered(context, 0.4);
      const at = deliveredCount(context.listId);
      await stack.restartAzurite({ downMs: 3_000 });
      context.notes.push(`restarted at ${at} delivered`);
    },
  },
  {
    id: 'key-vault-outage',
    title: `Key Vault unavailable for ${KEY_VAULT_OUTAGE_MS / 1000} s`,
    fault: `every Key Vault request answered 503 for ${KEY_VAULT_OUTAGE_MS / 1000} s from 30% delivered (the host caches secrets for 60 s)`,
    targetSeconds: SIZES.keyVaultStretchSeconds,
    status: 'succeeded',
    timeoutMs: 900_000,
    inject: async (context) => {
      await whenDelivered(context, 0.3);
      stack.keyVault.setAvailable(false);
      context.notes.push(`Key Vault down at ${deliveredCount(context.listId)} delivered`);
      await sleep(KEY_VAULT_OUTAGE_MS);
      stack.keyVault.setAvailable(true);
      context.notes.push(`Key Vault back at ${deliveredCount(context.listId)} delivered`);
    },
    tearDown: async () => stack.keyVault.setAvailable(true),
  },
  {
    id: 'key-vault-down-at-start',
    title: `Key Vault unavailable as the run starts (${SIZES.startOutageMs / 1000} s)`,
    fault: `every Key Vault request answered 503 from before the run is started until ${SIZES.startOutageMs / 1000} s later: no secret cached yet (longer than the queue's five attempts take, about a minute)`,
    status: 'succeeded',
    timeoutMs: 900_000,
    setUp: async () => stack.keyVault.setAvailable(false),
    inject: async (context) => {
      await sleep(SIZES.startOutageMs);
      context.notes.push(`Key Vault back after ${SIZES.startOutageMs / 1000} s, with ${deliveredCount(context.listId)} delivered`);
      stack.keyVault.setAvailable(true);
    },
    tearDown: async () => stack.keyVault.setAvailable(true),
  },
  {
    id: 'secret-rotated',
    title: 'Secret rotated mid-run',
    fault: 'at 30% delivered the API key is replaced (PATCH /connections/{id}) and the vendor accepts only the new key',
    targetSeconds: SIZES.stretchSeconds,
    status: 'succeeded',
    timeoutMs: 900_000,
    inject: async (context) => {
      await whenDelivered(context, 0.3);
      const newKey = `cm-rotated-${Math.random().toString(36).slice(2, 12)}`;
      secretsUsed.push(newKey);
      const patched = await stack.api.patch(`/connections/${context.connectionId}`, { secrets: { apiKey: newKey } });
      expect(patched.status, patched.text).toBe(200);
      gate.acceptKeys([newKey]);
      context.notes.push(`rotated at ${deliveredCount(context.listId)} delivered`);
    },
    tearDown: async () => gate.acceptKeys(undefined),
  },
  {
    id: 'segment-refreshed',
    title: 'Segment refreshed mid-run',
    fault: 'at 30% delivered a new lake generation (another seed: other members) replaces the segment',
    targetSeconds: SIZES.stretchSeconds,
    status: 'succeeded',
    timeoutMs: 900_000,
    inject: async (context) => {
      await whenDelivered(context, 0.3);
      const before = deliveredCount(context.listId);
      await reseed(2);
      const after = await segmentRows(stack.azurite.connectionString, SEGMENT);
      const snapshot = new Set(context.expected);
      const changed = after.filter((row) => !snapshot.has(normalized(row.Email))).length;
      context.notes.push(
        `new generation seeded from ${before} delivered, in place at ${deliveredCount(context.listId)}; ${changed} of its members are not in the run's snapshot`,
      );
      expect(changed).toBeGreaterThan(0);
    },
  },
  {
    id: 'poison-message',
    title: 'Poison message',
    fault:
      "after planning, the segment's last lake partition is deleted: its chunks fail 5 times and go to export-chunks-poison (the vendor holds the first imports until then, so its chunks cannot have read it)",
    targetSeconds: SIZES.stretchSeconds,
    status: 'partiallySucceeded',
    reason: /^\d+ of \d+ chunks failed: Chunk \S+ failed 5 times; last error: Lake partition \S+ changed or was removed/,
    timeoutMs: 900_000,
    // The senders that start while the run is planned keep every sender slot while their first
    // import is held, so the last partition's chunk, queued last, has read nothing when its
    // partition goes. Without the hold, a slot freed at the end of planning could go to that chunk
    // first, which then streamed its whole range before the deletion and the run succeeded.
    setUp: async () => gate.pauseCalls(IMPORT_PATH),
    tearDown: async () => void gate.resumeCalls(),
    inject: async (context) => {
      await whenPlanned(context);
      const model = await readModel(lake);
      const segment = listSegments(model).find((candidate) => candidate.name === SEGMENT)!;
      const blobs = await partitionBlobs(lake, segment.entity);
      const last = blobs[blobs.length - 1]!;
      for await (const record of readRecords(lake, last.blobName, 0, last.size)) {
        context.reportedElsewhere.add(
          normalized(record.values[segment.entity.attributes.findIndex((attribute) => attribute.name === 'Email')]),
        );
      }
      await lake.deleteBlob(last.blobName);
      const delivered = deliveredCount(context.listId);
      const { held, dropped } = gate.resumeCalls();
      context.notes.push(
        `deleted ${last.blobName} (${context.reportedElsewhere.size} members) at ${delivered} delivered, ${held} imports held till then (${dropped} given up by the sender meanwhile)`,
      );
    },
  },
];

/** Rows that only a host keeping the runtime's rules can show (the second stack). */
const DUPLICATES = 100;
const FUNCTION_TIMEOUT = '00:00:20';
/**
 * The documented-rate row's members. Issue 14 asks for 100,000; the ci profile keeps 10,000 for
 * the suite's time. Planning keeps to the invocation budget as the senders do (it hands on to its
 * own continuation), so the planner's invocations are held to functionTimeout here too.
 */
const RATE_ROW_MEMBERS = SIZES.rateRowMembers;
let poisonedBefore = 0;
const runtimeRows: Row[] = [
  {
    id: 'documented-rate-under-timeout',
    title: "Campaign Monitor's documented rate under a short functionTimeout",
    fault: `${RATE_ROW_MEMBERS.toLocaleString('en-US')} members, the connection held to Campaign Monitor's 2 requests/s (a run of about ${Math.round(RATE_ROW_MEMBERS / BATCH / 2)} s) with functionTimeout ${FUNCTION_TIMEOUT} on 2 host instances: no fault injected, the rules alone`,
    members: RATE_ROW_MEMBERS,
    requestsPerSecond: 2,
    status: 'succeeded',
    timeoutMs: 900_000,
    setUp: async () => {
      poisonedBefore = await poisonMessages();
    },
    verify: async (context, _run, logs) => {
      const invocations = logs.flatMap((line) => {
        const match = /Executed 'Functions\.(sendChunk|planRun)' \((\w+), Id=[^,]+, Duration=(\d+)ms\)/.exec(line);
        return match ? [{ name: match[1]!, outcome: match[2]!, ms: Number(match[3]) }] : [];
      });
      const durations = invocations.filter((entry) => entry.name === 'sendChunk');
      const plans = invocations.filter((entry) => entry.name === 'planRun');
      // A loop, not Math.max(...): spreading a long list overflows the call stack.
      const longest = durations.reduce((most, entry) => Math.max(most, entry.ms), 0);
      const longestPlan = plans.reduce((most, entry) => Math.max(most, entry.ms), 0);
      const failed = invocations.filter((entry) => entry.outcome !== 'Succeeded').length;
      const timeouts = logs.filter((line) => /Timeout value of \S+ was exceeded/.test(line)).length;
      const poisoned = (await poisonMessages()) - poisonedBefore;
      const deliveries = [...(simulator.state.lists.get(context.listId)?.deliveries.values() ?? [])];
      const deliveredOnce = deliveries.filter((count) => count === 1).length;
      context.notes.push(
        `${plans.length} planner invocations, the longest ${(longestPlan / 1000).toFixed(1)} s; ${durations.length} sender invocations, the longest ${(longest / 1000).toFixed(1)} s; ${failed} failed, ${timeouts} past functionTimeout; ${poisoned} poison messages; ${deliveredOnce.toLocaleString('en-US')} of ${context.expected.length.toLocaleString('en-US')} members delivered exactly once`,
      );
      expect(durations.length, 'sender invocations seen in the host log').toBeGreaterThan(0);
      expect(longest, 'every sender invocation ends well inside functionTimeout').toBeLessThan(20_000);
      expect(longestPlan, 'every planner invocation ends well inside functionTimeout').toBeLessThan(20_000);
      expect(failed, 'no planner or sender invocation failed (none killed, none poisoned)').toBe(0);
      expect(poisoned, 'no message in a poison queue').toBe(0);
      expect(deliveries.length, 'members the vendor received').toBe(context.expected.length);
      expect(deliveredOnce, 'members delivered exactly once').toBe(context.expected.length);
    },
  },
  {
    id: 'function-timeout',
    title: 'Invocations killed by functionTimeout',
    fault: `functionTimeout ${FUNCTION_TIMEOUT} on 2 host instances; 2 vendor calls held 30 s, beyond it: the host fails each such invocation and recycles its worker with everything in flight on it`,
    targetSeconds: SIZES.stretchSeconds,
    status: 'succeeded',
    timeoutMs: 900_000,
    resendsExpected:
      'the batches in flight on a recycled worker (sent, not yet acknowledged) were sent again when their messages came back, and each held call reached the vendor after all (upserts)',
    maxDeliveriesPerMember: 3,
    setUp: async () => gate.holdCalls({ every: Math.max(2, Math.floor(CALLS / 4)), holdMs: 30_000, limit: 2 }),
    tearDown: async () => gate.holdCalls(undefined),
    verify: async (context, _run, logs) => {
      const timeouts = logs.filter((line) => /Timeout value of \S+ was exceeded/.test(line)).length;
      const recycled = logs.filter((line) => /recycled after a function timeout/.test(line)).length;
      context.notes.push(`${timeouts} invocations failed by functionTimeout, ${recycled} workers recycled`);
      expect(timeouts, 'an invocation outlived functionTimeout').toBeGreaterThan(0);
    },
  },
  {
    id: 'instance-killed',
    title: 'Two instances, one killed mid-run',
    fault: 'SIGKILL of host instance 1 of 2 at 40% delivered; its supervisor starts it again while instance 2 works on',
    targetSeconds: SIZES.stretchSeconds,
    status: 'succeeded',
    timeoutMs: 900_000,
    resendsExpected:
      'batches in flight on the killed instance (sent, not yet acknowledged in the ledger) are sent again when their messages come back: upserts',
    inject: async (context) => {
      await whenDelivered(context, 0.4);
      const pid = await stack.killHostInstance(1);
      context.notes.push(`instance 1 (pid ${pid}) killed at ${deliveredCount(context.listId)} delivered`);
    },
  },
  {
    id: 'cancel-during-planning',
    title: 'Cancel during planning',
    fault:
      'Key Vault down as the run starts, so the planner holds the run running, not yet planned; the run is cancelled then, and Key Vault is back 5 s later',
    status: 'cancelled',
    reason: /^Cancelled/,
    timeoutMs: 300_000,
    setUp: async () => stack.keyVault.setAvailable(false),
    inject: async (context) => {
      // Nothing is to be sent: every member counts as accounted for.
      for (const email of context.expected) context.reportedElsewhere.add(email);
      await eventually(
        async () => {
          const run = await tolerantGet(`/exports/${context.exportId}/runs/${context.runId}`);
          return run?.status === 'running' && run.tasks.find((task: { name: string }) => task.name === 'plan')?.status === 'running'
            ? true
            : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 100, what: 'the planner to hold the run' },
      );
      const cancelled = await stack.api.post(`/exports/${context.exportId}/runs/${context.runId}/cancel`);
      expect(cancelled.status, cancelled.text).toBeLessThan(300);
      await sleep(5_000);
      stack.keyVault.setAvailable(true);
      // The run, watched for 20 s: once cancelled, never running again; its end written once.
      const seen: { status: string; finishedAt: string | null }[] = [];
      for (const until = Date.now() + 20_000; Date.now() < until; await sleep(250)) {
        const run = await tolerantGet(`/exports/${context.exportId}/runs/${context.runId}`);
        if (run) seen.push({ status: run.status, finishedAt: run.finishedAt });
      }
      const firstCancelled = seen.findIndex((entry) => entry.status === 'cancelled');
      expect(firstCancelled, 'the run ended cancelled').toBeGreaterThanOrEqual(0);
      const after = seen.slice(firstCancelled);
      expect(new Set(after.map((entry) => entry.status))).toEqual(new Set(['cancelled']));
      expect(new Set(after.map((entry) => entry.finishedAt)).size, 'the run was finalized once').toBe(1);
      context.notes.push(
        `cancelled while planning; watched ${seen.length} times over 20 s: ${after.length} times cancelled, never running again`,
      );
    },
    tearDown: async () => stack.keyVault.setAvailable(true),
  },
  {
    id: 'duplicate-emails',
    title: 'Duplicate emails across chunks',
    fault: `${DUPLICATES} members of the segment's first partition repeated, in other case and with spaces, at the end of its last partition: one member in two chunks`,
    status: 'partiallySucceeded',
    reason: new RegExp(`^${DUPLICATES} records were not sent`),
    timeoutMs: 600_000,
    setUp: async () => appendDuplicateMembers(DUPLICATES),
    verify: async (context) => {
      const skipped = await reportedRecordsWithCode(context.exportId, context.runId);
      expect(skipped.filter((record) => record.code === 'duplicateEmail')).toHaveLength(DUPLICATES);
      context.notes.push(`${DUPLICATES} repeated rows skipped as duplicateEmail; each of those members delivered once`);
    },
    tearDown: async () => reseed(1),
  },
  {
    // Last of its stack: in the ci profile it restarts the host with a shorter sweep patience.
    id: 'plan-message-lost',
    title: 'Plan message lost',
    fault: `the run row is written and the export claimed, but no plan message is sent (as when the process dies between the two): only the recovery sweep can move the run${SIZES.recoveryStaleSeconds ? ` (its patience shortened to ${SIZES.recoveryStaleSeconds} s by RUN_RECOVERY_STALE_SECONDS; 120 s by default)` : ''}`,
    status: 'succeeded',
    timeoutMs: 600_000,
    setUp: async () => {
      if (!SIZES.recoveryStaleSeconds) return;
      stack.settings.RUN_RECOVERY_STALE_SECONDS = String(SIZES.recoveryStaleSeconds);
      await stack.restartHost();
    },
    start: (context) => startRunWithoutPlanMessage(context.exportId),
    verify: async (context, run) => {
      const stillFor = (Date.parse(run.startedAt) - Date.parse(run.createdAt)) / 1000;
      // The sweep runs every minute and acts once the run has been still for its patience; the
      // restarted host may wait for the timers' listener lock (15 s) before its first sweep.
      const within = Math.min(300, (SIZES.recoveryStaleSeconds ?? 120) + 60 + 60);
      context.notes.push(
        `the recovery sweep sent its plan message again; planning started ${stillFor} s after the run was created (bound: ${within} s)`,
      );
      expect(stillFor, `planned within ${within} s`).toBeLessThan(within);
      const { getExport } = await import('../../shared/exports/exportStore.js');
      expect((await getExport(context.exportId)).activeRunId, 'the export is free for its next run').toBeNull();
    },
  },
];

/** Does what POST …/runs does up to the point where it would send the plan message. */
async function startRunWithoutPlanMessage(exportId: string): Promise<string> {
  process.env.AzureWebJobsStorage = stack.azurite.connectionString;
  const { getExport, replaceExport } = await import('../../shared/exports/exportStore.js');
  const { insertRun, newRunId } = await import('../../shared/runs/runStore.js');
  const runId = newRunId();
  const record = await getExport(exportId);
  await replaceExport({ ...record, activeRunId: runId }, record.etag);
  const now = new Date().toISOString();
  await insertRun({
    id: runId,
    exportId,
    trigger: 'manual',
    status: 'queued',
    reason: null,
    requestedBy: { id: 'reliability', name: 'Reliability suite' },
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    counts: { members: 0, sent: 0, succeeded: 0, failed: 0, skipped: 0 },
    planned: false,
    chunksTotal: 0,
    segments: [],
    preparedDetails: null,
    cancelRequested: false,
    waitingFor: null,
    tasks: [
      { name: 'plan', status: 'pending', startedAt: null, finishedAt: null },
      { name: 'send', status: 'pending', startedAt: null, finishedAt: null },
      { name: 'finalize', status: 'pending', startedAt: null, finishedAt: null },
    ],
    etag: '',
  });
  return runId;
}

/** Appends `count` rows of the first partition, their emails upper-cased and padded, to the last one. */
async function appendDuplicateMembers(count: number): Promise<void> {
  const model = await readModel(lake);
  const segment = listSegments(model).find((candidate) => candidate.name === SEGMENT)!;
  const blobs = await partitionBlobs(lake, segment.entity);
  const first = blobs[0]!;
  const last = blobs[blobs.length - 1]!;
  const emailAt = segment.entity.attributes.findIndex((attribute) => attribute.name === 'Email');
  const repeated: string[][] = [];
  for await (const record of readRecords(lake, first.blobName, 0, first.size, {
    delimiter: first.format.delimiter,
    columnHeaders: first.format.columnHeaders,
  })) {
    const values = [...record.values];
    values[emailAt] = ` ${(values[emailAt] ?? '').toUpperCase()} `;
    repeated.push(values);
    if (repeated.length >= count) break;
  }
  const existing = (await lake.getBlobClient(last.blobName).downloadToBuffer()).toString('utf8');
  const text = `${existing.endsWith('\n') ? existing : `${existing}\n`}${stringify(repeated, { delimiter: first.format.delimiter ?? ',' })}`;
  await lake.getBlockBlobClient(last.blobName).upload(text, Buffer.byteLength(text));
}

async function reportedRecordsWithCode(exportId: string, runId: string): Promise<{ email: string; code: string }[]> {
  const response = await stack.api.get(`/exports/${exportId}/runs/${runId}/records?status=skipped&top=5000`);
  expect(response.status, response.text).toBe(200);
  return response.body.items;
}

beforeAll(async () => {
  simulator = await startCampaignMonitorSimulator({ rateLimit: { requestsPerSecond: 400, burst: 50 }, autoCreateLists: true });
  gate = await startVendorGate(simulator.url);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await gate?.stop();
  await simulator?.stop();
});

const stackSettings = () => ({
  CAMPAIGN_MONITOR_API_URL: gate.url,
  DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 300, burst: 30 } }),
  // Messages of a killed host come back after 10 s instead of the runtime's 10 minutes.
  OUTFLOW_QUEUE_LEASE_SECONDS: '10',
});

describe(`the fault matrix (${MEMBERS.toLocaleString('en-US')} members per row)`, () => {
  beforeAll(async () => {
    stack = await startTestStack({
      persistent: true,
      seedProfiles: 0,
      settings: {
        ...stackSettings(),
        ...(SIZES.vendorTimeoutSeconds ? { VENDOR_TIMEOUT_SECONDS: String(SIZES.vendorTimeoutSeconds) } : {}),
      },
    });
    lake = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient('lake');
    await lake.createIfNotExists();
    await reseed(1);
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  for (const row of rows) {
    it(
      `${row.title}: none lost, none delivered more often than the row explains, ${row.status}`,
      { timeout: row.timeoutMs + 180_000 },
      async () => {
        await runRow(row);
      },
    );
  }

  it('left no secret in any table row, queue message, blob, response or log line', { timeout: 300_000 }, async () => {
    const scan = await scanForSecrets(stack, secretsUsed);
    recordResult('security', 'secret-scan-fault-matrix', {
      passed: scan.findings.length === 0,
      title: 'Secrets nowhere (fault matrix)',
      checked: 'every API key of the fault matrix (one per row, and the rotated one), in every form (plain, JSON-escaped, base64)',
      secrets: secretsUsed.length,
      ...scan,
      findings: scan.findings.slice(0, 20),
    });
    expect(scan.findings).toEqual([]);
    expect(scan.tableRows).toBeGreaterThan(0);
  });
});

describe(`the fault matrix under the runtime's rules (2 host instances, functionTimeout ${FUNCTION_TIMEOUT})`, () => {
  beforeAll(async () => {
    stack = await startTestStack({
      seedProfiles: 0,
      hostInstances: 2,
      functionTimeout: FUNCTION_TIMEOUT,
      // Longer than functionTimeout, so a held call is ended by the host's timeout, not the adapter's.
      settings: { ...stackSettings(), VENDOR_TIMEOUT_SECONDS: '60' },
    });
    lake = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient('lake');
    await lake.createIfNotExists();
    await reseed(1);
  }, 300_000);

  for (const row of runtimeRows) {
    it(
      `${row.title}: none lost, none delivered more often than the row explains, ${row.status}`,
      { timeout: row.timeoutMs + 180_000 },
      async () => {
        await runRow(row);
      },
    );
  }
});
