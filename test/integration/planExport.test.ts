// Know before you run, on the real local stack: `POST /exports/{id}/plan` sends nothing and stores
// nothing but its audit line; its calls match what a run then makes at the simulator, its time is
// near the run's at a binding rate; runs active or scheduled on the same connection lengthen it;
// every run records the prediction and the lake snapshot it read, and the refresh that fired it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { DEV_ACCOUNT } from '../../local/azurite.js';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually } from '../support/apiClient.js';
import { runToEnd } from '../support/exportRuns.js';
import type { IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { SENDING_SETUP_SECONDS } from '../../shared/plans/predictRun.js';

const API_KEY = 'itbl-plan-key-5d1e7a';
const PROFILES = 12_000;
// A rate that binds (so time is the rate's, not the machine's) yet keeps the test short: 12 calls
// at 2 per second. Iterable's own documented rate is 5/s (see shared/destinations/iterable.ts).
const RATE = { requestsPerSecond: 2, burst: 2 };
const OFF = { active: false, mode: 'systemRefresh' };

let stack: TestStack;
let simulator: IterableSimulator;
let connectionId: string;
let allCustomers: { id: string; memberCount: number };

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0,
    simulatorOptions: { ITERABLE_API_URL: { apiKeys: [API_KEY], rateLimit: { requestsPerSecond: 50, burst: 50 } } },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ iterable: RATE }) },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'ITERABLE_API_URL')!.instance as IterableSimulator;
  const connection = await stack.api.post('/connections', {
    name: 'Iterable plans',
    type: 'iterable',
    secrets: { apiKey: API_KEY },
    privacyConsent: true,
  });
  expect(connection.status, connection.text).toBe(201);
  connectionId = connection.body.id;
  allCustomers = (await stack.api.get('/segments')).body.find((segment: { name: string }) => segment.name === 'All customers');
});

afterAll(async () => {
  await stack?.stop();
});

async function createExport(name: string, schedule: unknown = OFF): Promise<string> {
  const response = await stack.api.post('/exports', {
    name,
    connectionId,
    segments: [allCustomers.id],
    mapping: { email: 'Email', firstName: 'FirstName' },
    schedule,
  });
  expect(response.status, response.text).toBe(201);
  return response.body.id;
}

async function modelVersion(): Promise<{ etag: string; lastModified: string }> {
  const properties = await BlobServiceClient.fromConnectionString(stack.azurite.connectionString)
    .getContainerClient('lake')
    .getBlobClient('model.json')
    .getProperties();
  return { etag: properties.etag!, lastModified: properties.lastModified!.toISOString() };
}

