// The sender inside the runtime's rules, over real Azurite, the Key Vault emulator and the Campaign
// Monitor simulator: an invocation past its time budget acknowledges what it sent and queues its
// own continuation; a slow rate is waited out in the queue, not in an invocation; a chunk that finds
// every sender slot of its connection taken goes back to the queue; a continuation and a
// re-delivered message never both send; rows the planner marked as repeating an email are skipped.
// A sender hands on before a batch that would outlast its budget, and does not wait past its
// budget for a call slot of its connection.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../local/keyVaultEmulator.js';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { sendChunk } from '../../shared/segmentSender/sendChunk.js';
import { sendChunkMessageSchema } from '../../shared/segmentSender/planSegments.js';
import { claimSenderSlot, sendersFor, slotRetrySeconds, SLOT_RETRY_MAX_SECONDS } from '../../shared/segmentSender/senderSlots.js';
import { ConcurrencyBudget } from '../../shared/segmentSender/concurrencyBudget.js';
import { invocationBudgetMs } from '../../shared/runs/invocationBudget.js';
import { findDuplicateRows, saveChunkDuplicates } from '../../shared/segmentSender/duplicateMembers.js';
import { chunkIdFor, getChunk, recordPlannedChunks } from '../../shared/runs/runLedger.js';
import { getRun, insertRun, newRunId } from '../../shared/runs/runStore.js';
import { listRecordOutcomes } from '../../shared/runs/runLedger.js';
import { ZERO_COUNTS } from '../../shared/runs/run.js';
import type { SendChunkMessage as ChunkMessage } from '../../shared/segmentSender/planSegments.js';
import { QUEUES } from '../../shared/storage/names.js';
import { insertCampaignMonitorExport } from '../support/campaignMonitorExport.js';

let azurite: RunningAzurite;
let keyVault: KeyVaultEmulator;
let simulator: CampaignMonitorSimulator;
const saved = { ...process.env };
const ENV = [
  'AzureWebJobsStorage',
  'KEY_VAULT_URL',
  'KEY_VAULT_LOCAL_TOKEN',
  'CAMPAIGN_MONITOR_API_URL',
  'DESTINATION_RATE_LIMITS',
  'AzureFunctionsJobHost__functionTimeout',
];

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
    // The simulator takes any rate; each test lowers it on its connection.
    DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 1000, burst: 100 } }),
  });
});

afterEach(async () => {
  simulator.setFaults({});
  delete process.env.AzureFunctionsJobHost__functionTimeout;
  await chunkQueue()
    .clearMessages()
    .catch(() => undefined);
});

afterAll(async () => {
  for (const name of ENV) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await simulator?.stop();
  await keyVault?.stop();
  await azurite?.stop();
});

const chunkQueue = () => new QueueClient(azurite.connectionString, QUEUES.exportChunks);

/** Members `first`…: one CSV row each (Email, FirstName); `repeat` adds rows repeating earlier emails. */
function csvOf(members: number, repeat: { at: number; of: number }[] = []): string {
  const rows: string[] = [];
  for (let index = 0; index < members; index++) {
    rows.push(`member${index}@example.com,Name${index}`);
    for (const { at, of } of repeat) if (at === index) rows.push(`  MEMBER${of}@Example.com ,Again${of}`);
  }
  return `${rows.join('\n')}\n`;
}

