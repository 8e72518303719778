// Segment eligibility on a business (B2B) lake: Campaign Monitor needs contact fields, so account
// segments are refused with the seeds' message, word for word, in the segment list and as a 422
// on creating or changing an export.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { expectProblem } from '../support/apiAssertions.js';
import { ineligibleSegmentMessage } from '../../shared/exports/eligibility.js';

const SEEDS_MESSAGE =
  "The following segment isn't eligible for this export destination: 'Enterprise accounts'. Choose only segments of type ContactProfile and try again.";

let stack: TestStack;
let connectionId: string;

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: 600,
    seedKind: 'b2b',
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } },
  });
  const created = await stack.api.post('/connections', {
    name: 'CM b2b',
    type: 'campaign-monitor',
    secrets: { apiKey: 'any-key' },
    sharing: 'contributors',
    privacyConsent: true,
  });
  connectionId = created.body.id;
});

afterAll(async () => {
  await stack?.stop();
});

describe('eligibility on a B2B lake', () => {
  it("uses the seeds' message", () => {
    expect(ineligibleSegmentMessage('Enterprise accounts')).toBe(SEEDS_MESSAGE);
  });

  it("lists account segments as ineligible with the seeds' reason, contact segments as eligible", async () => {
    const plain = await stack.api.get('/segments');
    expect(new Set(plain.body.map((segment: { type: string }) => segment.type))).toEqual(new Set(['Contact', 'Account']));
    const response = await stack.api.as(await stack.tokenFor('contributor', 'carol')).get(`/segments?connectionId=${connectionId}`);
    expect(response.status).toBe(200);
    const enterprise = response.body.find((segment: { name: string }) => segment.name === 'Enterprise accounts');
    expect(enterprise).toMatchObject({ type: 'Account', eligible: false, reason: SEEDS_MESSAGE });
    for (const segment of response.body as { type: string; eligible: boolean; reason?: string }[]) {
      expect(segment.eligible).toBe(segment.type === 'Contact');
      if (segment.type === 'Contact') expect(segment.reason).toBeUndefined();
    }
  });

  it('refuses an export of an account segment with 422 and the message', async () => {
    const response = await stack.api.post('/exports', {
      name: 'Accounts',
      connectionId,
      segments: ['Segment_EnterpriseAccounts'],
      mapping: { email: 'Email' },
      details: { listId: 'accounts' },
    });
    expectProblem(response, 422);
    expect(response.body.detail).toBe(SEEDS_MESSAGE);
    const mixed = await stack.api.post('/exports', {
      name: 'Mixed',
      connectionId,
      segments: ['Segment_DecisionMakers', 'Segment_EnterpriseAccounts'],
      mapping: { email: 'Email' },
      details: { listId: 'mixed' },
    });
    expectProblem(mixed, 422);
    expect(mixed.body.detail).toBe(SEEDS_MESSAGE);
  });

  it('refuses changing an export to an account segment with 422 and the message, keeping the export as it was', async () => {
    const created = await stack.api.post('/exports', {
      name: 'Contacts',
      connectionId,
      segments: ['Segment_DecisionMakers'],
      mapping: { email: 'Email', firstName: 'FirstName' },
      details: { listId: 'contacts' },
    });
    expect(created.status, created.text).toBe(201);
    const response = await stack.api.patch(
      `/exports/${created.body.id}`,
      { segments: ['Segment_EnterpriseAccounts'] },
      { 'if-match': created.body.etag },
    );
    expectProblem(response, 422);
    expect(response.body.detail).toBe(SEEDS_MESSAGE);
    const after = await stack.api.get(`/exports/${created.body.id}`);
    expect(after.body.segments).toEqual(['Segment_DecisionMakers']);
    expect(after.body.etag).toBe(created.body.etag);
  });
});

describe('GET /destinations capabilities', () => {
  it('declares removals where the adapter can remove, never for the file destination; changes for every segment destination', async () => {
    const catalog = (await stack.api.get('/destinations')).body as {
      type: string;
      capabilities: { changes: boolean; removals: boolean };
    }[];
    const capabilities = Object.fromEntries(catalog.map((entry) => [entry.type, entry.capabilities]));
    for (const type of ['iterable', 'mailchimp', 'campaign-monitor', 'dotdigital', 'linkedin', 'klaviyo', 'google-ads'])
      expect(capabilities[type], type).toEqual({ changes: true, removals: true });
    // A file has no list to take anyone off.
    expect(capabilities['azure-blob']).toEqual({ changes: true, removals: false });
  });
});
