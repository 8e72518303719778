// Iterable through the whole pipeline: two segments of a 50,000-profile lake → an iterable
// connection → one export → runs. Every valid member lands exactly once in the static list named
// like its segment (a VIP member in both lists), invalid emails are listed per record, a second
// run finds the lists instead of creating new ones, and injected faults lose or duplicate nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { segmentRows } from '../support/lakeRows.js';
import { isValidEmail } from '../../shared/segmentSender/dataMatching.js';
import { toE164 } from '../../shared/destinations/iterable.js';
import type { IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { runToEnd } from '../support/exportRuns.js';

const API_KEY = 'itbl-secret-key-4e9d2a7c1b';
const PROFILES = 50_000;
const SEGMENT_NAMES = ['All customers', 'VIP'] as const;

let stack: TestStack;
let simulator: IterableSimulator;

interface SegmentExpectation {
  id: string;
  name: string;
  rows: Record<string, string>[];
  valid: Record<string, string>[];
  invalid: Record<string, string>[];
}
const segments = new Map<string, SegmentExpectation>();

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    invalidEmailRate: 0.001,
    // The simulator enforces a per-project limit just above the one the engine is given.
    simulatorOptions: { ITERABLE_API_URL: { apiKeys: [API_KEY], rateLimit: { requestsPerSecond: 120, burst: 120 } } },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ iterable: { requestsPerSecond: 100, burst: 100 } }) },
  });
  simulator = stack.simulators.find((candidate) => candidate.setting === 'ITERABLE_API_URL')!.instance as IterableSimulator;
});

afterAll(async () => {
  await stack?.stop();
});

const runExport = (exportId: string) => runToEnd(stack.api, exportId, { timeoutMs: 45_000 });

