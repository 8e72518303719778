// The vertical slice over the real local stack: segments → connection → export → run → every
// member at the Campaign Monitor simulator exactly once, with secrets never echoed anywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { runToEnd } from '../support/exportRuns.js';
import { segmentRows } from '../support/lakeRows.js';
import type { CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';

const API_KEY = 'cm-secret-key-7f3a9c1e5b';
const PROFILES = 3_000;

let stack: TestStack;
let simulator: CampaignMonitorSimulator;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { apiKeys: [API_KEY], rateLimit: { requestsPerSecond: 50, burst: 50 } } },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 40, burst: 40 } }) },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'CAMPAIGN_MONITOR_API_URL')!.instance as CampaignMonitorSimulator;
});

afterAll(async () => {
  await stack?.stop();
});

describe('a segment export flowing end to end', () => {
  let segmentId: string;
  let connectionId: string;
  let exportId: string;

  it('answers health without a token', async () => {
    const response = await stack.api.as(undefined).get('/health');
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('ok');
  });

  it("lists the lake's segments", async () => {
    const response = await stack.api.get('/segments');
    expect(response.status).toBe(200);
    const all = response.body.find((segment: { name: string }) => segment.name === 'All customers');
    expect(all).toMatchObject({ type: 'Profile', memberCount: PROFILES });
    segmentId = all.id;
  });

  it('creates a Campaign Monitor connection whose key never comes back', async () => {
    const created = await stack.api.post('/connections', {
      name: 'CM production',
      type: 'campaign-monitor',
      secrets: { apiKey: API_KEY },
      privacyConsent: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'CM production',
      type: 'campaign-monitor',
      exportUser: { id: 'alice' },
      secretsSet: ['apiKey'],
    });
    connectionId = created.body.id;
    const fetched = await stack.api.get(`/connections/${connectionId}`);
    expect(fetched.status).toBe(200);
    expect(fetched.text).not.toContain(API_KEY);
    const tested = await stack.api.post(`/connections/${connectionId}/test`);
    expect(tested.body).toEqual({ ok: true });
  });

  it('refuses a connection without privacy consent, naming the field', async () => {
    const response = await stack.api.post('/connections', { name: 'x', type: 'campaign-monitor', secrets: { apiKey: 'k' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body.errors.map((error: { path: string }) => error.path)).toContain('body.privacyConsent');
  });

  it('creates an export with email mapped', async () => {
    const response = await stack.api.post('/exports', {
      name: 'Newsletter',
      connectionId,
      segments: [segmentId],
      mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode' },
      details: { listId: 'list-newsletter' },
    });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      status: 'active',
      connectionName: 'CM production',
      connectionType: 'campaign-monitor',
      yourPermissions: 'edit',
    });
    exportId = response.body.id;
  });

  it('runs it: every member arrives exactly once with the mapped fields', async () => {
    const run = await runToEnd(stack.api, exportId, { timeoutMs: 60_000 });
    expect(run.status).toBe('succeeded');
    expect(run.counts).toEqual({ members: PROFILES, sent: PROFILES, succeeded: PROFILES, failed: 0, skipped: 0 });
    expect(run.tasks.map((task: { name: string; status: string }) => [task.name, task.status])).toEqual([
      ['plan', 'succeeded'],
      ['send', 'succeeded'],
      ['finalize', 'succeeded'],
    ]);

    const list = simulator.inspectList('list-newsletter')!;
    expect(list.memberCount).toBe(PROFILES);
    expect(list.deliveries).toBe(PROFILES);
    expect(list.duplicates).toBe(0);
    // Row for row: each lake member is there under its lower-cased email with the mapped fields.
    const subscribers = simulator.state.lists.get('list-newsletter')!.subscribers;
    const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
    expect(rows).toHaveLength(PROFILES);
    const mismatches = rows.filter((row) => {
      const subscriber = subscribers.get(row.Email!.trim().toLowerCase());
      const name = [row.FirstName, row.LastName].filter(Boolean).join(' ');
      return !subscriber || subscriber.Name !== name || (row.PostalCode && subscriber.CustomFields['[PostalCode]'] !== row.PostalCode);
    });
    expect(mismatches).toEqual([]);

    const exportView = await stack.api.get(`/exports/${exportId}`);
    expect(exportView.body).toMatchObject({ lastRunStatus: 'succeeded', activeRunId: null });
    expect(exportView.body.lastRefreshed).toBe(run.finishedAt);
  });

  it('never shows the API key in a response or a log line', () => {
    expect(stack.api.transcript.join('\n')).not.toContain(API_KEY);
    expect(stack.logs.join('\n')).not.toContain(API_KEY);
    expect(stack.logs.length).toBeGreaterThan(0);
  });
});