describe('POST /exports/{id}/plan', () => {
  let exportId: string;
  let plan: any;
  let firstRun: any;

  it('answers members, calls and time, sending nothing and storing only its audit line', async () => {
    exportId = await createExport('Planned');
    const before = { requests: simulator.state.counters.requests, export: (await stack.api.get(`/exports/${exportId}`)).body.etag };
    const response = await stack.api.post(`/exports/${exportId}/plan`);
    expect(response.status, response.text).toBe(200);
    plan = response.body;
    expect(plan).toMatchObject({
      members: PROFILES,
      eligible: true,
      changes: null,
      basis: { requestsPerSecond: 2, otherRuns: [], calibration: 1 },
    });
    expect(plan.calls).toBeGreaterThanOrEqual(PROFILES / 1_000);
    expect(plan.predictedSeconds).toBeGreaterThan((plan.calls - RATE.burst) / RATE.requestsPerSecond);

    expect(simulator.state.counters.requests).toBe(before.requests);
    expect((await stack.api.get(`/exports/${exportId}/runs`)).body.items).toEqual([]);
    expect((await stack.api.get(`/exports/${exportId}`)).body.etag).toBe(before.export);
    const audit = (await stack.api.get('/audit?top=20')).body.items;
    expect(
      audit.find((entry: { action: string; target: { id: string } }) => entry.action === 'export.plan' && entry.target.id === exportId),
    ).toBeTruthy();
  });

  it('predicts the calls a run then makes, and its time within the tolerance of a loaded machine', async () => {
    const callsBefore = simulator.state.counters.subscribeCalls;
    const run = await runToEnd(stack.api, exportId, { timeoutMs: 90_000 });
    expect(run.status).toBe('succeeded');
    const calls = simulator.state.counters.subscribeCalls - callsBefore;
    // Chunks are cut at byte offsets: each ends with a partial batch or not, so the plan counts
    // half a call per chunk boundary, and is off by at most that many.
    expect(Math.abs(calls - plan.calls)).toBeLessThanOrEqual(2);
    // The run recorded the same prediction at its start, and shows it beside the actual time.
    expect(run.prediction).toMatchObject({ members: PROFILES, calls: plan.calls, predictedSeconds: plan.predictedSeconds });
    expect(run.actualSeconds).toBeGreaterThan(0);
    // Bound by the rate, the run cannot beat the floor. A first run on a connection has only the
    // model, which knows the rate but not the machine: on a loaded one it takes longer (the next
    // plans learn by how much, see below), so the upper bound here is loose.
    expect(run.actualSeconds).toBeGreaterThan(plan.basis.rateSeconds * 0.9);
    expect(run.actualSeconds).toBeLessThan(plan.predictedSeconds * 6);
    // It keeps the model's own part times, which later predictions learn from.
    expect(run.prediction.model).toMatchObject({ planningKind: 'read', overlapped: true });
    expect(run.prediction.model.sendSeconds).toBeCloseTo(plan.basis.sendSeconds, 1);
    firstRun = run;
    // Provenance: the model.json the run read.
    expect(run.provenance).toEqual({ lake: await modelVersion(), refreshId: null });
  });

  it('counts the runs active on the connection and those scheduled on it within the hour', async () => {
    const busy = await createExport('Busy neighbour');
    const soon = new Date(Date.now() + 30 * 60_000);
    const scheduled = await createExport('Scheduled neighbour', {
      active: true,
      mode: 'custom',
      recurrence: {
        frequency: 'daily',
        interval: 1,
        time: `${String(soon.getUTCHours()).padStart(2, '0')}:${String(soon.getUTCMinutes()).padStart(2, '0')}`,
        timeZone: 'UTC',
      },
    });
    const started = await stack.api.post(`/exports/${busy}/runs`);
    expect(started.status).toBe(202);
    const shared = (await stack.api.post(`/exports/${exportId}/plan`)).body;
    expect(shared.basis.otherRuns.map((other: { exportId: string }) => other.exportId).sort()).toEqual([busy, scheduled].sort());
    const active = shared.basis.otherRuns.find((other: { exportId: string }) => other.exportId === busy);
    expect(active).toMatchObject({ runId: started.body.runId, startsInSeconds: 0 });
    expect(active.rateCalls).toBeGreaterThan(0);
    const later = shared.basis.otherRuns.find((other: { exportId: string }) => other.exportId === scheduled);
    expect(later.startsInSeconds).toBeGreaterThan(25 * 60);
    // Sharing the rate with the active run: later than alone.
    expect(shared.basis.sharedSeconds).toBeGreaterThan(0);
    expect(shared.basis.rateSeconds + shared.basis.sharedSeconds).toBeGreaterThan(plan.basis.rateSeconds);
    // The first run taught the model how this connection's sending compares with it: the send
    // task's time, less its fixed part, over the model's sending time (planning is learnt apart).
    const task = (name: string) => firstRun.tasks.find((each: { name: string }) => each.name === name);
    const sendStart = Math.min(Date.parse(task('send').startedAt), Date.parse(task('plan').finishedAt));
    const sending = (Date.parse(firstRun.finishedAt) - sendStart) / 1000;
    const learnt = Math.max(0, sending - SENDING_SETUP_SECONDS) / firstRun.prediction.model.sendSeconds;
    expect(shared.basis.calibration).toBeCloseTo(Math.min(20, Math.max(0.8, learnt)), 1);
    expect(shared.warnings.some((warning: string) => /share/.test(warning))).toBe(true);
    await eventually(
      async () => ((await stack.api.get(`/exports/${busy}/runs/${started.body.runId}`)).body.finishedAt ? true : undefined),
      { timeoutMs: 90_000, what: 'the neighbour run to end' },
    );
    await stack.api.put(`/exports/${scheduled}/schedule`, OFF, { 'if-match': (await stack.api.get(`/exports/${scheduled}`)).body.etag });
  });

  it('records the refresh whose end fired a run', async () => {
    const fired = await createExport('On refresh', { active: true, mode: 'systemRefresh' });
    const system = stack.api.as(await stack.tokenFor('system', 'upstream'));
    const refresh = await system.post('/refreshes', { process: 'segments', status: 'running', segments: [allCustomers.id] });
    expect(refresh.status, refresh.text).toBe(201);
    expect((await system.patch(`/refreshes/${refresh.body.id}`, { status: 'succeeded' })).status).toBe(200);
    const run = await eventually(
      async () => {
        const runs = (await stack.api.get(`/exports/${fired}/runs`)).body.items as { id: string; finishedAt: string | null }[];
        return runs[0]?.finishedAt ? runs[0] : undefined;
      },
      { timeoutMs: 90_000, what: 'the refresh-fired run to end' },
    );
    const view = (await stack.api.get(`/exports/${fired}/runs/${run.id}`)).body;
    expect(view).toMatchObject({ trigger: 'systemRefresh', provenance: { refreshId: refresh.body.id, lake: await modelVersion() } });
  });

  it('answers problem details for an unknown export, one without a connection, and a data-out export', async () => {
    const unknown = await stack.api.post('/exports/no-such-export-0000/plan');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');

    const loose = await createExport('Disconnected');
    expect((await stack.api.post(`/exports/${loose}/disconnect`)).status).toBeLessThan(300);
    const disconnected = await stack.api.post(`/exports/${loose}/plan`);
    expect(disconnected.status).toBe(422);
    expect(disconnected.body.detail).toMatch(/no connection/);

    const blob = await stack.api.post('/connections', {
      name: 'Files',
      type: 'azure-blob',
      settings: { accountUrl: `http://127.0.0.1:${stack.azurite.blobPort}/${DEV_ACCOUNT}`, container: 'exports' },
      privacyConsent: true,
    });
    expect(blob.status, blob.text).toBe(201);
    const entity = (await stack.api.get('/entities')).body[0].name;
    const dataOut = await stack.api.post('/exports', {
      name: 'Files out',
      kind: 'dataOut',
      connectionId: blob.body.id,
      entities: [entity],
      schedule: OFF,
    });
    expect(dataOut.status, dataOut.text).toBe(201);
    const answer = await stack.api.post(`/exports/${dataOut.body.id}/plan`);
    expect(answer.status).toBe(422);
    expect(answer.body.detail).toMatch(/writes files/);
  });
});
