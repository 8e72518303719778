// A `changes` + removals run whose comparison with the last delivery is longer than its invocation
// budget, over real Azurite, the Key Vault emulator and the Campaign Monitor simulator: the planner
// reads the segment a stretch a step and compares a key bucket a step, keeping each step in the
// plan's progress and handing the rest to its continuation; plan messages delivered twice (one
// after another, and at the same moment) go on from what was kept. The run sends exactly the
// members who joined or changed and removes exactly those who left, and the snapshot it commits
// is the destination's state: the next run has nothing to send or remove. A member whose profile
// key changed (same email) is forgotten under the old key, not removed: neither the plan nor the
// run counts them as left.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { seedLake } from '../../local/demoData/seedLake.js';
import { changeLakeEntity } from '../../bench/lakeChanges.js';
import { insertConnection } from '../../shared/connections/connectionStore.js';
import { insertExport } from '../../shared/exports/exportStore.js';
import { secretStoreFromSettings } from '../../shared/secretStore.js';
import { runChunk } from '../../shared/runs/runChunk.js';
import { startRun } from '../../shared/runs/startRun.js';
import { listChunks } from '../../shared/runs/runLedger.js';
import { getRun } from '../../shared/runs/runStore.js';
import type { RunRecord } from '../../shared/runs/run.js';
import { loadPlanProgress, type PlanProgress } from '../../shared/segmentSender/planProgress.js';
import { planExport } from '../../shared/plans/planExport.js';
import type { Principal } from '../../shared/auth/principal.js';
import '../../functions/runWorkers.js';
import { useLocalServices } from '../support/localServices.js';
import { connectionRecord, exportRecord } from '../support/engineRecords.js';
import { segmentRows } from '../support/lakeRows.js';
import { chunkQueue, planQueue, take, takeAll, workPlanMessages, type ChunkMessage } from '../support/planQueues.js';

const PROFILES = 2_400;
/** Three partitions: the read goes on across partitions and inside one. */
const ROWS_PER_PARTITION = 800;
const JOINED = 60;
const alice: Principal = { id: 'alice', name: 'Alice', roles: ['admin'] };

const local = useLocalServices({
  keyVault: true,
  env: { DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 1000, burst: 100 } }) },
});
let simulator: CampaignMonitorSimulator;
const savedUrl = process.env.CAMPAIGN_MONITOR_API_URL;

beforeAll(async () => {
  simulator = await startCampaignMonitorSimulator({ rateLimit: false, autoCreateLists: true });
  process.env.CAMPAIGN_MONITOR_API_URL = simulator.url;
  await lake().createIfNotExists();
  await seedLake({
    containerClient: lake(),
    profiles: PROFILES,
    kind: 'b2c',
    seed: 7,
    rowsPerPartition: ROWS_PER_PARTITION,
    invalidEmailRate: 0,
  });
  for (const queue of [plans(), chunks()]) await queue.createIfNotExists();
}, 120_000);

afterAll(async () => {
  if (savedUrl === undefined) delete process.env.CAMPAIGN_MONITOR_API_URL;
  else process.env.CAMPAIGN_MONITOR_API_URL = savedUrl;
  await simulator?.stop();
});

const lake = () => BlobServiceClient.fromConnectionString(local.azurite.connectionString).getContainerClient('lake');
const plans = () => planQueue(local.azurite.connectionString);
const chunks = () => chunkQueue(local.azurite.connectionString);

async function changesExport(listId: string): Promise<string> {
  const connectionId = randomUUID();
  const secretName = `connection-${connectionId}`;
  await secretStoreFromSettings().set(secretName, JSON.stringify({ apiKey: 'key' }));
  await insertConnection(connectionRecord({ id: connectionId, name: 'CM', secretName, secretFields: ['apiKey'] }));
  const record = await insertExport(
    exportRecord({
      id: randomUUID(),
      name: 'Changes in steps',
      connectionId,
      segments: ['Segment_AllCustomers'],
      mapping: { email: 'Email', firstName: 'FirstName' },
      details: { listId },
      delivery: { mode: 'changes', removals: true },
    }),
  );
  return record.id;
}