async function skippedRecords(
  exportId: string,
  runId: string,
): Promise<{ email: string; segmentId: string; code: string; category: string }[]> {
  const records: { email: string; segmentId: string; code: string; category: string }[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const query = `status=skipped&top=5000${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
    const response = await stack.api.get(`/exports/${exportId}/runs/${runId}/records?${query}`);
    expect(response.status).toBe(200);
    records.push(...response.body.items);
    token = response.body.continuationToken;
    if (!token) return records;
  }
  throw new Error('more record pages than expected');
}

describe('an Iterable export flowing end to end', () => {
  let connectionId: string;
  let exportId: string;
  const expectedCounts = () => {
    const all = [...segments.values()];
    const members = all.reduce((sum, segment) => sum + segment.rows.length, 0);
    const valid = all.reduce((sum, segment) => sum + segment.valid.length, 0);
    return { members, sent: valid, succeeded: valid, failed: 0, skipped: members - valid };
  };

  it('reads both segments from the API and the lake', async () => {
    const response = await stack.api.get('/segments');
    for (const name of SEGMENT_NAMES) {
      const summary = response.body.find((segment: { name: string }) => segment.name === name);
      expect(summary).toMatchObject({ type: 'Profile' });
      const rows = await segmentRows(stack.azurite.connectionString, name);
      expect(rows).toHaveLength(summary.memberCount);
      const valid = rows.filter((row) => isValidEmail((row.Email ?? '').trim().toLowerCase()));
      const invalid = rows.filter((row) => !isValidEmail((row.Email ?? '').trim().toLowerCase()));
      segments.set(name, { id: summary.id, name, rows, valid, invalid });
    }
    expect(segments.get('All customers')!.rows).toHaveLength(PROFILES);
    expect(segments.get('All customers')!.invalid.length).toBeGreaterThan(0);
    expect(segments.get('VIP')!.rows.length).toBeGreaterThan(0);
  });

  it('creates an EU connection whose test call passes, and a bad key gives the vendor reason', async () => {
    const created = await stack.api.post('/connections', {
      name: 'Iterable EU',
      type: 'iterable',
      settings: { region: 'EU' },
      secrets: { apiKey: API_KEY },
      privacyConsent: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'iterable', settings: { region: 'EU' }, secretsSet: ['apiKey'] });
    connectionId = created.body.id;
    expect((await stack.api.post(`/connections/${connectionId}/test`)).body).toEqual({ ok: true });

    const wrong = await stack.api.post('/connections', {
      name: 'Iterable wrong key',
      type: 'iterable',
      secrets: { apiKey: 'not-the-key' },
      privacyConsent: true,
    });
    expect(wrong.body.settings).toEqual({ region: 'US' });
    const tested = await stack.api.post(`/connections/${wrong.body.id}/test`);
    expect(tested.body.ok).toBe(false);
    expect(tested.body.reason).toContain('Invalid API key');
  });

  it('creates an export of both segments with no destination details', async () => {
    const response = await stack.api.post('/exports', {
      name: 'Iterable lists',
      connectionId,
      segments: [...segments.values()].map((segment) => segment.id),
      mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', postalCode: 'PostalCode', phone: 'Phone' },
    });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ status: 'active', connectionType: 'iterable' });
    exportId = response.body.id;
  });

  it('runs it: every valid member lands once in the list named like its segment, invalid ones are listed', async () => {
    const run = await runExport(exportId);
    const runId = run.id;
    expect(run.status).toBe('partiallySucceeded');
    expect(run.counts).toEqual(expectedCounts());

    for (const segment of segments.values()) {
      const lists = simulator.listsNamed(segment.name);
      expect(lists).toHaveLength(1);
      expect(lists[0]).toMatchObject({ memberCount: segment.valid.length, deliveries: segment.valid.length, duplicates: 0 });
      // Row for row: the member is in the list and the profile carries the mapped fields.
      const members = simulator.state.lists.get(lists[0]!.listId)!.members;
      const mismatches = segment.valid.filter((row) => {
        const email = row.Email!.trim().toLowerCase();
        const fields = simulator.state.users.get(email)?.dataFields;
        return (
          !members.has(email) ||
          !fields ||
          fields.firstName !== (row.FirstName || undefined) ||
          fields.lastName !== (row.LastName || undefined) ||
          fields.postalCode !== (row.PostalCode || undefined) ||
          fields.phoneNumber !== toE164(row.Phone ?? '')
        );
      });
      expect(mismatches).toEqual([]);
    }
    // A VIP member is a member of both lists, as one user profile.
    const vip = segments.get('VIP')!.valid[0]!.Email!.trim().toLowerCase();
    for (const name of SEGMENT_NAMES) expect(simulator.state.lists.get(simulator.listsNamed(name)[0]!.listId)!.members.has(vip)).toBe(true);
    expect(simulator.state.users.size).toBe(segments.get('All customers')!.valid.length);

    // The skipped records are exactly the lake's invalid rows, per segment.
    const skipped = await skippedRecords(exportId, runId);
    expect(skipped.every((record) => record.code === 'invalidEmail' && record.category === 'invalidRecord')).toBe(true);
    const expected = [...segments.values()].flatMap((segment) => segment.invalid.map((row) => `${segment.id}|${(row.Email ?? '').trim()}`));
    expect(skipped.map((record) => `${record.segmentId}|${record.email}`).sort()).toEqual(expected.sort());
  });

  it('runs again with 5xx, 429 bursts and latency injected: same lists, each member once more, nothing lost', async () => {
    const listIds = SEGMENT_NAMES.map((name) => simulator.listsNamed(name)[0]!.listId);
    const listsCreated = simulator.state.counters.listsCreated;
    simulator.setFaults({
      serverErrorRate: 0.12,
      tooManyRequestsBursts: { every: 5, length: 1 },
      latencyMs: 10,
      latencyJitterMs: 30,
      seed: 11,
    });
    const run = await runExport(exportId);
    const counters = { ...simulator.state.counters };
    simulator.setFaults({});

    expect(run.status).toBe('partiallySucceeded');
    expect(run.counts).toEqual(expectedCounts());
    expect(counters.serverErrors).toBeGreaterThan(0);
    expect(counters.tooManyRequests).toBeGreaterThan(0);
    // Found by name, not created again.
    expect(counters.listsCreated).toBe(listsCreated);
    expect(SEGMENT_NAMES.map((name) => simulator.listsNamed(name).map((list) => list.listId))).toEqual(listIds.map((id) => [id]));
    for (const segment of segments.values()) {
      const list = simulator.state.lists.get(simulator.listsNamed(segment.name)[0]!.listId)!;
      expect(list.members.size).toBe(segment.valid.length);
      // Once per run: two deliveries for every valid member, never three.
      const notTwice = [...list.deliveries].filter(([, count]) => count !== 2);
      expect(notTwice).toEqual([]);
      expect(list.deliveries.size).toBe(segment.valid.length);
    }
  });

  it('never shows the API key in a response or a log line', () => {
    expect(stack.api.transcript.join('\n')).not.toContain(API_KEY);
    expect(stack.logs.join('\n')).not.toContain(API_KEY);
  });
});
