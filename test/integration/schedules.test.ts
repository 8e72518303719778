// Schedules over the real local stack: the upstream reports refreshes, exports on the default
// schedule start from the refresh's completion, runs wait for running dependencies (and are
// skipped when one fails), schedules are edited one by one and in bulk, run all leaves inactive
// exports out, and 20 exports on one connection started together share the vendor's rate limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually, type ApiClient } from '../support/apiClient.js';
import type { CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';

const API_KEY = 'cm-schedules-key-41d0';
const PROFILES = 600;
/** The vendor's limit in the simulator and the engine's budget for it: the same rate. */
const RATE = { requestsPerSecond: 5, burst: 5 };
const ENDED = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];

let stack: TestStack;
let simulator: CampaignMonitorSimulator;
let system: ApiClient;
let connectionId: string;
const segmentIds = new Map<string, { id: string; memberCount: number }>();

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { apiKeys: [API_KEY], rateLimit: RATE } },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': RATE }) },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'CAMPAIGN_MONITOR_API_URL')!.instance as CampaignMonitorSimulator;
  system = stack.api.as(await stack.tokenFor('system', 'upstream'));
  const connection = await stack.api.post('/connections', {
    name: 'CM',
    type: 'campaign-monitor',
    secrets: { apiKey: API_KEY },
    privacyConsent: true,
  });
  connectionId = connection.body.id;
  for (const segment of (await stack.api.get('/segments')).body as { id: string; name: string; memberCount: number }[])
    segmentIds.set(segment.name, segment);
});

afterAll(async () => {
  await stack?.stop();
});

function segment(name: string): string {
  return segmentIds.get(name)!.id;
}

async function createExport(name: string, segmentName: string, schedule?: unknown): Promise<string> {
  // Email and names only: no custom fields, so every vendor call is a subscriber import.
  const response = await stack.api.post('/exports', {
    name,
    connectionId,
    segments: [segment(segmentName)],
    mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
    details: { listId: `list-${name.toLowerCase().replace(/\W+/g, '-')}` },
    ...(schedule ? { schedule } : {}),
  });
  expect(response.status, response.text).toBe(201);
  return response.body.id;
}

async function reportRefresh(body: Record<string, unknown>) {
  const response = await system.post('/refreshes', body);
  expect(response.status, response.text).toBe(201);
  return response.body;
}

async function runOf(exportId: string, runId: string) {
  return (await stack.api.get(`/exports/${exportId}/runs/${runId}`)).body;
}

async function ended(exportId: string, runId: string, timeoutMs = 30_000) {
  return eventually(
    async () => {
      const run = await runOf(exportId, runId);
      return ENDED.includes(run.status) ? run : undefined;
    },
    { timeoutMs, what: `run ${runId} to end` },
  );
}

describe('refresh processes', () => {
  it('are reported by the system role only and read by every role', async () => {
    const body = { process: 'ingestion', status: 'running', entities: ['UnifiedCustomerProfile'] };
    expect((await stack.api.post('/refreshes', body)).status).toBe(403);
    const created = await system.post('/refreshes', body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      process: 'ingestion',
      status: 'running',
      entities: ['UnifiedCustomerProfile'],
      segments: [],
      finishedAt: null,
      reportedBy: { id: 'upstream' },
    });
    const viewer = stack.api.as(await stack.tokenFor('viewer', 'vera'));
    const listed = await viewer.get('/refreshes?status=running');
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(created.body.id);

    const id = created.body.id;
    expect((await system.patch(`/refreshes/${id}`, { status: 'succeeded' }, { 'if-match': '"stale"' })).status).toBe(412);
    const failed = await system.patch(
      `/refreshes/${id}`,
      { status: 'failed', reason: 'source file missing' },
      { 'if-match': created.headers.get('etag')! },
    );
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ status: 'failed', reason: 'source file missing' });
    expect(failed.body.finishedAt).toEqual(expect.any(String));
    expect((await system.patch(`/refreshes/${id}`, { status: 'succeeded' })).status).toBe(409);
    expect((await system.post('/refreshes', { process: 'segments', status: 'done' })).status).toBe(400);
  });
});

