// The vendors' documented throttles through the whole pipeline: Mailchimp answering every 7th
// batch call with a bodiless 403 ("At exceptionally high volumes, you may receive an HTTP 429 or
// 403 without a JSON body", Mailchimp's rate-limit docs) and dotdigital refusing every other import
// with the flat scheme's 400 ERROR_APIUSAGE_EXCEEDED. Both are throttles, not auth or config
// failures: the runs deliver every member exactly once and end succeeded. (That the engine counts
// them in outflow.vendor.rate_limited is shown in-process by test/destinations/vendorThrottles.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { segmentRows } from '../support/lakeRows.js';
import type { MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import type { DotdigitalSimulator } from '../../local/simulators/dotdigitalSimulator.js';
import { runToEnd } from '../support/exportRuns.js';

const PROFILES = 10_000;
const MAILCHIMP_KEY = '7d2c4e6a8b0f1e3d5c7a9b1d3f5e7a9c-us21';
const DD_USER = 'apiuser-7e2d1c@apiconnector.com';
const DD_PASSWORD = 'dd-flat-3c9a1e';

let stack: TestStack;
let mailchimpSimulator: MailchimpSimulator;
let dotdigitalSimulator: DotdigitalSimulator;
let emails: string[];
let segmentId: string;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    // Every lake member valid, so a run that loses nobody ends succeeded.
    invalidEmailRate: 0,
    simulatorOptions: {
      // The audience exists; the simulator answers unknown ones 404 as the vendor does.
      MAILCHIMP_API_URL: {
        apiKeys: [MAILCHIMP_KEY],
        lists: ['audience-throttled'],
        autoCreateLists: false,
        faults: { bodilessThrottle: { every: 7, status: 403 } },
      },
      DOTDIGITAL_API_URL: {
        apiUsers: { [DD_USER]: DD_PASSWORD },
        rateLimit: false,
        importDelayMs: 200,
        faults: { apiUsageExceeded: { every: 2 } },
      },
    },
    settings: {
      DESTINATION_RATE_LIMITS: JSON.stringify({
        mailchimp: { requestsPerSecond: 50, burst: 50 },
        dotdigital: { requestsPerSecond: 20, burst: 20 },
      }),
    },
  });
  mailchimpSimulator = stack.simulators.find((candidate) => candidate.setting === 'MAILCHIMP_API_URL')!.instance as MailchimpSimulator;
  dotdigitalSimulator = stack.simulators.find((candidate) => candidate.setting === 'DOTDIGITAL_API_URL')!.instance as DotdigitalSimulator;
  emails = (await segmentRows(stack.azurite.connectionString, 'All customers')).map((row) => row.Email!.trim().toLowerCase());
  const segments = await stack.api.get('/segments');
  segmentId = segments.body.find((segment: { name: string }) => segment.name === 'All customers').id;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function exportTo(
  type: string,
  secrets: Record<string, string>,
  details: Record<string, unknown>,
): Promise<{ status: string; counts: Record<string, number> }> {
  const connection = await stack.api.post('/connections', { name: `${type} throttled`, type, secrets, privacyConsent: true });
  expect(connection.status).toBe(201);
  const created = await stack.api.post('/exports', {
    name: `${type} under throttling`,
    connectionId: connection.body.id,
    segments: [segmentId],
    mapping: { email: 'Email', firstName: 'FirstName' },
    details,
  });
  expect(created.status).toBe(201);
  return runToEnd(stack.api, created.body.id, { timeoutMs: 90_000, intervalMs: 250 });
}

describe('documented vendor throttles', () => {
  it('Mailchimp: a bodiless 403 on every 7th batch call is retried as a throttle; every member once, run succeeded', async () => {
    expect(emails).toHaveLength(PROFILES);
    const run = await exportTo('mailchimp', { apiKey: MAILCHIMP_KEY }, { listId: 'audience-throttled' });
    expect(run.status).toBe('succeeded');
    expect(run.counts).toEqual({ members: PROFILES, sent: PROFILES, succeeded: PROFILES, failed: 0, skipped: 0 });
    expect(mailchimpSimulator.inspectList('audience-throttled')).toMatchObject({
      memberCount: PROFILES,
      deliveries: PROFILES,
      duplicates: 0,
    });
    const members = mailchimpSimulator.state.lists.get('audience-throttled')!.members;
    expect(emails.filter((email) => !members.has(email))).toEqual([]);
    // 20 calls of 500 at least, so the 7th and 14th were refused.
    expect(mailchimpSimulator.state.counters.bodilessThrottles).toBeGreaterThanOrEqual(2);
  });

  it('dotdigital: ERROR_APIUSAGE_EXCEEDED on every other import is retried as a throttle; every member once, run succeeded', async () => {
    const run = await exportTo('dotdigital', { username: DD_USER, password: DD_PASSWORD }, { addressBookId: 501 });
    expect(run.status).toBe('succeeded');
    expect(run.counts).toEqual({ members: PROFILES, sent: PROFILES, succeeded: PROFILES, failed: 0, skipped: 0 });
    expect(dotdigitalSimulator.inspectAddressBook(501)).toMatchObject({
      memberCount: PROFILES,
      deliveries: PROFILES,
      duplicates: 0,
      activeImports: 0,
    });
    const counters = dotdigitalSimulator.state.counters;
    expect(counters.apiUsageExceeded).toBeGreaterThanOrEqual(1);
    // Each refused upload was sent again and imported once: refusals + imports = uploads.
    expect(counters.byRoute['POST /v2/address-books/{addressBookId}/contacts/import/with-merge-option/{mergeOption}']).toBe(
      counters.imports + counters.apiUsageExceeded,
    );
  });
});
