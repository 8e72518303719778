// The planner inside the runtime's rules, over real Azurite, the Key Vault emulator and the Campaign
// Monitor simulator: a plan with more to do than its invocation budget keeps what it did and
// queues its own continuation; continuations and messages delivered again (one after another or
// at the same moment) go on from what was kept — each chunk recorded and queued once, every member
// delivered once — and a cancel between two of its invocations ends the run, never revived.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../local/keyVaultEmulator.js';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { seedLake } from '../../local/demoData/seedLake.js';
import { planRun } from '../../shared/runs/planRun.js';
import { runChunk } from '../../shared/runs/runChunk.js';
import { startRun } from '../../shared/runs/startRun.js';
import { cancelRun } from '../../shared/runs/cancelRun.js';
import { listChunks } from '../../shared/runs/runLedger.js';
import { getRun } from '../../shared/runs/runStore.js';
import { isTerminal } from '../../shared/runs/run.js';
import { recoverRuns, staleMs } from '../../shared/runs/recoverRuns.js';
import { functionTimeoutMs } from '../../shared/runs/invocationBudget.js';
import type { Principal } from '../../shared/auth/principal.js';
import '../../functions/runWorkers.js';
import { insertCampaignMonitorExport } from '../support/campaignMonitorExport.js';
import { chunkQueue as chunks, planQueue as plans, take, workPlanMessages as workPlans, type ChunkMessage } from '../support/planQueues.js';

const PROFILES = 3_000;
const ROWS_PER_PARTITION = 1_200;
const PARTITIONS = Math.ceil(PROFILES / ROWS_PER_PARTITION);
const alice: Principal = { id: 'alice', name: 'Alice', roles: ['admin'] };

let azurite: RunningAzurite;
let keyVault: KeyVaultEmulator;
let simulator: CampaignMonitorSimulator;
const saved = { ...process.env };
const ENV = ['AzureWebJobsStorage', 'KEY_VAULT_URL', 'KEY_VAULT_LOCAL_TOKEN', 'CAMPAIGN_MONITOR_API_URL', 'DESTINATION_RATE_LIMITS'];

beforeAll(async () => {
  azurite = await startAzurite();
  const token = `test-${randomUUID()}`;
  keyVault = await startKeyVaultEmulator({
    certPath: process.env.OUTFLOW_TEST_CERT_PATH!,
    keyPath: process.env.OUTFLOW_TEST_KEY_PATH!,
    port: 0,
    token,
  });
  simulator = await startCampaignMonitorSimulator({ rateLimit: false, autoCreateLists: true });
  Object.assign(process.env, {
    AzureWebJobsStorage: azurite.connectionString,
    KEY_VAULT_URL: keyVault.url,
    KEY_VAULT_LOCAL_TOKEN: token,
    CAMPAIGN_MONITOR_API_URL: simulator.url,
    DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 1000, burst: 100 } }),
  });
  const lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
  await lake.createIfNotExists();
  // Three partitions of the segment: the read goes on across partitions and inside one.
  await seedLake({ containerClient: lake, profiles: PROFILES, kind: 'b2c', seed: 7, rowsPerPartition: ROWS_PER_PARTITION });
  for (const queue of [planQueue(), chunkQueue()]) await queue.createIfNotExists();
}, 120_000);

afterAll(async () => {
  for (const name of ENV) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await simulator?.stop();
  await keyVault?.stop();
  await azurite?.stop();
});

const planQueue = () => plans(azurite.connectionString);
const chunkQueue = () => chunks(azurite.connectionString);
const workPlanMessages = (times: number, together = false) => workPlans(planQueue(), times, together);

/** A Campaign Monitor connection and an export of all customers to a list of its own, with a run started. */
async function startedRun(): Promise<{ exportId: string; runId: string; listId: string }> {
  const { record, listId } = await insertCampaignMonitorExport({ name: 'Planned in steps', segmentId: 'Segment_AllCustomers' });
  const run = await startRun(alice, record.id, 'manual');
  return { exportId: record.id, runId: run.id, listId };
}