describe('the default schedule', () => {
  it('runs an export as soon as a segments refresh that touched it succeeds', async () => {
    const exportId = await createExport('After refresh', 'VIP');
    const refresh = await reportRefresh({ process: 'segments', status: 'running', segments: [segment('VIP')] });
    const patched = await system.patch(`/refreshes/${refresh.id}`, { status: 'succeeded' });
    expect(patched.status).toBe(200);
    expect(patched.body.effects.fired).toEqual([expect.objectContaining({ exportId, result: 'started' })]);
    const runId = patched.body.effects.fired[0].runId;
    const run = await ended(exportId, runId);
    expect(run).toMatchObject({ trigger: 'systemRefresh', status: 'succeeded', requestedBy: { id: 'scheduler' } });
    expect(run.counts.succeeded).toBe(segmentIds.get('VIP')!.memberCount);
    const view = (await stack.api.get(`/exports/${exportId}`)).body;
    expect(view).toMatchObject({ lastRunStatus: 'succeeded', lastRefreshed: run.finishedAt, nextRun: null });
  });
});

describe('dependency gating', () => {
  let exportId: string;

  beforeAll(async () => {
    exportId = await createExport('Gated', 'Lapsed buyers');
  });

  /** A run created waiting: a segments refresh succeeded while `dependency` still runs. */
  async function waitingRunBehind(dependency: Record<string, unknown>) {
    const running = await reportRefresh({ ...dependency, status: 'running' });
    const segments = await reportRefresh({ process: 'segments', status: 'succeeded', segments: [segment('Lapsed buyers')] });
    expect(segments.effects.fired).toEqual([expect.objectContaining({ exportId, result: 'waiting' })]);
    const run = await runOf(exportId, segments.effects.fired[0].runId);
    expect(run).toMatchObject({ status: 'waiting', waitingFor: running.id, trigger: 'systemRefresh' });
    return { dependency: running, runId: run.id as string };
  }

  it('starts a waiting run as soon as the refresh it waits for succeeds (latency measured)', async () => {
    const latencies: number[] = [];
    for (let round = 0; round < 3; round++) {
      const { dependency, runId } = await waitingRunBehind({ process: 'measures', segments: [segment('Lapsed buyers')] });
      const patchedAt = Date.now();
      const patched = await system.patch(`/refreshes/${dependency.id}`, { status: 'succeeded' });
      expect(patched.body.effects.released).toEqual([runId]);
      const started = await eventually(
        async () => {
          const run = await runOf(exportId, runId);
          return run.status !== 'waiting' && run.status !== 'queued' ? run : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 20, what: 'the released run to start' },
      );
      latencies.push(Date.now() - patchedAt);
      expect(started.startedAt).toEqual(expect.any(String));
      expect((await ended(exportId, runId)).status).toBe('succeeded');
    }
    console.log(`Refresh succeeded → waiting run running: ${latencies.map((ms) => `${ms} ms`).join(', ')}`);
    expect(Math.max(...latencies)).toBeLessThan(5_000);
  });

  it('skips the waiting run, with the reason, when the refresh it waits for fails', async () => {
    const { dependency, runId } = await waitingRunBehind({ process: 'unification', entities: [segment('Lapsed buyers')] });
    const patched = await system.patch(`/refreshes/${dependency.id}`, { status: 'failed', reason: 'match rules timed out' });
    expect(patched.body.effects.skipped).toEqual([runId]);
    const run = await runOf(exportId, runId);
    expect(run.status).toBe('skipped');
    expect(run.reason).toContain(`unification refresh ${dependency.id}`);
    expect(run.reason).toContain('match rules timed out');
  });
});

