// LinkedIn through the whole pipeline on a b2b lake of 50,000 contacts: a Contact segment as a
// user list (every valid contact once, under the SHA-256 of its normalised email, with names, title
// and ISO country), the same DMP segment reused on the next run, an Account segment refused as a
// contact list with the seeds' message, an Account segment as a company list (the company option),
// and a contact export surviving 5xx, 429, resets and slow answers with nothing lost or duplicated.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { segmentRows } from '../support/lakeRows.js';
import { isValidEmail } from '../../shared/segmentSender/dataMatching.js';
import type { LinkedinSimulator } from '../../local/simulators/linkedinSimulator.js';
import { runToEnd } from '../support/exportRuns.js';

const TOKEN = 'AQV-linkedin-token-8d2f6c1a9e';
const AD_ACCOUNT = '508123456';
const CONTACTS = 50_000;
const SEEDS_MESSAGE = (name: string) =>
  `The following segment isn't eligible for this export destination: '${name}'. Choose only segments of type ContactProfile and try again.`;
const CONTACT_MAPPING = { email: 'Email', firstName: 'FirstName', lastName: 'LastName', title: 'JobTitle', country: 'Country' };
const COUNTRY_CODES: Record<string, string> = { Norway: 'NO', Denmark: 'DK', Netherlands: 'NL', 'United Kingdom': 'GB' };

/** The enum value the simulated LinkedIn granted this application. */
const SOURCE_PLATFORM = 'OUTFLOW_E2E';

let stack: TestStack;
let simulator: LinkedinSimulator;
let connectionId: string;
let segments: { id: string; name: string; type: string; memberCount: number }[];

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: CONTACTS,
    seedKind: 'b2b',
    invalidEmailRate: 0.002,
    // The vendor's per-minute limits stay on; the engine's rate is raised so tests need not pace
    // themselves at the production 3 calls/s.
    simulatorOptions: {
      LINKEDIN_API_URL: { accessTokens: [TOKEN], adAccounts: [AD_ACCOUNT], sourcePlatforms: [SOURCE_PLATFORM], retryAfterHeader: true },
    },
    // Retry-After (which LinkedIn does not document) keeps the 429 storm below short; the adapter's wait
    // without one is tested in test/destinations/linkedin.test.ts.
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ linkedin: { requestsPerSecond: 20, burst: 20 } }) },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'LINKEDIN_API_URL')!.instance as LinkedinSimulator;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const runExport = (exportId: string) => runToEnd(stack.api, exportId, { timeoutMs: 40_000, intervalMs: 200 });

async function createExport(
  name: string,
  segmentName: string,
  mapping: Record<string, string>,
  details: Record<string, unknown>,
): Promise<string> {
  const segment = segments.find((candidate) => candidate.name === segmentName)!;
  const response = await stack.api.post('/exports', { name, connectionId, segments: [segment.id], mapping, details });
  expect(response.status).toBe(201);
  return response.body.id;
}

/** Compares the user list of a lake segment with its rows: every valid contact once, fields as mapped. */
async function expectUserListMatchesLake(segmentName: string): Promise<number> {
  const segment = segments.find((candidate) => candidate.name === segmentName)!;
  const rows = await segmentRows(stack.azurite.connectionString, segmentName);
  const valid = rows.filter((row) => isValidEmail(row.Email!.trim().toLowerCase()));
  const dmp = simulator.findSegment(segment.id)!;
  expect(dmp).toMatchObject({ type: 'USER', name: segmentName, account: `urn:li:sponsoredAccount:${AD_ACCOUNT}` });
  expect(simulator.inspectSegment(dmp.id)).toMatchObject({ memberCount: valid.length, duplicates: 0, rejectedElements: 0 });
  const mismatches: string[] = [];
  for (const row of valid) {
    const hash = sha256(row.Email!.trim().toLowerCase());
    const element = dmp.members.get(hash);
    const expected = {
      action: 'ADD',
      userIds: [{ idType: 'SHA256_EMAIL', idValue: hash }],
      firstName: row.FirstName,
      lastName: row.LastName,
      title: row.JobTitle!.slice(0, 50),
      country: COUNTRY_CODES[row.Country!],
    };
    if (JSON.stringify(element) !== JSON.stringify(expected))
      mismatches.push(`${row.Email}: ${JSON.stringify(element)} ≠ ${JSON.stringify(expected)}`);
  }
  expect(mismatches.slice(0, 5)).toEqual([]);
  return valid.length;
}