describe('a plan longer than its invocation budget', () => {
  it('is made in several invocations, each going on from the last; every chunk queued once and every member delivered once', async () => {
    const { exportId, runId, listId } = await startedRun();
    let invocations = 0;
    let rounds = 0;
    for (; !(await getRun(exportId, runId)).planned; rounds++) {
      expect(rounds, 'the plan is finished within a bounded number of hand-ons').toBeLessThan(40);
      // A message delivered again: after the first, and at the same moment as the first.
      invocations += await workPlanMessages(rounds === 2 ? 2 : 1, rounds === 2 || rounds === 4);
    }
    // Each partition is read in several stretches (a few hundred rows each, one an invocation here).
    expect(rounds, 'continuations carried the plan on, inside partitions too').toBeGreaterThan(2 * PARTITIONS);
    // A plan message delivered again once planning is done does nothing.
    await planRun({ exportId, runId });
    const run = await getRun(exportId, runId);
    expect(run.counts.members).toBe(PROFILES);
    const chunks = await listChunks(runId);
    expect(chunks).toHaveLength(run.chunksTotal);
    expect(new Set(chunks.map((chunk) => chunk.blobName)).size, 'chunks over every partition').toBe(PARTITIONS);

    const queued: ChunkMessage[] = [];
    for (let batch = await take<ChunkMessage>(chunkQueue()); batch.length > 0; batch = await take<ChunkMessage>(chunkQueue()))
      queued.push(...batch);
    expect(queued.map((message) => message.chunkId).sort(), 'each chunk message queued once').toEqual(
      chunks.map((chunk) => chunk.chunkId).sort(),
    );
    expect(await take(planQueue()), 'no continuation left').toEqual([]);

    for (const message of queued) await runChunk(message);
    const ended = await getRun(exportId, runId);
    expect(ended.status).toBe('succeeded');
    expect(ended.counts.sent).toBe(PROFILES);
    const deliveries = [...(simulator.state.lists.get(listId)?.deliveries.values() ?? [])];
    expect(deliveries, 'members the vendor received').toHaveLength(PROFILES);
    expect(
      deliveries.every((count) => count === 1),
      'each delivered once',
    ).toBe(true);
    expect(invocations).toBeGreaterThan(rounds);
  }, 120_000);

  it('honours a cancel between two of its invocations: the run ends cancelled once, and nothing is queued', async () => {
    const { exportId, runId } = await startedRun();
    await workPlanMessages(1);
    await workPlanMessages(1);
    const between = await getRun(exportId, runId);
    expect(between.status).toBe('running');
    expect(between.planned).toBe(false);
    await cancelRun(alice, exportId, runId);
    // The continuation already queued finds the run cancelled.
    await workPlanMessages(1);
    const ended = await getRun(exportId, runId);
    expect(ended.status).toBe('cancelled');
    expect(ended.reason).toMatch(/^Cancelled/);
    // A message delivered again later revives nothing and ends nothing twice.
    await planRun({ exportId, runId }, undefined, { deadline: Date.now() });
    const after = await getRun(exportId, runId);
    expect(after).toMatchObject({ status: 'cancelled', finishedAt: ended.finishedAt, planned: false });
    expect(isTerminal(after.status)).toBe(true);
    expect(await take(planQueue()), 'no continuation queued').toEqual([]);
    expect(await take(chunkQueue()), 'no chunk queued').toEqual([]);
  }, 60_000);

  it('is left to its continuation by the recovery sweep, and a plan message the sweep sends again goes on from what was kept', async () => {
    const { exportId, runId } = await startedRun();
    await workPlanMessages(1);
    await workPlanMessages(1);
    const sweptFor = async (at: number) => (await recoverRuns(at)).actions.filter((action) => action.runId === runId);
    // Its last invocation wrote the run: the sweep waits the runtime's timeout and its patience.
    expect(await sweptFor(Date.now() + staleMs())).toEqual([]);
    expect(await sweptFor(Date.now() + functionTimeoutMs() + staleMs() + 10_000)).toMatchObject([{ action: 'replanned' }]);
    // The continuation and the sweep's message: both go on from the same progress.
    for (let rounds = 0; !(await getRun(exportId, runId)).planned; rounds++) {
      expect(rounds).toBeLessThan(40);
      await workPlanMessages(1);
    }
    // The other of the two, still queued when the plan was finished, does nothing.
    await workPlanMessages(1);
    const queued: ChunkMessage[] = [];
    for (let batch = await take<ChunkMessage>(chunkQueue()); batch.length > 0; batch = await take<ChunkMessage>(chunkQueue()))
      queued.push(...batch);
    const chunks = await listChunks(runId);
    expect(queued.map((message) => message.chunkId).sort(), 'each chunk message queued once').toEqual(
      chunks.map((chunk) => chunk.chunkId).sort(),
    );
    expect(await take(planQueue())).toEqual([]);
    await cancelRun(alice, exportId, runId);
  }, 60_000);

  it("queues each partition's chunks while the rest is read, and chunks that end before the last is cut do not end the run", async () => {
    const { exportId, runId, listId } = await startedRun();
    const queued: ChunkMessage[] = [];
    let sentWhilePlanning = 0;
    let endedBeforePlanned = 0;
    for (let rounds = 0; !(await getRun(exportId, runId)).planned; rounds++) {
      expect(rounds).toBeLessThan(60);
      await workPlanMessages(1);
      // The senders take up what is queued at once, while the plan goes on.
      // (The sweep below re-sends the messages of earlier tests' runs too: only this run's are counted.)
      const batch = await take<ChunkMessage>(chunkQueue());
      queued.push(...batch.filter((message) => message.runId === runId));
      for (const message of batch) await runChunk(message);
      const run = await getRun(exportId, runId);
      if (run.planned) break;
      sentWhilePlanning += batch.filter((message) => message.runId === runId).length;
      const chunks = await listChunks(runId);
      if (chunks.length > 0 && chunks.every((chunk) => chunk.status === 'done')) {
        endedBeforePlanned++;
        expect(run.status, 'every chunk recorded so far has ended, the plan has not').toBe('running');
        expect(run.finishedAt).toBeNull();
        if (endedBeforePlanned === 1) {
          // The recovery sweep, long after: it drives the plan on, and does not end the run either.
          const swept = await recoverRuns(Date.now() + functionTimeoutMs() + staleMs() + 10_000);
          expect(swept.actions.filter((action) => action.runId === runId)).toMatchObject([{ action: 'replanned' }]);
          expect((await getRun(exportId, runId)).status).toBe('running');
        }
      }
    }
    expect(sentWhilePlanning, 'chunks sent before the plan was finished').toBeGreaterThan(0);
    expect(endedBeforePlanned, 'times every chunk so far had ended mid-plan').toBeGreaterThan(0);
    for (let batch = await take<ChunkMessage>(chunkQueue()); batch.length > 0; batch = await take<ChunkMessage>(chunkQueue())) {
      queued.push(...batch.filter((message) => message.runId === runId));
      for (const message of batch) await runChunk(message);
    }
    const chunks = await listChunks(runId);
    expect(queued.map((message) => message.chunkId).sort(), 'each chunk message queued once').toEqual(
      chunks.map((chunk) => chunk.chunkId).sort(),
    );
    const ended = await getRun(exportId, runId);
    expect(ended).toMatchObject({ status: 'succeeded', chunksTotal: chunks.length });
    expect(ended.counts).toMatchObject({ members: PROFILES, sent: PROFILES, succeeded: PROFILES });
    const deliveries = [...(simulator.state.lists.get(listId)?.deliveries.values() ?? [])];
    expect(deliveries).toHaveLength(PROFILES);
    expect(deliveries.every((count) => count === 1)).toBe(true);
  }, 120_000);

  it('cancelled after its first chunks were sent: the chunks not ended end cancelled, the run once, counting what was sent', async () => {
    const { exportId, runId, listId } = await startedRun();
    let first: ChunkMessage[] = [];
    for (let rounds = 0; first.length === 0; rounds++) {
      expect(rounds).toBeLessThan(20);
      await workPlanMessages(1);
      first = await take<ChunkMessage>(chunkQueue());
    }
    // One chunk sent; the others queued and not yet taken up.
    await runChunk(first[0]!);
    expect((await getRun(exportId, runId)).planned).toBe(false);
    await cancelRun(alice, exportId, runId);
    // The plan's continuation finds the run cancelled: it queues the chunks not ended again.
    await workPlanMessages(1);
    const again = await take<ChunkMessage>(chunkQueue());
    for (const message of [...first.slice(1), ...again]) await runChunk(message);
    const ended = await getRun(exportId, runId);
    expect(ended.status).toBe('cancelled');
    const chunks = await listChunks(runId);
    expect(chunks.filter((chunk) => chunk.status === 'done')).toHaveLength(1);
    expect(chunks.filter((chunk) => chunk.status !== 'done').every((chunk) => chunk.status === 'cancelled')).toBe(true);
    const delivered = simulator.state.lists.get(listId)?.deliveries.size ?? 0;
    expect(delivered).toBeGreaterThan(0);
    expect(ended.counts.succeeded, 'the run counts what the first chunk sent').toBe(delivered);
    expect(ended.reason).toMatch(/^Cancelled/);
    // Messages delivered again later revive nothing and end nothing twice.
    await planRun({ exportId, runId }, undefined, { deadline: Date.now() });
    for (const message of first) await runChunk(message);
    expect(await getRun(exportId, runId)).toMatchObject({ status: 'cancelled', finishedAt: ended.finishedAt });
    expect(await take(planQueue())).toEqual([]);
    expect(await take(chunkQueue())).toEqual([]);
  }, 60_000);
});
