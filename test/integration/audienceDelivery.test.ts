// Delivery modes over the real local stack (Azurite, the Functions host, the Campaign Monitor
// simulator): a `changes` export sends everyone once, then only who joined; with removals, who
// left is unsubscribed; a fullResync sends everyone again; retryOf sends only retryable failures
// (records and chunks that failed whole) and moves the snapshot on for what it delivered; a
// segment swapped on a one-list export takes who is no longer in it off the list; a removal that
// costs two vendor calls (dotdigital) takes two tokens of the connection's rate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually } from '../support/apiClient.js';
import { segmentRows } from '../support/lakeRows.js';
import type { FinishedRun } from '../support/exportRuns.js';
import type { CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import type { DotdigitalSimulator } from '../../local/simulators/dotdigitalSimulator.js';
import { seedLake } from '../../local/demoData/seedLake.js';
import { listChunks, recordOutcomes } from '../../shared/runs/runLedger.js';
import { findRun } from '../../shared/runs/runStore.js';
import { sendQueueMessage } from '../../shared/storage/clients.js';
import { QUEUES } from '../../shared/storage/names.js';
import { RateBudget } from '../../shared/segmentSender/rateBudget.js';

const API_KEY = 'cm-changes-key-5d1e9a';
const PROFILES = 400;
const JOINED = 100;
const LIST = 'list-changes';
/** dotdigital's rate in this test: slow enough that a removal's two calls per token would show. */
const DOTDIGITAL_RATE = 5;

let stack: TestStack;
let simulator: CampaignMonitorSimulator;
let dotdigitalSimulator: DotdigitalSimulator;
let exportId: string;
let connectionId: string;

const FINAL = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];

async function run(body?: Record<string, unknown>, id = exportId): Promise<FinishedRun> {
  const started = await stack.api.post(`/exports/${id}/runs`, body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return ended(id, started.body.runId);
}

async function ended(id: string, runId: string): Promise<FinishedRun> {
  return eventually(
    async () => {
      const response = await stack.api.get(`/exports/${id}/runs/${runId}`);
      return FINAL.includes(response.body.status) ? response.body : undefined;
    },
    { timeoutMs: 90_000, what: 'the run to finish' },
  );
}

async function reseed(profiles: number): Promise<void> {
  const lake = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient('lake');
  // The stack seeds with seed 1: the same seed yields the same first rows, so only the tail differs.
  await seedLake({ containerClient: lake, profiles, kind: 'b2c', seed: 1, invalidEmailRate: 0 });
}

const emailsOf = async () =>
  (await segmentRows(stack.azurite.connectionString, 'All customers')).map((row) => row.Email!.trim().toLowerCase());
const deliveries = () => new Map(simulator.state.lists.get(LIST)!.deliveries);

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0,
    simulatorOptions: {
      CAMPAIGN_MONITOR_API_URL: { apiKeys: [API_KEY], rateLimit: { requestsPerSecond: 200, burst: 200 } },
      DOTDIGITAL_API_URL: { rateLimit: false, importDelayMs: 20 },
    },
    settings: {
      DESTINATION_RATE_LIMITS: JSON.stringify({
        'campaign-monitor': { requestsPerSecond: 200, burst: 200 },
        dotdigital: { requestsPerSecond: DOTDIGITAL_RATE, burst: 1 },
      }),
    },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'CAMPAIGN_MONITOR_API_URL')!.instance as CampaignMonitorSimulator;
  dotdigitalSimulator = stack.simulators.find((candidate) => candidate.setting === 'DOTDIGITAL_API_URL')!.instance as DotdigitalSimulator;
  process.env.AzureWebJobsStorage = stack.azurite.connectionString;
}, 180_000);

afterAll(async () => {
  if (process.env.OUTFLOW_TEST_LOG_FILE) (await import('node:fs')).writeFileSync(process.env.OUTFLOW_TEST_LOG_FILE, stack.logs.join('\n'));
  await stack?.stop();
});

