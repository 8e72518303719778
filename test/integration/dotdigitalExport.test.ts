// dotdigital through the whole pipeline: a 50,000-profile segment exported to an address book over
// the real local stack as CSV import files polled to Finished, every valid member exactly once with
// the right contact data fields, invalid and suppressed records listed per record — then the same
// again with 5xx, 429, failed and slow import jobs injected, nothing lost or duplicated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { segmentRows } from '../support/lakeRows.js';
import { isValidEmail } from '../../shared/segmentSender/dataMatching.js';
import type { DotdigitalSimulator } from '../../local/simulators/dotdigitalSimulator.js';
import { runRecords, runToEnd } from '../support/exportRuns.js';

const USERNAME = 'apiuser-4c1e9b@apiconnector.com';
const PASSWORD = 'dd-pass-8f2b6e0d9a';
const PROFILES = 50_000;
const MAPPING = {
  email: 'Email',
  firstName: 'FirstName',
  lastName: 'LastName',
  fullName: 'FullName',
  gender: 'Gender',
  postalCode: 'PostalCode',
};
const DATA_FIELDS: Record<string, string> = {
  FirstName: 'FIRSTNAME',
  LastName: 'LASTNAME',
  FullName: 'FULLNAME',
  Gender: 'GENDER',
  PostalCode: 'POSTCODE',
};

let stack: TestStack;
let simulator: DotdigitalSimulator;
let validRows: Record<string, string>[];
let invalidRows: Record<string, string>[];
/** Valid addresses on the account's suppression list. */
let suppressed: string[];
let connectionId: string;
let segmentId: string;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0.001,
    // The vendor's per-minute tier and the adapter's default rate would make a test wait minutes.
    simulatorOptions: {
      DOTDIGITAL_API_URL: { apiUsers: { [USERNAME]: PASSWORD }, rateLimit: { callsPerMinute: 6_000 }, importDelayMs: 300 },
    },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ dotdigital: { requestsPerSecond: 20, burst: 20 } }) },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'DOTDIGITAL_API_URL')!.instance as DotdigitalSimulator;
  const rows = await segmentRows(stack.azurite.connectionString, 'All customers');
  expect(rows).toHaveLength(PROFILES);
  validRows = rows.filter((row) => isValidEmail(row.Email!.trim().toLowerCase()));
  invalidRows = rows.filter((row) => !isValidEmail(row.Email!.trim().toLowerCase()));
  suppressed = [validRows[5]!, validRows[25_000]!, validRows[validRows.length - 1]!].map((row) => row.Email!.trim().toLowerCase());
  for (const email of suppressed) simulator.state.suppressed.add(email);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const runExport = (exportId: string) => runToEnd(stack.api, exportId, { timeoutMs: 45_000, intervalMs: 250 });
const records = (exportId: string, runId: string, status: 'failed' | 'skipped') => runRecords(stack.api, exportId, runId, status);

async function createExport(name: string, addressBookId: number): Promise<string> {
  const response = await stack.api.post('/exports', {
    name,
    connectionId,
    segments: [segmentId],
    mapping: MAPPING,
    details: { addressBookId },
  });
  expect(response.status).toBe(201);
  return response.body.id;
}

async function expectRunDelivered(exportId: string, addressBookId: number): Promise<void> {
  const run = await runExport(exportId);
  expect(run.status).toBe('partiallySucceeded');
  expect(run.counts).toEqual({
    members: PROFILES,
    sent: validRows.length,
    succeeded: validRows.length - suppressed.length,
    failed: 0,
    skipped: invalidRows.length + suppressed.length,
  });

  const delivered = validRows.length - suppressed.length;
  expect(simulator.inspectAddressBook(addressBookId)).toMatchObject({
    memberCount: delivered,
    deliveries: delivered,
    duplicates: 0,
    activeImports: 0,
  });
  // Row for row: each valid lake member under its lower-cased email with exactly the mapped data fields.
  const book = simulator.state.addressBooks.get(addressBookId)!;
  const mismatches: string[] = [];
  for (const row of validRows) {
    const email = row.Email!.trim().toLowerCase();
    if (suppressed.includes(email)) {
      if (book.members.has(email)) mismatches.push(`${email}: suppressed but present`);
      continue;
    }
    const contact = simulator.state.contacts.get(email);
    const expected = Object.fromEntries(
      Object.entries(DATA_FIELDS).flatMap(([attribute, field]) => (row[attribute]?.trim() ? [[field, row[attribute]!.trim()]] : [])),
    );
    if (!contact || !book.members.has(email)) mismatches.push(`${email}: missing`);
    else if (JSON.stringify(Object.entries(contact.dataFields).sort()) !== JSON.stringify(Object.entries(expected).sort())) {
      mismatches.push(`${email}: ${JSON.stringify(contact.dataFields)} ≠ ${JSON.stringify(expected)}`);
    }
  }
  expect(mismatches.slice(0, 5)).toEqual([]);

  const skipped = await records(exportId, run.id, 'skipped');
  expect(
    skipped
      .filter((record) => record.code === 'invalidEmail')
      .map((record) => record.email)
      .sort(),
  ).toEqual(invalidRows.map((row) => row.Email!.trim()).sort());
  expect(
    skipped
      .filter((record) => record.code !== 'invalidEmail')
      .map((record) => [record.email, record.code, record.message])
      .sort(),
  ).toEqual(
    suppressed
      .map((email) => [email, 'Globally Suppressed', "The address is on dotdigital's global suppression list; it was not added."])
      .sort(),
  );
  expect(await records(exportId, run.id, 'failed')).toEqual([]);
}

