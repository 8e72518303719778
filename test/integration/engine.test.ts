// The export engine over the real local stack: exactly-once delivery under faults, several
// segments to one list, per-record outcomes, cancel, the member limit and a crashed worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually } from '../support/apiClient.js';
import { segmentRows } from '../support/lakeRows.js';
import { seedLake } from '../../local/demoData/seedLake.js';
import type { CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';

const PROFILES = 100_000;
const TERMINAL = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];
const mapping = { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' };

let stack: TestStack;
let simulator: CampaignMonitorSimulator;
let connectionId: string;

async function createExport(name: string, segments: string[], listId: string, connection = connectionId): Promise<string> {
  const response = await stack.api.post('/exports', { name, connectionId: connection, segments, mapping, details: { listId } });
  expect(response.status, response.text).toBe(201);
  return response.body.id;
}

async function runToEnd(exportId: string, timeoutMs = 90_000): Promise<any> {
  const started = await stack.api.post(`/exports/${exportId}/runs`);
  expect(started.status, started.text).toBe(202);
  return waitForRun(exportId, started.body.runId, timeoutMs);
}

async function waitForRun(exportId: string, runId: string, timeoutMs = 90_000): Promise<any> {
  return eventually(
    async () => {
      const response = await stack.api.get(`/exports/${exportId}/runs/${runId}`);
      return TERMINAL.includes(response.body.status) ? response.body : undefined;
    },
    { timeoutMs, what: `run ${runId} to end` },
  );
}

const normalized = (email: string | undefined) => (email ?? '').trim().toLowerCase();

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: { requestsPerSecond: 400, burst: 50 } } },
    // Messages of a killed host come back after 10 s instead of 60 s.
    settings: {
      DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 300, burst: 30 } }),
      OUTFLOW_QUEUE_LEASE_SECONDS: '10',
    },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'CAMPAIGN_MONITOR_API_URL')!.instance as CampaignMonitorSimulator;
  const connection = await stack.api.post('/connections', {
    name: 'CM',
    type: 'campaign-monitor',
    secrets: { apiKey: 'engine-test-key' },
    privacyConsent: true,
  });
  connectionId = connection.body.id;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the export engine', () => {
  it('delivers 100,000 members exactly once with 5% server errors and 429 bursts injected', async () => {
    simulator.setFaults({ serverErrorRate: 0.05, tooManyRequestsBursts: { every: 40, length: 3 }, seed: 7 });
    try {
      const exportId = await createExport('Faults', ['Segment_AllCustomers'], 'faults');
      const run = await runToEnd(exportId, 150_000);
      expect(run.status).toBe('succeeded');
      expect(run.counts).toEqual({ members: PROFILES, sent: PROFILES, succeeded: PROFILES, failed: 0, skipped: 0 });
      const list = simulator.inspectList('faults')!;
      expect(list.memberCount).toBe(PROFILES);
      expect(list.duplicates).toBe(0);
      expect(list.deliveries).toBe(PROFILES);
      // Row for row: each member under its lower-cased email, with the mapped name and postal code.
      const subscribers = simulator.state.lists.get('faults')!.subscribers;
      const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
      const wrong = rows.filter((row) => {
        const subscriber = subscribers.get(normalized(row.Email));
        return (
          !subscriber ||
          subscriber.Name !== [row.FirstName, row.LastName].filter(Boolean).join(' ') ||
          (row.PostalCode && subscriber.CustomFields['[PostalCode]'] !== row.PostalCode)
        );
      });
      expect(wrong).toEqual([]);
      expect(simulator.state.counters.serverErrors).toBeGreaterThan(0);
      expect(simulator.state.counters.tooManyRequests).toBeGreaterThan(0);
    } finally {
      simulator.setFaults({});
    }
  }, 180_000);

  it('sends a member of two segments to the one list once', async () => {
    const exportId = await createExport('Two segments', ['Segment_AllCustomers', 'Segment_VIP'], 'union');
    const run = await runToEnd(exportId);
    expect(run.status).toBe('succeeded');
    const all = await segmentRows(stack.azurite.connectionString, 'All customers');
    expect(run.counts.members).toBe(all.length);
    const list = simulator.inspectList('union')!;
    expect(list.memberCount).toBe(all.length);
    expect(list.deliveries).toBe(all.length);
    expect(list.duplicates).toBe(0);
  }, 120_000);

  it('skips a run over the member limit, sending nothing', async () => {
    const limited = await stack.api.post('/connections', {
      name: 'CM small',
      type: 'campaign-monitor',
      secrets: { apiKey: 'k2' },
      privacyConsent: true,
      limits: { maxMembersPerExport: 1000 },
    });
    expect(limited.status, limited.text).toBe(201);
    const exportId = await createExport('Too big', ['Segment_AllCustomers'], 'too-big', limited.body.id);
    const run = await runToEnd(exportId);
    expect(run.status).toBe('skipped');
    expect(run.reason).toContain('at most 1,000');
    expect(simulator.inspectList('too-big')).toBeUndefined();
  });

  it('cancels a run within seconds, keeping the counts sent so far', async () => {
    simulator.setFaults({ latencyMs: 150, seed: 1 });
    try {
      const exportId = await createExport('Cancel me', ['Segment_AllCustomers'], 'cancelled');
      const started = await stack.api.post(`/exports/${exportId}/runs`);
      const runId = started.body.runId;
      await eventually(async () => ((simulator.inspectList('cancelled')?.memberCount ?? 0) > 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'first members to arrive',
      });
      const cancelled = await stack.api.post(`/exports/${exportId}/runs/${runId}/cancel`);
      expect(cancelled.status).toBe(202);
      const run = await waitForRun(exportId, runId, 30_000);
      expect(run.status).toBe('cancelled');
      const delivered = simulator.inspectList('cancelled')!.memberCount;
      expect(run.counts.succeeded).toBe(delivered);
      expect(delivered).toBeLessThan(PROFILES);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(simulator.inspectList('cancelled')!.memberCount).toBe(delivered);
      const again = await stack.api.post(`/exports/${exportId}/runs/${runId}/cancel`);
      expect(again.status).toBe(409);
    } finally {
      simulator.setFaults({});
    }
  }, 90_000);

  it('refuses a second run while one is active, naming it', async () => {
    simulator.setFaults({ latencyMs: 100, seed: 2 });
    try {
      const exportId = await createExport('One at a time', ['Segment_VIP'], 'one-at-a-time');
      const first = await stack.api.post(`/exports/${exportId}/runs`);
      const second = await stack.api.post(`/exports/${exportId}/runs`);
      expect(second.status).toBe(409);
      expect(second.body.activeRunId).toBe(first.body.runId);
      await waitForRun(exportId, first.body.runId);
    } finally {
      simulator.setFaults({});
    }
  }, 90_000);

  it('loses and duplicates nothing when the worker is killed mid-chunk', async () => {
    simulator.setFaults({ latencyMs: 40, seed: 3 });
    try {
      const exportId = await createExport('Crash', ['Segment_AllCustomers'], 'crash');
      const started = await stack.api.post(`/exports/${exportId}/runs`);
      await eventually(async () => ((simulator.inspectList('crash')?.memberCount ?? 0) > 10_000 ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the run to be under way',
      });
      await stack.killHost();
      const atCrash = simulator.inspectList('crash')!.memberCount;
      expect(atCrash).toBeLessThan(PROFILES);
      simulator.setFaults({});
      await stack.restartHost();
      const run = await waitForRun(exportId, started.body.runId, 150_000);
      expect(run.status).toBe('succeeded');
      expect(run.counts.succeeded).toBe(PROFILES);
      const list = simulator.inspectList('crash')!;
      expect(list.memberCount).toBe(PROFILES);
      // Only batches in flight at the crash may have been sent again (an upsert: still one member each).
      expect(list.deliveries - PROFILES).toBeLessThanOrEqual(16 * 1000);
    } finally {
      simulator.setFaults({});
    }
  }, 240_000);

  it('ends a run whose chunks keep failing (their lake snapshot was removed) with the reason, after 5 attempts each', async () => {
    simulator.setFaults({ latencyMs: 200, seed: 5 });
    try {
      const container = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient('lake');
      const exportId = await createExport('Snapshot gone', ['Segment_AllCustomers'], 'snapshot-gone');
      const started = await stack.api.post(`/exports/${exportId}/runs`);
      await eventually(async () => ((simulator.inspectList('snapshot-gone')?.memberCount ?? 0) > 0 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'the run to be under way',
      });
      // The host stops mid-run and two newer generations land meanwhile: the one this run reads is
      // deleted (only the previous one is kept), so every chunk resumed after the restart finds its
      // snapshot gone. (Without the stop the chunks may all have read their ranges already: a
      // chunk streams its whole range when it starts.)
      await stack.killHost();
      await seedLake({ containerClient: container, profiles: 500, kind: 'b2c', seed: 21 });
      await seedLake({ containerClient: container, profiles: 500, kind: 'b2c', seed: 22 });
      simulator.setFaults({});
      await stack.restartHost();
      const run = await waitForRun(exportId, started.body.runId, 180_000);
      expect(['failed', 'partiallySucceeded']).toContain(run.status);
      // The members of the failed chunks still count: the reason speaks of them.
      expect(run.counts.members).toBe(PROFILES);
      expect(run.reason).toMatch(/failed 5 times; last error: .*(changed or was removed|not found|does not exist)/i);
      expect(stack.logs.join('\n')).toContain('export-chunks-poison');
    } finally {
      simulator.setFaults({});
    }
  }, 240_000);
  it('reports each invalid email and ends partiallySucceeded', async () => {
    const container = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient('lake');
    await seedLake({ containerClient: container, profiles: 5_000, kind: 'b2c', seed: 11, invalidEmailRate: 0.02 });
    const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
    const invalid = rows.filter((row) => !/^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(normalized(row.Email)));
    expect(invalid.length).toBeGreaterThan(0);
    const exportId = await createExport('Invalid emails', ['Segment_AllCustomers'], 'invalid');
    const run = await runToEnd(exportId);
    expect(run.status).toBe('partiallySucceeded');
    expect(run.counts).toMatchObject({ members: rows.length, skipped: invalid.length, failed: 0, succeeded: rows.length - invalid.length });
    const records = await stack.api.get(`/exports/${exportId}/runs/${run.id}/records?status=skipped&top=5000`);
    expect(records.status).toBe(200);
    expect(records.body.items.map((record: { email: string }) => record.email.toLowerCase()).sort()).toEqual(
      invalid.map((row) => (row.Email ?? '').trim().toLowerCase()).sort(),
    );
    expect(new Set(records.body.items.map((record: { code: string }) => record.code))).toEqual(new Set(['invalidEmail']));
    expect(simulator.inspectList('invalid')!.memberCount).toBe(rows.length - invalid.length);
    const csv = await stack.api.get(`/exports/${exportId}/runs/${run.id}/records?status=skipped`, { accept: 'text/csv' });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.text.split('\n')[0]).toBe('email,key,status,category,code,message,segmentId,operation,partition,position');
    // Each skipped row can be found again without an email: its profile key and source position.
    for (const record of records.body.items as { key?: string; partition?: string; position?: number }[]) {
      expect(record.key).toBeTruthy();
      expect(record.partition).toBeTruthy();
      expect(record.position).toEqual(expect.any(Number));
    }
  }, 120_000);
});
