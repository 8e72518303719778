// Google Ads Customer Match through the whole pipeline: a 12,000-profile segment exported over the
// real local stack, with the OAuth token exchange, the user list created once named like the
// segment, one offline user data job per batch (created, filled, run, polled to SUCCESS), every
// valid member's hashed email exactly once in the list, invalid emails skipped and Google's
// refusals failed per record — then again under 5xx, 429, resets and a FAILED job.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { segmentRows } from '../support/lakeRows.js';
import { isValidEmail } from '../../shared/segmentSender/dataMatching.js';
import { normalizeEmail } from '../../shared/destinations/googleAds.js';
import type { GoogleAdsSimulator } from '../../local/simulators/googleAdsSimulator.js';
import { runRecords, runToEnd } from '../support/exportRuns.js';

const CUSTOMER = '1234567890';
const SECRETS = {
  clientId: '1234-abc.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-e2e-secret-93f1',
  refreshToken: '1//0e2e-refresh-token-77ad',
  developerToken: 'devtok-e2e-51c8',
};
const PROFILES = 12_000;
const MAPPING = {
  email: 'Email',
  phone: 'Phone',
  firstName: 'FirstName',
  lastName: 'LastName',
  country: 'Country',
  postalCode: 'PostalCode',
};
const sha = (value: string) => createHash('sha256').update(value).digest('hex');

let stack: TestStack;
let simulator: GoogleAdsSimulator;
let validRows: Record<string, string>[];
let invalidRows: Record<string, string>[];
let connectionId: string;
let segmentId: string;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0.002,
    simulatorOptions: {
      GOOGLE_ADS_API_URL: {
        clients: { [SECRETS.clientId]: SECRETS.clientSecret },
        refreshTokens: [SECRETS.refreshToken],
        developerTokens: [SECRETS.developerToken],
        customers: [CUSTOMER],
      },
    },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'GOOGLE_ADS_API_URL')!.instance as GoogleAdsSimulator;
  const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
  expect(rows).toHaveLength(PROFILES);
  validRows = rows.filter((row) => isValidEmail(row.Email!.trim().toLowerCase()));
  invalidRows = rows.filter((row) => !isValidEmail(row.Email!.trim().toLowerCase()));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const runExport = (exportId: string) => runToEnd(stack.api, exportId, { timeoutMs: 90_000, intervalMs: 250 });

async function expectRunDelivered(exportId: string, listId: string, runNumber: number): Promise<void> {
  const run = await runExport(exportId);
  expect(run.status).toBe('partiallySucceeded');
  expect(run.counts).toEqual({
    members: PROFILES,
    sent: validRows.length,
    succeeded: validRows.length,
    failed: 0,
    skipped: invalidRows.length,
  });
  const list = simulator.state.userLists.get(listId)!;
  const expected = new Set(validRows.map((row) => sha(normalizeEmail(row.Email!))));
  expect(list.members.size).toBe(expected.size);
  expect([...expected].filter((hash) => !list.members.has(hash))).toEqual([]);
  // Every member once per run; two rows of the lake may share a gmail address once periods go.
  const perHash = new Map<string, number>();
  for (const row of validRows) perHash.set(sha(normalizeEmail(row.Email!)), (perHash.get(sha(normalizeEmail(row.Email!))) ?? 0) + 1);
  expect([...list.deliveries].filter(([hash, count]) => count !== runNumber * perHash.get(hash)!)).toEqual([]);
  const skipped = await runRecords(stack.api, exportId, run.id, 'skipped');
  expect(skipped.map((record) => record.email).sort()).toEqual(invalidRows.map((row) => row.Email!.trim()).sort());
}

describe('a segment export to Google Ads Customer Match', () => {
  it('tests a connection through the OAuth exchange; a revoked refresh token is refused', async () => {
    const segments = await stack.api.get('/segments');
    segmentId = segments.body.find((segment: { name: string }) => segment.name === 'All customers').id;
    const revoked = await stack.api.post('/connections', {
      name: 'Revoked',
      type: 'google-ads',
      settings: { customerId: '123-456-7890' },
      secrets: { ...SECRETS, refreshToken: 'revoked' },
      privacyConsent: true,
    });
    expect(revoked.status).toBe(201);
    const refused = await stack.api.post(`/connections/${revoked.body.id}/test`);
    expect(refused.body).toMatchObject({ ok: false, reason: expect.stringContaining('invalid_grant') });
    const created = await stack.api.post('/connections', {
      name: 'Google Ads',
      type: 'google-ads',
      settings: { customerId: '123-456-7890' },
      secrets: SECRETS,
      privacyConsent: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      settings: { customerId: CUSTOMER },
      secretsSet: expect.arrayContaining(['clientId', 'clientSecret', 'refreshToken', 'developerToken']),
    });
    connectionId = created.body.id;
    expect((await stack.api.post(`/connections/${connectionId}/test`)).body).toEqual({ ok: true });
  });

  let exportId: string;
  let listId: string;
  it('creates the list named like the segment and puts every valid member in it once', async () => {
    const response = await stack.api.post('/exports', { name: 'Customer Match', connectionId, segments: [segmentId], mapping: MAPPING });
    expect(response.status).toBe(201);
    exportId = response.body.id;
    const before = simulator.state.counters.jobsCreated;
    const run = await runExport(exportId);
    expect(run.status).toBe('partiallySucceeded');
    // Found or created when the run started: exactly one list, named like the segment.
    const lists = simulator.listsNamed('All customers');
    expect(lists).toHaveLength(1);
    listId = lists[0]!.id;
    // 12,000 members fit one job of 100,000.
    expect(simulator.state.counters.jobsCreated - before).toBe(1);
    expect(run.counts).toEqual({
      members: PROFILES,
      sent: validRows.length,
      succeeded: validRows.length,
      failed: 0,
      skipped: invalidRows.length,
    });
    const list = simulator.state.userLists.get(listId)!;
    const expected = new Set(validRows.map((row) => sha(normalizeEmail(row.Email!))));
    expect(list.members.size).toBe(expected.size);
    expect([...expected].filter((hash) => !list.members.has(hash))).toEqual([]);
    const skipped = await runRecords(stack.api, exportId, run.id, 'skipped');
    expect(skipped.map((record) => record.email).sort()).toEqual(invalidRows.map((row) => row.Email!.trim()).sort());
  });

  it('runs again under 5xx, 429, resets and one FAILED job: the same list, nobody twice in a run', async () => {
    simulator.state.failNextJobs = 1;
    simulator.setFaults({ serverErrorRate: 0.08, tooManyRequestsBursts: { every: 4, length: 1 }, connectionResetRate: 0.04, seed: 31 });
    try {
      await expectRunDelivered(exportId, listId, 2);
    } finally {
      simulator.setFaults({});
    }
    expect(simulator.listsNamed('All customers')).toHaveLength(1);
    expect(simulator.state.failNextJobs).toBe(0);
    expect(simulator.state.counters.tooManyRequests).toBeGreaterThan(0);
  });

  it('never shows a secret in a response or a log line', () => {
    const seen = stack.api.transcript.join('\n') + stack.logs.join('\n');
    for (const secret of [SECRETS.clientSecret, SECRETS.refreshToken, SECRETS.developerToken]) expect(seen).not.toContain(secret);
  });
});