/** A connection, an export and a planned run of one chunk covering a CSV in the lake. */
async function plannedRun(options: { csv: string; requestsPerSecond?: number; duplicates?: number[] }) {
  const now = new Date().toISOString();
  const { record: exportRecord, listId } = await insertCampaignMonitorExport({
    name: 'Sender',
    segmentId: 'Segment_X',
    requestsPerSecond: options.requestsPerSecond,
  });
  const lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
  await lake.createIfNotExists();
  const blobName = `sender-test/${randomUUID()}.csv`;
  const uploaded = await lake.getBlockBlobClient(blobName).upload(options.csv, Buffer.byteLength(options.csv));
  const run = await insertRun({
    id: newRunId(),
    exportId: exportRecord.id,
    trigger: 'manual',
    status: 'running',
    reason: null,
    requestedBy: { id: 'alice', name: 'Alice' },
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    counts: ZERO_COUNTS,
    planned: true,
    chunksTotal: 1,
    segments: [
      {
        segmentId: 'Segment_X',
        segmentName: 'X',
        type: 'Profile',
        entity: 'Segment_X',
        attributes: ['Email', 'FirstName'],
        memberCount: 1,
      },
    ],
    preparedDetails: null,
    cancelRequested: false,
    waitingFor: null,
    tasks: [
      { name: 'plan', status: 'succeeded', startedAt: now, finishedAt: now },
      { name: 'send', status: 'running', startedAt: now, finishedAt: null },
      { name: 'finalize', status: 'pending', startedAt: null, finishedAt: null },
    ],
    etag: '',
  });
  const chunkId = chunkIdFor(0);
  if (options.duplicates?.length) await saveChunkDuplicates(run.id, chunkId, options.duplicates);
  await recordPlannedChunks(run.id, [
    {
      chunkId,
      step: 'send',
      segmentId: 'Segment_X',
      container: 'lake',
      blobName,
      blobEtag: uploaded.etag!,
      start: 0,
      end: Buffer.byteLength(options.csv),
      delimiter: ',',
      columnHeaders: false,
      duplicates: options.duplicates?.length ?? 0,
    },
  ]);
  const message: ChunkMessage = { exportId: exportRecord.id, runId: run.id, chunkId };
  return { connectionId: exportRecord.connectionId!, listId, blobName, message };
}

/** Takes every visible chunk message off the queue. */
async function takeMessages(): Promise<ChunkMessage[]> {
  await chunkQueue().createIfNotExists();
  const { receivedMessageItems } = await chunkQueue().receiveMessages({ numberOfMessages: 32, visibilityTimeout: 1 });
  for (const item of receivedMessageItems) await chunkQueue().deleteMessage(item.messageId, item.popReceipt);
  return receivedMessageItems.map((item) => JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as ChunkMessage);
}

async function queuedMessages(): Promise<number> {
  await chunkQueue().createIfNotExists();
  return (await chunkQueue().getProperties()).approximateMessagesCount ?? 0;
}

async function timed(work: Promise<void>): Promise<number> {
  const started = Date.now();
  await work;
  return Date.now() - started;
}