/**
 * Starts a run and plans it, each plan message worked as `deliver(round)` says (a budget already
 * spent: one step an invocation); answers the run and what its plan task said between invocations.
 */
async function plannedRun(
  exportId: string,
  deliver: (round: number) => { times: number; together: boolean },
): Promise<{ runId: string; details: string[]; rounds: number; progress: PlanProgress | undefined }> {
  const runId = (await startRun(alice, exportId, 'manual')).id;
  const details: string[] = [];
  let rounds = 0;
  for (; !(await getRun(exportId, runId)).planned; rounds++) {
    expect(rounds, 'the plan is finished within a bounded number of hand-ons').toBeLessThan(60);
    const { times, together } = deliver(rounds);
    await workPlanMessages(plans(), times, together);
    const detail = (await getRun(exportId, runId)).tasks.find((task) => task.name === 'plan')?.detail;
    if (detail) details.push(detail);
  }
  // Gone already when the run ended with its plan (nothing to send): its working files go with it.
  const progress = (await loadPlanProgress(runId))?.progress;
  // A plan message delivered again once planning is done does nothing.
  await workPlanMessages(plans(), 1);
  return { runId, details, rounds, progress };
}

/**
 * Works every queued chunk message until the run ends. Two planners at the same moment may both
 * queue a group of messages before either keeps that it did: the ledger sends a chunk once.
 */
async function sentToEnd(exportId: string, runId: string): Promise<RunRecord> {
  const queued = await takeAll<ChunkMessage>(chunks());
  expect([...new Set(queued.map((message) => message.chunkId))].sort(), 'every chunk queued').toEqual(
    (await listChunks(runId)).map((chunk) => chunk.chunkId).sort(),
  );
  for (const message of queued) await runChunk(message);
  expect(await take(plans()), 'no continuation left').toEqual([]);
  return getRun(exportId, runId);
}

const once = () => ({ times: 1, together: false });
const emailOf = (email: string) => email.trim().toLowerCase();

