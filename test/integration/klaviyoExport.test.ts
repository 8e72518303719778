// Klaviyo through the whole pipeline: a 12,000-profile segment exported over the real local stack
// as bulk profile import jobs polled to complete, every valid member exactly once in the list with
// the mapped profile fields, invalid emails skipped and Klaviyo's own import errors failed per
// record — then again with 5xx, 429, resets and latency injected, nothing lost or duplicated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { segmentRows } from '../support/lakeRows.js';
import { isValidEmail } from '../../shared/segmentSender/dataMatching.js';
import { toE164 } from '../../shared/destinations/klaviyo.js';
import type { KlaviyoSimulator } from '../../local/simulators/klaviyoSimulator.js';
import { runRecords, runToEnd } from '../support/exportRuns.js';

const API_KEY = 'pk_live_5e0c7a1d93b24f68';
const PROFILES = 12_000;
const LIST = 'NwsLtr';
const MAPPING = {
  email: 'Email',
  firstName: 'FirstName',
  lastName: 'LastName',
  phone: 'Phone',
  city: 'City',
  country: 'Country',
  postalCode: 'PostalCode',
};

let stack: TestStack;
let simulator: KlaviyoSimulator;
let validRows: Record<string, string>[];
let invalidRows: Record<string, string>[];
let rejected: string[];
let connectionId: string;
let segmentId: string;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0.002,
    simulatorOptions: { KLAVIYO_API_URL: { apiKeys: [API_KEY], lists: { [LIST]: 'Newsletter' } } },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'KLAVIYO_API_URL')!.instance as KlaviyoSimulator;
  const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
  expect(rows).toHaveLength(PROFILES);
  validRows = rows.filter((row) => isValidEmail(row.Email!.trim().toLowerCase()));
  invalidRows = rows.filter((row) => !isValidEmail(row.Email!.trim().toLowerCase()));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const runExport = (exportId: string) => runToEnd(stack.api, exportId, { timeoutMs: 60_000, intervalMs: 250 });

async function expectRunDelivered(exportId: string, runNumber: number): Promise<void> {
  const run = await runExport(exportId);
  expect(run.status).toBe('partiallySucceeded');
  expect(run.counts).toEqual({
    members: PROFILES,
    sent: validRows.length,
    succeeded: validRows.length - rejected.length,
    failed: rejected.length,
    skipped: invalidRows.length,
  });

  const list = simulator.state.lists.get(LIST)!;
  const delivered = validRows.length - rejected.length;
  expect(list.members.size).toBe(delivered);
  // Once per run: every member delivered exactly runNumber times, never more.
  expect([...list.deliveries.values()].filter((count) => count !== runNumber)).toEqual([]);
  const mismatches: string[] = [];
  for (const row of validRows) {
    const email = row.Email!.trim().toLowerCase();
    const profile = simulator.state.profiles.get(email);
    if (rejected.includes(email)) {
      if (list.members.has(email)) mismatches.push(`${email}: rejected but listed`);
      continue;
    }
    if (!profile || !list.members.has(email)) {
      mismatches.push(`${email}: missing`);
      continue;
    }
    const attributes = profile.attributes as Record<string, any>;
    const expected = {
      first_name: row.FirstName || undefined,
      last_name: row.LastName || undefined,
      phone_number: toE164(row.Phone ?? ''),
      zip: row.PostalCode || undefined,
      city: row.City || undefined,
      country: row.Country || undefined,
    };
    const actual = {
      first_name: attributes.first_name,
      last_name: attributes.last_name,
      phone_number: attributes.phone_number,
      zip: attributes.location?.zip,
      city: attributes.location?.city,
      country: attributes.location?.country,
    };
    if (JSON.stringify(actual) !== JSON.stringify(expected))
      mismatches.push(`${email}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`);
  }
  expect(mismatches.slice(0, 5)).toEqual([]);

  const skipped = await runRecords(stack.api, exportId, run.id, 'skipped');
  expect(skipped.map((record) => record.email).sort()).toEqual(invalidRows.map((row) => row.Email!.trim()).sort());
  const failed = await runRecords(stack.api, exportId, run.id, 'failed');
  expect(failed.map((record) => [record.email, record.code]).sort()).toEqual(rejected.map((email) => [email, 'invalid']).sort());
  expect(failed.every((record) => record.message.startsWith('Klaviyo did not import this profile: '))).toBe(true);
}

describe('a segment export to Klaviyo', () => {
  it('tests a connection with the private key; a wrong key is refused', async () => {
    const segments = await stack.api.get('/segments');
    const all = segments.body.find((segment: { name: string }) => segment.name === 'All customers');
    segmentId = all.id;
    expect(invalidRows.length).toBeGreaterThan(0);
    // Klaviyo refuses these profiles itself (e.g. suppressed addresses): failed per record.
    rejected = [validRows[3]!, validRows[7_000]!, validRows[validRows.length - 1]!].map((row) => row.Email!.trim().toLowerCase());
    const wrong = await stack.api.post('/connections', {
      name: 'Wrong key',
      type: 'klaviyo',
      secrets: { apiKey: 'pk_wrong' },
      privacyConsent: true,
    });
    expect(wrong.status).toBe(201);
    expect((await stack.api.post(`/connections/${wrong.body.id}/test`)).body.ok).toBe(false);
    const created = await stack.api.post('/connections', {
      name: 'Klaviyo',
      type: 'klaviyo',
      secrets: { apiKey: API_KEY },
      privacyConsent: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'klaviyo', secretsSet: ['apiKey'] });
    connectionId = created.body.id;
    expect((await stack.api.post(`/connections/${connectionId}/test`)).body).toEqual({ ok: true });
  });

  it('refuses an export without a list id, naming the field', async () => {
    const response = await stack.api.post('/exports', {
      name: 'No list',
      connectionId,
      segments: [segmentId],
      mapping: MAPPING,
      details: {},
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toContain('listId');
  });

  let exportId: string;
  it('delivers every valid member once into the list with its fields, and lists the rest per record', async () => {
    for (const email of rejected) simulator.state.rejectedEmails.add(email);
    const response = await stack.api.post('/exports', {
      name: 'Newsletter',
      connectionId,
      segments: [segmentId],
      mapping: MAPPING,
      details: { listId: LIST },
    });
    expect(response.status).toBe(201);
    exportId = response.body.id;
    await expectRunDelivered(exportId, 1);
    // 12,000 valid-ish members at 10,000 a job: two jobs, each polled, errors read once.
    expect(simulator.state.counters.jobsCreated).toBe(2);
  });

  it('runs again under 5xx, 429, resets and latency: nothing lost, nobody twice in one run', async () => {
    const before = { ...simulator.state.counters };
    simulator.setFaults({
      serverErrorRate: 0.1,
      tooManyRequestsBursts: { every: 3, length: 1 },
      connectionResetRate: 0.05,
      latencyMs: 20,
      seed: 23,
    });
    try {
      await expectRunDelivered(exportId, 2);
    } finally {
      simulator.setFaults({});
    }
    const counters = simulator.state.counters;
    expect(counters.serverErrors + counters.connectionResets - before.serverErrors - before.connectionResets).toBeGreaterThan(0);
    expect(counters.tooManyRequests - before.tooManyRequests).toBeGreaterThan(0);
  });

  it('never shows the private key in a response or a log line', () => {
    expect(stack.api.transcript.join('\n')).not.toContain(API_KEY);
    expect(stack.logs.join('\n')).not.toContain(API_KEY);
  });
});