describe('a segment export to dotdigital', () => {
  it('tests a connection with the API user (region discovered through account-info)', async () => {
    const segments = await stack.api.get('/segments');
    const all = segments.body.find((segment: { name: string }) => segment.name === 'All customers');
    expect(all).toMatchObject({ type: 'Profile', memberCount: PROFILES });
    segmentId = all.id;
    expect(invalidRows.length).toBeGreaterThan(0);

    const wrong = await stack.api.post('/connections', {
      name: 'Wrong password',
      type: 'dotdigital',
      secrets: { username: USERNAME, password: 'nope' },
      privacyConsent: true,
    });
    expect(wrong.status).toBe(201);
    const refused = await stack.api.post(`/connections/${wrong.body.id}/test`);
    expect(refused.body.ok).toBe(false);
    expect(refused.body.reason).toContain('Authorization has been denied');

    const created = await stack.api.post('/connections', {
      name: 'dotdigital',
      type: 'dotdigital',
      secrets: { username: USERNAME, password: PASSWORD },
      privacyConsent: true,
    });
    expect(created.status).toBe(201);
    expect(created.body.settings).toEqual({ region: 'auto' });
    connectionId = created.body.id;
    expect((await stack.api.post(`/connections/${connectionId}/test`)).body).toEqual({ ok: true });
  });

  it('delivers every valid member exactly once with its data fields and lists the rest per record', async () => {
    const exportId = await createExport('Newsletter', 101);
    await expectRunDelivered(exportId, 101);
    const counters = simulator.state.counters;
    expect(counters.byRoute['GET /v2/contacts/import/{importId}/report-faults']).toBe(counters.imports);
    expect(counters.tooManyActiveImports).toBe(0);
  });

  it('survives 5xx, 429, failed and slow imports with nothing lost or duplicated', async () => {
    const exportId = await createExport('Newsletter under faults', 202);
    const before = { ...simulator.state.counters };
    // Seed 17 makes two imports end Failed and answers 5xx and 429s to uploads and polls.
    simulator.setFaults({
      serverErrorRate: 0.1,
      tooManyRequestsBursts: { every: 3, length: 1 },
      connectionResetRate: 0.05,
      failImportRate: 0.3,
      slowImportMs: 1_500,
      latencyMs: 20,
      seed: 17,
    });
    try {
      await expectRunDelivered(exportId, 202);
    } finally {
      simulator.setFaults({});
    }
    const counters = simulator.state.counters;
    expect(counters.serverErrors + counters.connectionResets - before.serverErrors - before.connectionResets).toBeGreaterThan(0);
    expect(counters.tooManyRequests - before.tooManyRequests).toBeGreaterThan(0);
    // Failed imports were re-sent (merge makes that harmless), and slow ones answered NotFinished
    // (the simulator's `polls` counts those answers) before they finished.
    const jobs = [...simulator.state.imports.values()].filter((job) => job.addressBookId === 202);
    expect(jobs.filter((job) => job.status === 'Failed').length).toBeGreaterThan(0);
    expect(jobs.filter((job) => job.status === 'Finished').length).toBeGreaterThan(0);
    expect(jobs.some((job) => job.polls >= 1)).toBe(true);
  });

  it('never shows the password in a response or a log line', () => {
    expect(stack.api.transcript.join('\n')).not.toContain(PASSWORD);
    expect(stack.logs.join('\n')).not.toContain(PASSWORD);
  });
});