describe("a sender inside the runtime's rules", () => {
  it('past its time budget acknowledges what it sent and queues its continuation, which ends the chunk with every member sent once', async () => {
    // functionTimeout 5 s: the budget is 2 s; each vendor call takes 0.4 s, 8 of them 3.2 s.
    process.env.AzureFunctionsJobHost__functionTimeout = '00:00:05';
    simulator.setFaults({ latencyMs: 400 });
    const { message, listId } = await plannedRun({ csv: csvOf(8_000) });

    const first = await timed(sendChunk(message));
    expect(first, 'the first invocation stays well under functionTimeout').toBeLessThan(5_000);
    const handedOn = (await getChunk(message.runId, message.chunkId))!;
    expect(handedOn.status).toBe('sending');
    expect(handedOn.leaseUntil, 'the lease is released for the continuation').toBe(0);
    expect(handedOn.counts.sent).toBeGreaterThan(0);
    expect(handedOn.counts.sent).toBeLessThan(8_000);
    let pending = await takeMessages();
    expect(pending).toEqual([message]);

    let invocations = 1;
    while (pending.length > 0 && invocations < 20) {
      for (const next of pending) {
        expect(await timed(sendChunk(next))).toBeLessThan(5_000);
        invocations++;
      }
      pending = await takeMessages();
    }
    // At least one continuation (how many depends on the machine's speed: 3.2 s of calls, 2 s a budget).
    expect(invocations).toBeGreaterThan(1);
    const chunk = (await getChunk(message.runId, message.chunkId))!;
    expect(chunk.reason).toBe('');
    expect(chunk.status).toBe('done');
    expect(chunk.counts).toMatchObject({ members: 8_000, sent: 8_000, succeeded: 8_000 });
    expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 8_000, duplicates: 0 });
    expect((await getRun(message.exportId, message.runId)).status).toBe('succeeded');
  });

  it('acknowledges quick calls two at a time once the first call proved quick; the ledger never runs ahead of the vendor', async () => {
    // The default budget (minutes): 100 ms calls are quick. Calls of 1,000: the first batch holds
    // one call, then two: acknowledged after 1,000, 3,000, 5,000 members (not after 2,000 or 4,000).
    simulator.setFaults({ latencyMs: 100 });
    const { message, listId } = await plannedRun({ csv: csvOf(5_000) });
    const seen = new Set<number>();
    let sending = true;
    const watching = (async () => {
      for (let polls = 0; sending && polls < 2_000; polls++) {
        const chunk = await getChunk(message.runId, message.chunkId);
        seen.add(chunk!.counts.sent);
        // The ledger's count never passes what the vendor took.
        expect(chunk!.counts.sent).toBeLessThanOrEqual(simulator.inspectList(listId)?.deliveries ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await sendChunk(message);
    sending = false;
    await watching;
    const chunk = (await getChunk(message.runId, message.chunkId))!;
    expect(chunk).toMatchObject({ status: 'done', counts: expect.objectContaining({ sent: 5_000, succeeded: 5_000 }) });
    expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 5_000, duplicates: 0 });
    expect([...seen].filter((sent) => sent % 1_000 === 0 && sent > 0 && sent < 5_000).sort()).toEqual([1_000, 3_000]);
  });

  it('acknowledges the calls a batch sent before it had to hand on, so its continuation sends only the rest', async () => {
    // Tokens for two calls, then one every 5 s: the first call proves quick, the next batch holds
    // two calls, and the second of them would wait past what an invocation waits for the rate.
    const rates = process.env.DESTINATION_RATE_LIMITS;
    process.env.DESTINATION_RATE_LIMITS = JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 0.2, burst: 2 } });
    try {
      // A row no call takes, read in the third call's stretch: counted once, when that stretch is sent.
      const rows = csvOf(3_000).trimEnd().split('\n');
      rows.splice(2_500, 0, 'not an email,Bad');
      const { message, listId } = await plannedRun({ csv: `${rows.join('\n')}\n` });
      await sendChunk(message);
      const handedOn = (await getChunk(message.runId, message.chunkId))!;
      expect(handedOn).toMatchObject({ status: 'sending', leaseUntil: 0 });
      expect(handedOn.counts).toMatchObject({ members: 2_000, sent: 2_000, succeeded: 2_000, skipped: 0 });
      expect((await listRecordOutcomes(message.runId, { top: 10 })).records).toHaveLength(0);
      expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 2_000, duplicates: 0 });
      let pending: ChunkMessage[] = [];
      for (let polls = 0; polls < 40 && pending.length === 0; polls++) {
        pending = await takeMessages();
        if (pending.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(pending).toHaveLength(1);
      await sendChunk(pending[0]!);
      const chunk = (await getChunk(message.runId, message.chunkId))!;
      expect(chunk).toMatchObject({
        status: 'done',
        counts: expect.objectContaining({ members: 3_001, sent: 3_000, succeeded: 3_000, skipped: 1 }),
      });
      expect((await listRecordOutcomes(message.runId, { top: 10 })).records.map((record) => record.code)).toEqual(['invalidEmail']);
      expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 3_000, duplicates: 0 });
    } finally {
      process.env.DESTINATION_RATE_LIMITS = rates;
    }
  }, 30_000);

  it('does not sleep on a slow rate: at 0.1 request/s it sends what the rate allows and goes back to the queue for the rest', async () => {
    const { message, listId } = await plannedRun({ csv: csvOf(3_000), requestsPerSecond: 0.1 });
    const took = await timed(sendChunk(message));
    expect(took, 'no invocation waits ten seconds for the next token').toBeLessThan(5_000);
    expect(simulator.inspectList(listId)?.deliveries).toBe(1_000);
    const chunk = (await getChunk(message.runId, message.chunkId))!;
    expect(chunk).toMatchObject({ status: 'sending', leaseUntil: 0 });
    expect(chunk.counts.sent).toBe(1_000);
    // Its continuation waits, invisible, for about as long as the rate needs.
    expect(await queuedMessages()).toBe(1);
    expect(await takeMessages()).toEqual([]);
  });

  it('sizes the senders of a connection from its rate, and a chunk that finds every slot taken waits in the queue', async () => {
    expect(sendersFor({ requestsPerSecond: 2, burst: 4 })).toBe(3);
    expect(sendersFor({ requestsPerSecond: 0.1, burst: 1 })).toBe(2);
    expect(sendersFor({ requestsPerSecond: Infinity, burst: 1 })).toBeUndefined();
    // The calls a connection allows in flight bound its senders too (two per call).
    expect(sendersFor({ requestsPerSecond: Infinity, burst: 1 }, 4)).toBe(8);
    expect(sendersFor({ requestsPerSecond: 2, burst: 4 }, 4)).toBe(3);
    const { message, connectionId, listId } = await plannedRun({ csv: csvOf(2_000), requestsPerSecond: 2 });
    const rate = { requestsPerSecond: 2, burst: 2 };
    const others = await Promise.all([1, 2, 3].map(() => claimSenderSlot(connectionId, rate)));
    expect(others.every(Boolean)).toBe(true);

    expect(await timed(sendChunk(message))).toBeLessThan(2_000);
    expect((await getChunk(message.runId, message.chunkId))!.status).toBe('pending');
    expect(simulator.inspectList(listId)).toBeUndefined();
    expect(await queuedMessages()).toBe(1);
    // Back after 1-2 s, counting the miss: each miss in a row waits twice as long (the rate binds), up to a cap.
    let missed: ChunkMessage[] = [];
    for (let look = 0; look < 20 && missed.length === 0; look++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      missed = await takeMessages();
    }
    expect(missed).toEqual([{ ...message, slotMisses: 1 }]);
    // The function's message schema keeps the count (it once dropped it, and every miss waited 1-3 s).
    expect(sendChunkMessageSchema.parse(missed[0])).toEqual({ ...message, slotMisses: 1 });
    for (const [misses, least, most] of [
      [1, 1, 2],
      [2, 2, 4],
      [3, 4, 8],
      [9, SLOT_RETRY_MAX_SECONDS, 2 * SLOT_RETRY_MAX_SECONDS],
    ])
      for (let draw = 0; draw < 20; draw++) {
        const seconds = slotRetrySeconds(misses!, rate);
        expect(seconds).toBeGreaterThanOrEqual(least!);
        expect(seconds).toBeLessThanOrEqual(most!);
        // With no rate to bind, slots free every moment: a waiting chunk keeps looking soon.
        expect(slotRetrySeconds(misses!, { requestsPerSecond: Infinity, burst: 1 })).toBeLessThanOrEqual(2);
      }

    await others[0]!.release();
    await sendChunk(message);
    expect(simulator.inspectList(listId)?.deliveries).toBeGreaterThan(0);
  });

  it("bounds a connection's senders by the calls it allows in flight, whatever its rate", async () => {
    // Campaign Monitor allows 4 calls in flight: 8 senders, and the 9th chunk waits in the queue.
    const { message, connectionId, listId } = await plannedRun({ csv: csvOf(2_000) });
    const unlimited = { requestsPerSecond: Infinity, burst: 1 };
    const others = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => claimSenderSlot(connectionId, unlimited, 4)));
    expect(others.every(Boolean)).toBe(true);
    await sendChunk(message);
    expect((await getChunk(message.runId, message.chunkId))!.status).toBe('pending');
    expect(simulator.inspectList(listId)).toBeUndefined();
    expect(await queuedMessages()).toBe(1);
    await Promise.all(others.map((slot) => slot!.release()));
  });

  it('hands on before a batch that would not end inside its budget, not only once the budget is spent', async () => {
    // functionTimeout 5 s: the budget is 2 s. Each call takes 1.2 s: after the first batch (about
    // 1.3 s) a second one would end past the budget, so the first invocation sends one batch.
    process.env.AzureFunctionsJobHost__functionTimeout = '00:00:05';
    expect(invocationBudgetMs()).toBe(2_000);
    simulator.setFaults({ latencyMs: 1_200 });
    const { message, listId } = await plannedRun({ csv: csvOf(3_000) });
    await sendChunk(message);
    const handedOn = (await getChunk(message.runId, message.chunkId))!;
    expect(handedOn).toMatchObject({ status: 'sending', leaseUntil: 0 });
    expect(handedOn.counts.sent, 'one batch, not a second one begun inside the budget and ended past it').toBe(1_000);
    let pending = await takeMessages();
    expect(pending).toEqual([message]);
    for (let round = 0; round < 10 && pending.length > 0; round++) {
      for (const next of pending) await sendChunk(next);
      pending = await takeMessages();
    }
    expect((await getChunk(message.runId, message.chunkId))!).toMatchObject({ reason: '', status: 'done', counts: { sent: 3_000 } });
    expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 3_000, duplicates: 0 });
  });

  it('does not wait past its budget for a call slot: with every slot of the connection held elsewhere, it goes back to the queue', async () => {
    process.env.AzureFunctionsJobHost__functionTimeout = '00:00:05';
    const { message, connectionId, listId } = await plannedRun({ csv: csvOf(2_000) });
    // Campaign Monitor's 4 calls in flight, all held by other processes (their leases last 30 s).
    const calls = new ConcurrencyBudget(connectionId, 4);
    const held = await Promise.all([1, 2, 3, 4].map((index) => calls.tryAcquire(`elsewhere-${index}`)));
    expect(held.every((slot) => slot !== undefined)).toBe(true);

    const took = await timed(sendChunk(message));
    expect(took, 'no invocation waits on call slots toward functionTimeout').toBeLessThan(5_000);
    const handedOn = (await getChunk(message.runId, message.chunkId))!;
    expect(handedOn).toMatchObject({ status: 'sending', leaseUntil: 0 });
    expect(handedOn.counts.sent).toBe(0);
    expect(simulator.inspectList(listId)).toBeUndefined();

    await Promise.all(held.map((slot, index) => calls.release(slot!, `elsewhere-${index + 1}`)));
    let pending: ChunkMessage[] = [];
    for (let round = 0; round < 20 && (await getChunk(message.runId, message.chunkId))!.status !== 'done'; round++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      pending = await takeMessages();
      for (const next of pending) await sendChunk(next);
    }
    expect((await getChunk(message.runId, message.chunkId))!).toMatchObject({ reason: '', status: 'done' });
    expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 2_000, duplicates: 0 });
  });

  it('never sends a batch twice when a continuation and a re-delivered message arrive together', async () => {
    simulator.setFaults({ latencyMs: 100 });
    const { message, listId } = await plannedRun({ csv: csvOf(5_000) });
    await Promise.all([sendChunk(message), sendChunk(message), sendChunk({ ...message })]);
    for (let round = 0; round < 20 && (await getChunk(message.runId, message.chunkId))!.status !== 'done'; round++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const next of await takeMessages()) await sendChunk(next);
    }
    expect((await getChunk(message.runId, message.chunkId))!).toMatchObject({ reason: '', status: 'done' });
    expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 5_000, duplicates: 0 });
  });
});