describe('a changes + removals comparison longer than its invocation budget', () => {
  it('goes on step by step; sends exactly who joined or changed, removes exactly who left, and commits that snapshot', async () => {
    const listId = `list-${randomUUID().slice(0, 8)}`;
    const exportId = await changesExport(listId);
    const first = await plannedRun(exportId, once);
    const firstRun = await sentToEnd(exportId, first.runId);
    expect(firstRun.status).toBe('succeeded');
    expect(firstRun.counts).toMatchObject({ sent: PROFILES, failed: 0 });
    expect(firstRun.delivery).toMatchObject({ fullReason: 'first delivery', changes: { joined: PROFILES, left: 0 } });

    const emailByKey = new Map(
      (await segmentRows(local.azurite.connectionString, 'All customers')).map((row) => [row.CustomerId!, emailOf(row.Email!)]),
    );
    const changes = await changeLakeEntity({
      containerClient: lake(),
      entity: 'Segment_AllCustomers',
      updateRate: 0.03,
      deleteRate: 0.02,
      inserts: JOINED,
      changedAttribute: 'FirstName',
      emailAttribute: 'Email',
    });
    const joined = [...changes.inserted].map((_, index) => `joined-7-${index}@bench.example.com`);
    const changed = [...changes.updated].map((key) => emailByKey.get(key)!);
    const left = [...changes.deleted].map((key) => emailByKey.get(key)!);
    expect(changed.length).toBeGreaterThan(20);
    expect(left.length).toBeGreaterThan(20);
    const before = new Map(simulator.state.lists.get(listId)!.deliveries);

    // Plan messages delivered twice: one after another in some rounds, at the same moment in others.
    const second = await plannedRun(exportId, (round) => ({ times: round % 3 === 1 ? 1 : 2, together: round % 3 === 2 }));
    // Each step kept: the segment read in stretches of a few hundred rows, one an invocation here.
    const comparison = second.progress!.delivery!;
    expect(comparison.stretches.length, 'the segment read for the comparison in several invocations').toBeGreaterThan(
      2 * Math.ceil(PROFILES / ROWS_PER_PARTITION),
    );
    expect(comparison).toMatchObject({ members: PROFILES - left.length + JOINED, compared: 1, done: true });
    expect(second.details.some((detail) => detail.includes('members read for the comparison'))).toBe(true);

    const secondRun = await sentToEnd(exportId, second.runId);
    expect(secondRun.status).toBe('succeeded');
    expect(secondRun.delivery?.changes).toEqual({
      joined: JOINED,
      changed: changed.length,
      unchanged: PROFILES - changed.length - left.length,
      left: left.length,
    });
    expect(secondRun.counts).toMatchObject({ sent: JOINED + changed.length, removed: left.length, failed: 0 });
    const after = simulator.state.lists.get(listId)!;
    const delivered = [...after.deliveries].filter(([email, count]) => count !== (before.get(email) ?? 0));
    expect(delivered.map(([email]) => email).sort(), 'sent: exactly who joined or changed').toEqual([...joined, ...changed].sort());
    expect(
      delivered.every(([email, count]) => count === (before.get(email) ?? 0) + 1),
      'each sent once',
    ).toBe(true);
    const unsubscribed = [...after.subscribers.values()]
      .filter((subscriber) => subscriber.State === 'Unsubscribed')
      .map((subscriber) => emailOf(subscriber.EmailAddress));
    expect(unsubscribed.sort(), 'removed: exactly who left').toEqual([...left].sort());

    // The snapshot the run committed is what the destination holds: nothing to send or remove.
    const third = await plannedRun(exportId, () => ({ times: 2, together: true }));
    const thirdRun = await sentToEnd(exportId, third.runId);
    expect(thirdRun.status).toBe('succeeded');
    expect(thirdRun.counts).toMatchObject({ sent: 0, removed: 0 });
    expect(thirdRun.delivery?.changes).toEqual({ joined: 0, changed: 0, unchanged: PROFILES - left.length + JOINED, left: 0 });
  }, 180_000);
});

describe('what a changes run counts as left', () => {
  it('counts a member whose profile key changed (same email) as joined, not as left: sent under the new key, removed from nowhere', async () => {
    const listId = `list-${randomUUID().slice(0, 8)}`;
    const exportId = await changesExport(listId);
    const first = await sentToEnd(exportId, (await plannedRun(exportId, once)).runId);
    expect(first.status).toBe('succeeded');
    const members = first.counts.sent;
    // The upstream gives some profiles a new key; their email stays.
    const rekeyed = (
      await changeLakeEntity({
        containerClient: lake(),
        entity: 'Segment_AllCustomers',
        updateRate: 0.02,
        deleteRate: 0,
        inserts: 0,
        changedAttribute: 'CustomerId',
      })
    ).updated.size;
    expect(rekeyed).toBeGreaterThan(10);

    const plan = await planExport(alice, exportId);
    expect(plan.changes, 'the plan: nobody to remove').toEqual({ added: rekeyed, updated: 0, removed: 0, unchanged: members - rekeyed });
    const second = await sentToEnd(exportId, (await plannedRun(exportId, once)).runId);
    expect(second.status).toBe('succeeded');
    expect(second.delivery?.changes).toEqual({ joined: rekeyed, changed: 0, unchanged: members - rekeyed, left: 0 });
    expect(second.counts).toMatchObject({ sent: rekeyed, removed: 0, failed: 0 });
    const unsubscribed = [...simulator.state.lists.get(listId)!.subscribers.values()].filter(
      (subscriber) => subscriber.State === 'Unsubscribed',
    );
    expect(unsubscribed).toEqual([]);
  }, 120_000);
});
