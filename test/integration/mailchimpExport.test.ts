// Mailchimp through the whole pipeline: a 50,000-profile segment exported to an audience over the
// real local stack, every valid member exactly once with the right merge fields, invalid and
// vendor-rejected records listed per record, and never more than 10 calls in flight (the engine's
// shared slots keep under the vendor's connection cap, so the cap never answers 429) — then the
// same again with 5xx, 429, resets and slow answers injected, nothing lost or duplicated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { segmentRows } from '../support/lakeRows.js';
import { isValidEmail } from '../../shared/segmentSender/dataMatching.js';
import type { MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { runRecords, runToEnd } from '../support/exportRuns.js';

const API_KEY = '5e0c1b7a9d3f4e2a8c6b0d1f7e9a3c5b-us19';
const PROFILES = 50_000;
const MAPPING = {
  email: 'Email',
  firstName: 'FirstName',
  lastName: 'LastName',
  fullName: 'FullName',
  gender: 'Gender',
  postalCode: 'PostalCode',
  city: 'City',
  country: 'Country',
  phone: 'Phone',
};
const SMALL_CHUNKS = JSON.stringify({ mailchimp: { requestsPerSecond: 0.5, burst: 1000 } });
// Under 429s the engine drains the shared bucket, which then refills at the sustained rate: the
// fault run needs a real one (the vendor's own cap is concurrency, which the slots still enforce).
const REAL_RATE = JSON.stringify({ mailchimp: { requestsPerSecond: 50, burst: 50 } });
const TAGS: Record<string, string> = {
  FirstName: 'FNAME',
  LastName: 'LNAME',
  FullName: 'FULLNAME',
  Gender: 'GENDER',
  PostalCode: 'POSTCODE',
  City: 'CITY',
  Country: 'COUNTRY',
  Phone: 'PHONE',
};

let stack: TestStack;
let simulator: MailchimpSimulator;
let rows: Record<string, string>[];
let validRows: Record<string, string>[];
let invalidRows: Record<string, string>[];
/** Valid addresses the simulated vendor answers "looks fake or invalid". */
let rejected: string[];
let connectionId: string;
let segmentId: string;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0.001,
    // Calls slow enough, next to the engine's own storage round trips, that senders overlap and
    // would go past the 10-connection cap without the engine's slots.
    simulatorOptions: { MAILCHIMP_API_URL: { apiKeys: [API_KEY], dataCenter: 'us19', faults: { latencyMs: 150 } } },
    // A low sustained rate makes the planner cut small chunks (2,500 members: 20 chunks, so more
    // senders than the 10 slots); the large burst means the bucket itself never makes them wait.
    settings: { DESTINATION_RATE_LIMITS: SMALL_CHUNKS },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'MAILCHIMP_API_URL')!.instance as MailchimpSimulator;
  rows = await segmentRows(stack.azurite.connectionString, 'All customers');
  validRows = rows.filter((row) => isValidEmail(row.Email!.trim().toLowerCase()));
  invalidRows = rows.filter((row) => !isValidEmail(row.Email!.trim().toLowerCase()));
  rejected = [validRows[10]!, validRows[20_000]!, validRows[validRows.length - 1]!].map((row) => row.Email!.trim().toLowerCase());
  for (const email of rejected) simulator.state.fakeEmails.add(email);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const runExport = (exportId: string) => runToEnd(stack.api, exportId, { timeoutMs: 45_000, intervalMs: 250 });
const records = (exportId: string, runId: string, status: 'failed' | 'skipped') => runRecords(stack.api, exportId, runId, status);

async function createExport(name: string, listId: string): Promise<string> {
  const response = await stack.api.post('/exports', { name, connectionId, segments: [segmentId], mapping: MAPPING, details: { listId } });
  expect(response.status).toBe(201);
  return response.body.id;
}