describe('a member whose email is on two rows of one segment', () => {
  it('is found by the planner across partitions, whatever its case and spaces, and only the later rows are marked', async () => {
    const lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
    await lake.createIfNotExists();
    const first = csvOf(50, [{ at: 10, of: 3 }]);
    const second = 'member7@example.com,Seven\nsomeone@example.com,Else\nMEMBER3@example.com,Third\n';
    const blobs = [];
    for (const [name, csv] of [
      ['dup-a.csv', first],
      ['dup-b.csv', second],
    ] as const) {
      const uploaded = await lake.getBlockBlobClient(name).upload(csv, Buffer.byteLength(csv));
      blobs.push({ blobName: name, size: Buffer.byteLength(csv), etag: uploaded.etag!, format: { delimiter: ',', columnHeaders: false } });
    }
    const duplicates = await findDuplicateRows(lake, blobs as never, 0);
    const offsetOfRow = (csv: string, row: number) => csv.split('\n').slice(0, row).join('\n').length + (row > 0 ? 1 : 0);
    expect(duplicates.get('dup-a.csv')).toEqual([offsetOfRow(first, 11)]);
    expect(duplicates.get('dup-b.csv')).toEqual([0, offsetOfRow(second, 2)]);
    expect(await findDuplicateRows(lake, [blobs[1]!] as never, 0)).toEqual(new Map());
  });

  it('is sent once; the repeated row is skipped as a duplicate, also when it is read by another invocation', async () => {
    process.env.AzureFunctionsJobHost__functionTimeout = '00:00:03';
    simulator.setFaults({ latencyMs: 400 });
    const csv = csvOf(4_000, [{ at: 3_500, of: 2 }]);
    const repeatedAt = csv.indexOf('  MEMBER2@');
    const { message, listId } = await plannedRun({ csv, duplicates: [repeatedAt] });
    let pending: ChunkMessage[] = [message];
    for (let round = 0; round < 20 && pending.length > 0; round++) {
      for (const next of pending) await sendChunk(next);
      pending = await takeMessages();
    }
    const chunk = (await getChunk(message.runId, message.chunkId))!;
    expect(chunk.reason).toBe('');
    expect(chunk).toMatchObject({ status: 'done', counts: { members: 4_001, sent: 4_000, succeeded: 4_000, skipped: 1 } });
    expect(simulator.inspectList(listId)).toMatchObject({ deliveries: 4_000, duplicates: 0 });
    const records = await listRecordOutcomes(message.runId, { top: 10 });
    expect(records.records).toEqual([expect.objectContaining({ email: 'member2@example.com', status: 'skipped', code: 'duplicateEmail' })]);
  });
});