describe('a LinkedIn connection on a b2b lake', () => {
  it('lists Contact and Account segments, all eligible for LinkedIn, and tests the connection', async () => {
    // sourcePlatform is required and has no default: the refusal names it.
    const refused = await stack.api.post('/connections', {
      name: 'LinkedIn Ads',
      type: 'linkedin',
      settings: { adAccountId: AD_ACCOUNT },
      secrets: { accessToken: TOKEN },
      privacyConsent: true,
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('sourcePlatform');

    const created = await stack.api.post('/connections', {
      name: 'LinkedIn Ads',
      type: 'linkedin',
      settings: { adAccountId: AD_ACCOUNT, sourcePlatform: SOURCE_PLATFORM },
      secrets: { accessToken: TOKEN },
      privacyConsent: true,
    });
    expect(created.status).toBe(201);
    connectionId = created.body.id;
    expect((await stack.api.post(`/connections/${connectionId}/test`)).body).toEqual({ ok: true });

    const listed = await stack.api.get(`/segments?connectionId=${connectionId}`);
    expect(listed.status).toBe(200);
    segments = listed.body;
    expect(segments.find((segment) => segment.name === 'All customers')).toMatchObject({
      type: 'Contact',
      memberCount: CONTACTS,
      eligible: true,
    });
    expect(segments.filter((segment) => segment.type === 'Account').length).toBeGreaterThan(0);
    expect(segments.filter((segment) => segment.type === 'Account').every((segment) => (segment as { eligible?: boolean }).eligible)).toBe(
      true,
    );
  });
});

describe('contacts as a user list', () => {
  it('sends every valid contact once, hashed, with names, title and ISO country; invalid emails listed per record', async () => {
    const exportId = await createExport('LinkedIn contacts', 'All customers', CONTACT_MAPPING, { audienceType: 'contacts' });
    const run = await runExport(exportId);
    const valid = await expectUserListMatchesLake('All customers');
    expect(valid).toBeLessThan(CONTACTS);
    expect(run).toMatchObject({
      status: 'partiallySucceeded',
      counts: { members: CONTACTS, sent: valid, succeeded: valid, failed: 0, skipped: CONTACTS - valid },
    });
    const skipped = await stack.api.get(`/exports/${exportId}/runs/${run.id}/records?status=skipped&top=5000`);
    expect(skipped.body.items).toHaveLength(CONTACTS - valid);
    expect(skipped.body.items.every((item: { code: string }) => item.code === 'invalidEmail')).toBe(true);

    // The next run streams into the same DMP segment: nothing new created, members updated in place.
    const again = await runExport(exportId);
    expect(again.status).toBe('partiallySucceeded');
    expect(simulator.state.counters.segmentsCreated).toBe(1);
    const inspection = simulator.inspectSegment(
      simulator.findSegment(segments.find((segment) => segment.name === 'All customers')!.id)!.id,
    )!;
    expect(inspection).toMatchObject({ memberCount: valid, deliveries: 2 * valid });
  });

  it("refuses an Account segment as a contact list with the seeds' message, creating nothing at LinkedIn", async () => {
    const account = segments.find((segment) => segment.type === 'Account')!;
    const before = simulator.state.counters.requests;
    const response = await stack.api.post('/exports', {
      name: 'Accounts as contacts',
      connectionId,
      segments: [account.id],
      mapping: CONTACT_MAPPING,
      details: { audienceType: 'contacts' },
    });
    expect(response.status).toBe(422);
    expect(response.body.detail).toBe(SEEDS_MESSAGE(account.name));
    // The same account segment is fine with the company option.
    const companies = await stack.api.post('/exports', {
      name: 'Accounts as companies',
      connectionId,
      segments: [account.id],
      mapping: { companyName: 'Name' },
      details: { audienceType: 'companies' },
    });
    expect(companies.status).toBe(201);
    expect(simulator.findSegment(account.id)).toBeUndefined();
    expect(simulator.state.counters.requests).toBe(before);
  });

  it('survives 5xx, 429, connection resets and slow answers with nothing lost or duplicated', async () => {
    const exportId = await createExport('LinkedIn newsletter', 'Newsletter subscribers', CONTACT_MAPPING, {});
    simulator.setFaults({
      serverErrorRate: 0.25,
      connectionResetRate: 0.1,
      tooManyRequestsBursts: { every: 4, length: 2 },
      latencyMs: 20,
      latencyJitterMs: 40,
      seed: 11,
    });
    try {
      const run = await runExport(exportId);
      const valid = await expectUserListMatchesLake('Newsletter subscribers');
      expect(run).toMatchObject({ counts: { sent: valid, succeeded: valid, failed: 0 } });
      expect(
        simulator.state.counters.serverErrors + simulator.state.counters.connectionResets + simulator.state.counters.tooManyRequests,
      ).toBeGreaterThan(0);
      const dmp = simulator.findSegment(segments.find((segment) => segment.name === 'Newsletter subscribers')!.id)!;
      expect(simulator.inspectSegment(dmp.id)).toMatchObject({ memberCount: valid, deliveries: valid, duplicates: 0 });
    } finally {
      simulator.setFaults({});
    }
  });

  it('never shows the access token in a response or a log line', () => {
    expect(stack.api.transcript.join('\n')).not.toContain(TOKEN);
    expect(stack.logs.join('\n')).not.toContain(TOKEN);
  });
});

// Account rows have no email: the export's data matching (companyName required) comes from the
// adapter's dataMatchingFor, and the engine keys such members by their row.
describe('accounts as a company list (the company option)', () => {
  it('sends every account once, with its name and website domain', async () => {
    const account = segments.find((segment) => segment.name === 'Enterprise accounts')!;
    const exportId = await createExport(
      'LinkedIn ABM',
      account.name,
      { companyName: 'Name', companyWebsiteDomain: 'Website' },
      { audienceType: 'companies' },
    );
    const run = await runExport(exportId);
    const rows = await segmentRows(stack.azurite.connectionString, account.name);
    expect(run).toMatchObject({
      status: 'succeeded',
      counts: { members: rows.length, sent: rows.length, succeeded: rows.length, failed: 0, skipped: 0 },
    });
    const dmp = simulator.findSegment(account.id)!;
    expect(dmp).toMatchObject({ type: 'COMPANY', name: account.name });
    expect(simulator.inspectSegment(dmp.id)).toMatchObject({ memberCount: rows.length, deliveries: rows.length, duplicates: 0 });
    const mismatches = rows.filter((row) => {
      const key = ['', row.Domain!.toLowerCase(), '', '', row.Name!.trim().toLowerCase()].join('|');
      const element = dmp.members.get(key);
      return (
        JSON.stringify(element) !==
        JSON.stringify({ action: 'ADD', companyName: row.Name!.trim(), companyWebsiteDomain: row.Domain!.toLowerCase() })
      );
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});