function expectAudienceMatchesLake(listId: string): void {
  const inspection = simulator.inspectList(listId)!;
  expect(inspection).toMatchObject({
    memberCount: validRows.length - rejected.length,
    deliveries: validRows.length - rejected.length,
    duplicates: 0,
  });
  const members = simulator.state.lists.get(listId)!.members;
  // Row for row: each valid lake member under its lower-cased email, subscribed, with exactly the mapped fields.
  const mismatches: string[] = [];
  for (const row of validRows) {
    const email = row.Email!.trim().toLowerCase();
    const member = members.get(email);
    if (rejected.includes(email)) {
      if (member) mismatches.push(`${email}: rejected by the vendor but present`);
      continue;
    }
    const expected = Object.fromEntries(
      Object.entries(TAGS).flatMap(([attribute, tag]) => (row[attribute]?.trim() ? [[tag, row[attribute]!.trim()]] : [])),
    );
    if (!member) mismatches.push(`${email}: missing`);
    else if (
      member.status !== 'subscribed' ||
      JSON.stringify(Object.entries(member.merge_fields).sort()) !== JSON.stringify(Object.entries(expected).sort())
    ) {
      mismatches.push(`${email}: ${member.status} ${JSON.stringify(member.merge_fields)} ≠ ${JSON.stringify(expected)}`);
    }
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
}

describe('a segment export to Mailchimp', () => {
  it('tests a connection with the key (data center from its suffix)', async () => {
    const segments = await stack.api.get('/segments');
    const all = segments.body.find((segment: { name: string }) => segment.name === 'All customers');
    expect(all).toMatchObject({ type: 'Profile', memberCount: PROFILES });
    segmentId = all.id;
    expect(rows).toHaveLength(PROFILES);
    expect(invalidRows.length).toBeGreaterThan(0);

    const refused = await stack.api.post('/connections', {
      name: 'No data center',
      type: 'mailchimp',
      secrets: { apiKey: '5e0c1b7a9d3f4e2a8c6b0d1f7e9a3c5b' },
      privacyConsent: true,
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('must end with its data center');

    const created = await stack.api.post('/connections', {
      name: 'Mailchimp',
      type: 'mailchimp',
      secrets: { apiKey: API_KEY },
      privacyConsent: true,
    });
    expect(created.status).toBe(201);
    connectionId = created.body.id;
    expect((await stack.api.post(`/connections/${connectionId}/test`)).body).toEqual({ ok: true });
  });

  it('delivers every valid member exactly once with its merge fields, lists the rest per record, stays within 10 connections', async () => {
    const exportId = await createExport('Newsletter', 'audience-newsletter');
    const run = await runExport(exportId);
    expect(run.status).toBe('partiallySucceeded');
    expect(run.counts).toEqual({
      members: PROFILES,
      sent: validRows.length,
      succeeded: validRows.length - rejected.length,
      failed: rejected.length,
      skipped: invalidRows.length,
    });

    expectAudienceMatchesLake('audience-newsletter');
    const created = simulator.inspectList('audience-newsletter')!.mergeFields.map((field) => field.tag);
    expect(created).toEqual(expect.arrayContaining(['FULLNAME', 'GENDER', 'POSTCODE', 'CITY', 'COUNTRY']));
    expect(simulator.state.counters.mergeFieldsCreated).toBe(5);

    const skipped = await records(exportId, run.id, 'skipped');
    expect(skipped.map((record) => record.email).sort()).toEqual(invalidRows.map((row) => row.Email!.trim()).sort());
    expect(new Set(skipped.map((record) => record.code))).toEqual(new Set(['invalidEmail']));
    const failed = await records(exportId, run.id, 'failed');
    expect(failed.map((record) => [record.email, record.code, record.message]).sort()).toEqual(
      rejected.map((email) => [email, 'ERROR_GENERIC', `${email} looks fake or invalid, please enter a real email address.`]).sort(),
    );

    // The engine's slots kept the calls under the cap: it never had to answer 429.
    expect(simulator.state.counters.concurrencyRejections).toBe(0);
    expect(simulator.state.counters.maxInFlight).toBeLessThanOrEqual(10);
    expect(simulator.state.counters.maxInFlight).toBeGreaterThan(1);
    expect(simulator.state.counters.batches).toBeGreaterThanOrEqual(Math.ceil(validRows.length / 500));
  });

  it('survives 5xx, 429, reset connections and slow answers with nothing lost or duplicated', async () => {
    stack.settings.DESTINATION_RATE_LIMITS = REAL_RATE;
    await stack.restartHost();
    const exportId = await createExport('Newsletter under faults', 'audience-faults');
    const before = { ...simulator.state.counters };
    simulator.state.counters.maxInFlight = 0;
    // Rates high enough that each kind of fault surely happens within the run's ~100 calls.
    simulator.setFaults({
      serverErrorRate: 0.1,
      tooManyRequestsBursts: { every: 20, length: 1 },
      connectionResetRate: 0.08,
      latencyMs: 20,
      latencyJitterMs: 60,
      seed: 11,
    });
    const run = await runExport(exportId);
    simulator.setFaults({ latencyMs: 20 });
    expect(run.status).toBe('partiallySucceeded');
    expect(run.counts).toEqual({
      members: PROFILES,
      sent: validRows.length,
      succeeded: validRows.length - rejected.length,
      failed: rejected.length,
      skipped: invalidRows.length,
    });
    expectAudienceMatchesLake('audience-faults');
    const counters = simulator.state.counters;
    expect(counters.serverErrors - before.serverErrors).toBeGreaterThan(0);
    expect(counters.tooManyRequests - before.tooManyRequests).toBeGreaterThan(0);
    expect(counters.connectionResets - before.connectionResets).toBeGreaterThan(0);
    expect(counters.concurrencyRejections).toBe(0);
    expect(counters.maxInFlight).toBeLessThanOrEqual(10);
  });

  it('never shows the API key in a response or a log line', () => {
    expect(stack.api.transcript.join('\n')).not.toContain(API_KEY);
    expect(stack.logs.join('\n')).not.toContain(API_KEY);
  });
});