describe('delivery modes on a segment export', { timeout: 120_000 }, () => {
  it('declares the capabilities and refuses what a destination lacks, naming it', async () => {
    const destinations = await stack.api.get('/destinations');
    const campaignMonitor = destinations.body.find((destination: { type: string }) => destination.type === 'campaign-monitor');
    expect(campaignMonitor.capabilities).toEqual({ changes: true, removals: true });
    const blob = destinations.body.find((destination: { type: string }) => destination.type === 'azure-blob');
    expect(blob.capabilities.removals).toBe(false);
  });

  it('creates a changes export with removals; GET shows its delivery', async () => {
    const connection = await stack.api.post('/connections', {
      name: 'CM',
      type: 'campaign-monitor',
      secrets: { apiKey: API_KEY },
      privacyConsent: true,
    });
    expect(connection.status).toBe(201);
    connectionId = connection.body.id;
    const segments = await stack.api.get('/segments');
    const all = segments.body.find((segment: { name: string }) => segment.name === 'All customers');
    const bad = await stack.api.post('/exports', {
      name: 'x',
      connectionId: connection.body.id,
      segments: [all.id],
      mapping: { email: 'Email' },
      details: { listId: LIST },
      delivery: { mode: 'sometimes' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((error: { path: string }) => error.path)).toContain('body.delivery.mode');
    const created = await stack.api.post('/exports', {
      name: 'Changes only',
      connectionId: connection.body.id,
      segments: [all.id],
      mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
      details: { listId: LIST },
      delivery: { mode: 'changes', removals: true },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.delivery).toEqual({ mode: 'changes', removals: true });
    exportId = created.body.id;
    expect((await stack.api.get(`/exports/${exportId}`)).body.delivery).toEqual({ mode: 'changes', removals: true });
  });

  it('sends everyone on the first run, then nothing when nothing changed', async () => {
    const first = await run();
    expect(first.status).toBe('succeeded');
    expect(first.counts).toMatchObject({ sent: PROFILES, succeeded: PROFILES, failed: 0, removed: 0 });
    expect(first.delivery.fullReason).toBe('first delivery');
    expect(simulator.inspectList(LIST)).toMatchObject({ deliveries: PROFILES, duplicates: 0 });

    const second = await run();
    expect(second.status).toBe('succeeded');
    expect(second.counts).toMatchObject({ sent: 0, succeeded: 0, removed: 0 });
    expect(second.delivery).toEqual({ fullReason: null, changes: { joined: 0, changed: 0, unchanged: PROFILES, left: 0 } });
    expect(simulator.inspectList(LIST)!.deliveries).toBe(PROFILES);
  });

  it(`re-seeded with ${JOINED} more profiles (same seed), sends exactly those ${JOINED}`, async () => {
    const before = deliveries();
    await reseed(PROFILES + JOINED);
    const joined = (await emailsOf()).slice(PROFILES);
    expect(joined).toHaveLength(JOINED);
    // The plan counts the same diff the run then makes, and stores nothing.
    const plan = await stack.api.post(`/exports/${exportId}/plan`);
    expect(plan.status).toBe(200);
    expect(plan.body.changes).toEqual({ added: JOINED, updated: 0, removed: 0, unchanged: PROFILES });
    // It timed its count, and the run that follows predicts its comparison from that count too.
    expect(plan.body.basis.countedSeconds).toBeGreaterThan(0);
    expect(plan.body.basis.diffSeconds).toBeCloseTo(plan.body.basis.countedSeconds * plan.body.basis.countedRatio, 0);
    const third = await run();
    expect(third.status).toBe('succeeded');
    expect(third.prediction.model).toMatchObject({ planningKind: 'changes', countedSeconds: plan.body.basis.countedSeconds });
    expect(third.counts).toMatchObject({ sent: JOINED, succeeded: JOINED, removed: 0 });
    expect(third.delivery.changes).toEqual({ joined: JOINED, changed: 0, unchanged: PROFILES, left: 0 });
    const after = deliveries();
    const delivered = [...after].filter(([email, count]) => count !== (before.get(email) ?? 0)).map(([email]) => email);
    expect(delivered.sort()).toEqual([...joined].sort());
  });

  it(`seeded back to ${PROFILES}, removes exactly those ${JOINED} at the destination`, async () => {
    const leaving = (await emailsOf()).slice(PROFILES);
    await reseed(PROFILES);
    const plan = await stack.api.post(`/exports/${exportId}/plan`);
    expect(plan.body.changes).toEqual({ added: 0, updated: 0, removed: JOINED, unchanged: PROFILES });
    const fourth = await run();
    expect(fourth.status).toBe('succeeded');
    expect(fourth.counts).toMatchObject({ sent: 0, removed: JOINED, failed: 0 });
    const subscribers = simulator.state.lists.get(LIST)!.subscribers;
    const unsubscribed = [...subscribers.values()]
      .filter((subscriber) => subscriber.State === 'Unsubscribed')
      .map((subscriber) => subscriber.EmailAddress.toLowerCase());
    expect(unsubscribed.sort()).toEqual([...leaving].sort());
    // Nothing left to remove next time.
    const fifth = await run();
    expect(fifth.counts).toMatchObject({ sent: 0, removed: 0 });
  });

  it('delivers on the next changes run the members the destination did not take', async () => {
    const emails = await emailsOf();
    const refused = emails.slice(10, 15);
    // The list holds five of them as bounced: the import reports each as a failure (Code 207).
    for (const email of refused) simulator.seedSubscriber(LIST, { email, state: 'Bounced' });
    // A changed mapping makes this run a full one by itself.
    const patched = await stack.api.patch(`/exports/${exportId}`, { mapping: { email: 'Email', firstName: 'FirstName' } });
    expect(patched.status).toBe(200);
    const partial = await run();
    expect(partial.status).toBe('partiallySucceeded');
    expect(partial.delivery.fullReason).toBe('the segments, mapping or destination details changed');
    expect(partial.counts).toMatchObject({ sent: PROFILES, succeeded: PROFILES - refused.length });
    expect(partial.counts.failed + partial.counts.skipped).toBe(refused.length);
    // Each failed record names the profile's key and its source row, in JSON and in CSV.
    const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
    const records = await stack.api.get(`/exports/${exportId}/runs/${partial.id}/records?top=50`);
    expect(records.status).toBe(200);
    expect(records.body.items.map((record: { key: string }) => record.key).sort()).toEqual(
      rows
        .slice(10, 15)
        .map((row) => row.CustomerId)
        .sort(),
    );
    for (const record of records.body.items) {
      expect(record).toMatchObject({ operation: 'send', partition: expect.stringMatching(/\.csv$/), position: expect.any(Number) });
    }
    const csv = await stack.api.get(`/exports/${exportId}/runs/${partial.id}/records?top=50`, { accept: 'text/csv' });
    expect(csv.text.split('\n')[0]).toContain('key');
    expect(csv.text).toContain(rows[10]!.CustomerId!);

    // The vendor side is fixed; the next changes run sends exactly the five it did not take.
    for (const email of refused) simulator.seedSubscriber(LIST, { email, state: 'Active' });
    const before = deliveries();
    const next = await run();
    expect(next.status).toBe('succeeded');
    expect(next.counts).toMatchObject({ sent: refused.length, succeeded: refused.length, failed: 0 });
    const after = deliveries();
    const delivered = [...after].filter(([email, count]) => count !== (before.get(email) ?? 0)).map(([email]) => email);
    expect(delivered.sort()).toEqual([...refused].sort());
  });

  it('fullResync sends everyone again', async () => {
    const resync = await run({ fullResync: true });
    expect(resync.status).toBe('succeeded');
    expect(resync.delivery.fullReason).toBe('full resync asked');
    expect(resync.counts).toMatchObject({ sent: PROFILES, succeeded: PROFILES });
  });

  it('retryOf sends again exactly the retryable failures of the named run, with current values', async () => {
    const last = (await stack.api.get(`/exports/${exportId}/runs`)).body.items[0];
    const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
    const failure = (
      row: Record<string, string>,
      index: number,
      category: 'vendorUnavailable' | 'rateLimited' | 'network' | 'invalidRecord',
    ) => ({
      chunkId: 'c999999',
      offset: index,
      segmentId: 'x',
      key: row.CustomerId!,
      email: row.Email!.toLowerCase(),
      status: 'failed' as const,
      category,
      code: category === 'invalidRecord' ? '1' : '500',
      message: 'recorded by the test',
    });
    // What a vendor outage, throttling and a timeout leave behind, beside two rejected records.
    await recordOutcomes(last.id, [
      failure(rows[0]!, 0, 'vendorUnavailable'),
      failure(rows[1]!, 1, 'rateLimited'),
      failure(rows[2]!, 2, 'network'),
      failure(rows[3]!, 3, 'invalidRecord'),
      failure(rows[4]!, 4, 'invalidRecord'),
    ]);
    const before = deliveries();
    const retry = await run({ retryOf: last.id });
    expect(retry.status).toBe('succeeded');
    expect(retry.trigger).toBe('retry');
    expect(retry.retryOf).toBe(last.id);
    expect(retry.counts).toMatchObject({ sent: 3, succeeded: 3 });
    const after = deliveries();
    const delivered = [...after].filter(([email, count]) => count !== (before.get(email) ?? 0)).map(([email]) => email);
    expect(delivered.sort()).toEqual(
      rows
        .slice(0, 3)
        .map((row) => row.Email!.toLowerCase())
        .sort(),
    );

    const unknown = await stack.api.post(`/exports/${exportId}/runs`, { retryOf: '8236019958123-1a2b3c4d' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors.map((error: { path: string }) => error.path)).toContain('body.retryOf');
  });
  it('retryOf also sends the members of a chunk that failed whole for a retryable reason; the next changes run does not send them again', async () => {
    const joined = 20;
    await reseed(PROFILES + joined);
    const joinedEmails = (await emailsOf()).slice(PROFILES);
    // They were unsubscribed when they left before: subscribed again on the vendor's side.
    for (const email of joinedEmails) simulator.seedSubscriber(LIST, { email, state: 'Active' });
    // Throttling that outlasts the run: the connection's shared rate is drained for two minutes,
    // so the chunk waits in the queue, and the queue gives up on it (its message lands in the
    // poison queue, whose function ends the chunk) before anything was sent: no batch, so no
    // record outcome from the sender.
    const budget = new RateBudget(connectionId, { requestsPerSecond: 200, burst: 200 });
    await budget.penalize(120_000);
    const started = await stack.api.post(`/exports/${exportId}/runs`);
    expect(started.status).toBe(202);
    // Chunks are queued partition by partition while the planner reads: poison them only once the
    // run is planned, or a chunk recorded later would wait out the drained rate instead.
    const chunks = await eventually(
      async () => {
        const planned = await findRun(exportId, started.body.runId);
        if (!planned?.planned) return undefined;
        const listed = await listChunks(started.body.runId);
        return listed.length === planned.chunksTotal ? listed : undefined;
      },
      { timeoutMs: 60_000, what: 'the run to be planned' },
    );
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks)
      await sendQueueMessage(`${QUEUES.exportChunks}-poison`, { exportId, runId: started.body.runId, chunkId: chunk.chunkId });
    // The rate comes back only once the poison queue's function has ended every chunk: sooner, a
    // sender could take a chunk up and send it first.
    let seen = '';
    await eventually(
      async () => {
        const listed = await listChunks(started.body.runId);
        seen = JSON.stringify(listed.map(({ chunkId, status, reason, leaseUntil }) => ({ chunkId, status, reason, leaseUntil })));
        return listed.every((chunk) => chunk.status === 'failed') ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'the poisoned chunks to be ended' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the chunks: ${seen}`);
    });
    await budget.penalize(0);
    const failed = await ended(exportId, started.body.runId);
    expect(failed.status).toBe('failed');
    expect(failed.counts.succeeded).toBe(0);
    // Each member of the chunk is counted and listed as not delivered, with the chunk's reason.
    expect(failed.counts.failed).toBe(joined);
    const records = await stack.api.get(`/exports/${exportId}/runs/${failed.id}/records?top=50`);
    expect(records.body.items).toHaveLength(joined);
    expect(new Set(records.body.items.map((record: { code: string }) => record.code))).toEqual(new Set(['chunkFailed']));
    expect(records.body.items.map((record: { email: string }) => record.email).sort()).toEqual([...joinedEmails].sort());

    const before = deliveries();
    const retry = await run({ retryOf: failed.id });
    expect(retry.status, JSON.stringify(retry)).toBe('succeeded');
    expect(retry.counts).toMatchObject({ sent: joined, succeeded: joined });
    const after = deliveries();
    const sent = [...after].filter(([email, count]) => count !== (before.get(email) ?? 0)).map(([email]) => email);
    expect(sent.sort()).toEqual([...joinedEmails].sort());

    // The retry moved the snapshot on for exactly what the destination took: nothing to send now.
    const next = await run();
    expect(next.status).toBe('succeeded');
    expect(next.delivery.changes).toEqual({ joined: 0, changed: 0, unchanged: PROFILES + joined, left: 0 });
    expect(next.counts).toMatchObject({ sent: 0, removed: 0 });
  });

  it('a one-list export whose segment is swapped takes who is no longer in it off the list', async () => {
    const segments = (await stack.api.get('/segments')).body as { id: string; name: string }[];
    const all = segments.find((segment) => segment.name === 'All customers')!;
    const loyal = segments.find((segment) => segment.name === 'Loyal members')!;
    const created = await stack.api.post('/exports', {
      name: 'Swapped segment',
      connectionId,
      segments: [all.id],
      mapping: { email: 'Email' },
      details: { listId: 'list-swapped' },
      delivery: { mode: 'changes', removals: true },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const everyone = await emailsOf();
    const first = await run(undefined, created.body.id);
    expect(first.counts).toMatchObject({ sent: everyone.length, succeeded: everyone.length });
    const loyalEmails = (await segmentRows(stack.azurite.connectionString, 'Loyal members')).map((row) => row.Email!.trim().toLowerCase());
    expect(loyalEmails.length).toBeGreaterThan(0);
    expect((await stack.api.patch(`/exports/${created.body.id}`, { segments: [loyal.id] })).status).toBe(200);
    const swapped = await run(undefined, created.body.id);
    expect(swapped.status).toBe('succeeded');
    expect(swapped.counts).toMatchObject({ sent: loyalEmails.length, removed: everyone.length - loyalEmails.length, failed: 0 });
    const unsubscribed = [...simulator.state.lists.get('list-swapped')!.subscribers.values()]
      .filter((subscriber) => subscriber.State === 'Unsubscribed')
      .map((subscriber) => subscriber.EmailAddress.toLowerCase());
    const loyalSet = new Set(loyalEmails);
    expect(unsubscribed.sort()).toEqual(everyone.filter((email) => !loyalSet.has(email)).sort());
  });

  it('a dotdigital removal (a look-up and a delete) takes two tokens of the rate, and the plan counts both calls', async () => {
    const connection = await stack.api.post('/connections', {
      name: 'dotdigital',
      type: 'dotdigital',
      secrets: { username: 'apiuser-removals@apiconnector.com', password: 'dd-removals-secret' },
      privacyConsent: true,
    });
    expect(connection.status, JSON.stringify(connection.body)).toBe(201);
    const all = ((await stack.api.get('/segments')).body as { id: string; name: string }[]).find(
      (segment) => segment.name === 'All customers',
    )!;
    const created = await stack.api.post('/exports', {
      name: 'dotdigital removals',
      connectionId: connection.body.id,
      segments: [all.id],
      mapping: { email: 'Email' },
      details: { addressBookId: 4242 },
      delivery: { mode: 'changes', removals: true },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const everyone = await emailsOf();
    const first = await run(undefined, created.body.id);
    expect(first.counts).toMatchObject({ sent: everyone.length, succeeded: everyone.length });
    const leaving = everyone.slice(PROFILES);
    expect(leaving.length).toBe(20);
    await reseed(PROFILES);
    const plan = await stack.api.post(`/exports/${created.body.id}/plan`);
    expect(plan.body.changes).toMatchObject({ removed: leaving.length });
    expect(plan.body.calls).toBe(2 * leaving.length);

    const routes = dotdigitalSimulator.state.counters.byRoute;
    const removalCalls = () =>
      (routes['GET /v2/contacts/{email}'] ?? 0) + (routes['DELETE /v2/address-books/{addressBookId}/contacts/{contactId}'] ?? 0);
    const callTimes: number[] = [];
    let counted = removalCalls();
    const sampler = setInterval(() => {
      const now = removalCalls();
      for (; counted < now; counted++) callTimes.push(Date.now());
    }, 10);
    let removal: FinishedRun;
    try {
      removal = await run(undefined, created.body.id);
    } finally {
      clearInterval(sampler);
    }
    expect(removal.status).toBe('succeeded');
    expect(removal.counts).toMatchObject({ sent: 0, removed: leaving.length, failed: 0 });
    expect(callTimes).toHaveLength(2 * leaving.length);
    // 40 tokens at 5/s with a burst of 1 take at least 7.8 s; one token per removal took half that.
    const spanSeconds = (callTimes.at(-1)! - callTimes[0]!) / 1000;
    expect(spanSeconds).toBeGreaterThanOrEqual(((2 * leaving.length - 2) / DOTDIGITAL_RATE) * 0.85);
    const book = [...dotdigitalSimulator.state.addressBooks.get(4242)!.members];
    expect(book.filter((email) => leaving.includes(email))).toEqual([]);
    expect(book).toHaveLength(PROFILES);
  });
});