describe('editing schedules', () => {
  let first: string;
  let second: string;

  beforeAll(async () => {
    first = await createExport('Schedule A', 'Loyal members');
    second = await createExport('Schedule B', 'Loyal members');
  });

  it("replaces one export's schedule, honouring If-Match, and shows nextRun", async () => {
    const current = await stack.api.get(`/exports/${first}`);
    const daily = { active: true, mode: 'custom', recurrence: { frequency: 'daily', interval: 1, time: '06:30', timeZone: 'Europe/Oslo' } };
    expect((await stack.api.put(`/exports/${first}/schedule`, daily, { 'if-match': '"stale"' })).status).toBe(412);
    const put = await stack.api.put(`/exports/${first}/schedule`, daily, { 'if-match': current.headers.get('etag')! });
    expect(put.status, put.text).toBe(200);
    expect(put.body.schedule).toEqual(daily);
    expect(Date.parse(put.body.nextRun)).toBeGreaterThan(Date.now());
    expect(Date.parse(put.body.nextRun) - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
  });

  it('keep switches the selected exports on or off and leaves their schedules', async () => {
    const response = await stack.api.post('/exports/schedules', { exportIds: [first, second], mode: 'keep', active: false });
    expect(response.status, response.text).toBe(200);
    expect(response.body.items.map((item: { status: string; schedule: { mode: string } }) => [item.status, item.schedule.mode])).toEqual([
      ['inactive', 'custom'],
      ['inactive', 'systemRefresh'],
    ]);
  });

  it('override gives every selected export the new schedule', async () => {
    const weekly = {
      active: true,
      mode: 'custom',
      recurrence: { frequency: 'weekly', interval: 1, daysOfWeek: ['monday', 'thursday'], time: '07:00', timeZone: 'America/New_York' },
    };
    const response = await stack.api.post('/exports/schedules', { exportIds: [first, second], mode: 'override', schedule: weekly });
    expect(response.status, response.text).toBe(200);
    for (const id of [first, second])
      expect((await stack.api.get(`/exports/${id}`)).body).toMatchObject({
        schedule: weekly,
        status: 'active',
        nextRun: expect.any(String),
      });
  });

  it('is all-or-nothing: one export that is not allowed changes none, and each is named', async () => {
    const missing = 'ffffffff-0000-4000-8000-000000000000';
    const response = await stack.api.post('/exports/schedules', {
      exportIds: [first, missing],
      mode: 'override',
      schedule: { active: true, mode: 'systemRefresh' },
    });
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual([expect.objectContaining({ exportId: missing, path: 'body.exportIds.1' })]);
    expect((await stack.api.get(`/exports/${first}`)).body.schedule.mode).toBe('custom');
    const mixed = await stack.api.post('/exports/schedules', {
      exportIds: [first],
      mode: 'keep',
      active: true,
      schedule: { active: true, mode: 'systemRefresh' },
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body.errors.map((error: { path: string }) => error.path)).toContain('body.schedule');
  });
});

describe('run all', () => {
  it('starts every active export and names the inactive ones it left out', async () => {
    const inactive = await createExport('Switched off', 'VIP', { active: false, mode: 'systemRefresh' });
    const response = await stack.api.post('/exports/run-all');
    expect(response.status, response.text).toBe(202);
    const skipped = response.body.notStarted.find((item: { exportId: string }) => item.exportId === inactive);
    expect(skipped.reason).toMatch(/inactive/);
    expect(response.body.started.map((item: { exportId: string }) => item.exportId)).not.toContain(inactive);
    expect(response.body.started.length).toBeGreaterThanOrEqual(2);
    const runs = await Promise.all(
      response.body.started.map((item: { exportId: string; runId: string }) => ended(item.exportId, item.runId)),
    );
    expect(runs.map((run) => run.trigger)).toEqual(runs.map(() => 'runAll'));
    expect(runs.map((run) => run.status)).toEqual(runs.map(() => 'succeeded'));
    // An inactive export can still be run on its own.
    expect((await stack.api.post(`/exports/${inactive}/runs`)).status).toBe(202);
  });
});

describe('many exports due at once', () => {
  it('20 exports on one connection started by one refresh all succeed within the shared rate limit', async () => {
    const name = 'Newsletter Norway';
    const members = segmentIds.get(name)!.memberCount;
    expect(members).toBeGreaterThan(0);
    const ids = [];
    for (let index = 0; index < 20; index++) ids.push(await createExport(`Burst ${index}`, name));
    const before = simulator.state.counters.tooManyRequests;
    const startedAt = Date.now();
    const refresh = await reportRefresh({ process: 'segments', status: 'succeeded', segments: [segment(name)] });
    const fired = refresh.effects.fired as { exportId: string; runId: string; result: string }[];
    expect(fired.map((item) => item.result)).toEqual(ids.map(() => 'started'));
    const runs = await Promise.all(fired.map((item) => ended(item.exportId, item.runId, 60_000)));
    expect(runs.filter((run) => run.status !== 'succeeded')).toEqual([]);
    for (let index = 0; index < 20; index++) expect(simulator.inspectList(`list-burst-${index}`)!.memberCount).toBe(members);
    const tooManyRequests = simulator.state.counters.tooManyRequests - before;
    console.log(
      `20 exports at once (${members} members each): all ended after ${Date.now() - startedAt} ms, ${tooManyRequests} answers 429 from the simulator`,
    );
    expect(tooManyRequests).toBeLessThanOrEqual(5);
  });
});
