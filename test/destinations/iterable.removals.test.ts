// Iterable removals over real HTTP: the adapter's removeBatch against the simulator's
// `POST /api/lists/unsubscribe`, which takes users off the segment's own list.
import { describe, expect, it } from 'vitest';
import {
  fromUnsubscribeResult,
  iterable,
  type IterableDetails,
  type IterableSecrets,
  type IterableSettings,
} from '../../shared/destinations/iterable.js';
import type { DestinationCall, MappedMember, SegmentRef } from '../../shared/destinations/destination.js';
import { startIterableSimulator, type IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'iterable-test-key';
const ALL: SegmentRef = { id: 'Segment_AllCustomers', name: 'All customers', type: 'Profile' };
const VIP: SegmentRef = { id: 'Segment_VIP', name: 'VIP', type: 'Profile' };

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({ email: `${prefix}${index}@example.com`, fields: { firstName: 'Member' } }));
}

describe('fromUnsubscribeResult', () => {
  it('counts users the project lacks or forgot as removed, and keeps invalid emails as failures', () => {
    const result = fromUnsubscribeResult({
      successCount: 2,
      failCount: 3,
      failedUpdates: { invalidEmails: ['bad@'], notFoundEmails: ['gone@example.com'], forgottenEmails: ['forgotten@example.com'] },
    });
    expect(result).toEqual({
      succeeded: 4,
      failures: [expect.objectContaining({ email: 'bad@', status: 'failed', category: 'invalidRecord', code: 'invalidEmail' })],
    });
  });
});

describe('Iterable removals against the simulator', () => {
  let simulator: IterableSimulator;
  useSimulator(async () => (simulator = await startIterableSimulator({ apiKeys: [API_KEY], rateLimit: false })));

  type Call = DestinationCall<IterableSettings, IterableSecrets, IterableDetails>;
  const call = (details: IterableDetails, segment: SegmentRef | undefined, apiKey = API_KEY, origin = simulator.url): Call => ({
    settings: { region: 'US' },
    secrets: { apiKey },
    details,
    apiOrigin: origin,
    segment,
  });
  const prepared = (origin = simulator.url) =>
    iterable.prepareRun!(call({}, undefined, API_KEY, origin), {
      segments: [ALL, VIP],
      segmentNames: ['All customers', 'VIP'],
      mappedFields: ['email'],
    });
  const listMembers = (listId: number) => [...simulator.state.lists.get(listId)!.members].sort();

  it('declares removals in batches of 1,000, a list per segment', () => {
    expect(iterable.removeBatch).toBeTypeOf('function');
    expect(iterable.removalBatchSize).toBe(1000);
  });

  it('takes present members off the segment list only; absent and unknown users count as removed; invalid emails fail', async () => {
    const details = await prepared();
    const everyone = members(5);
    await iterable.sendBatch(call(details, ALL), everyone);
    await iterable.sendBatch(call(details, VIP), everyone);

    const leaving = [everyone[0]!, everyone[1]!, { email: 'never-sent@example.com', fields: {} }, { email: 'broken@example', fields: {} }];
    const result = await iterable.removeBatch!(call(details, ALL), leaving);
    expect(result).toEqual({
      succeeded: 3,
      failures: [expect.objectContaining({ email: 'broken@example', status: 'failed', category: 'invalidRecord', code: 'invalidEmail' })],
    });
    expect(listMembers(details.listIds!.Segment_AllCustomers!)).toEqual([
      'member2@example.com',
      'member3@example.com',
      'member4@example.com',
    ]);
    // The other segment's list and the users themselves stay.
    expect(listMembers(details.listIds!.Segment_VIP!)).toHaveLength(5);
    expect(simulator.state.users.has('member0@example.com')).toBe(true);
    expect(simulator.state.counters).toMatchObject({ unsubscribeCalls: 1, unsubscribedUsers: 2, channelUnsubscribes: 0 });

    // Removing again is a success: they are already absent.
    expect(await iterable.removeBatch!(call(details, ALL), everyone.slice(0, 2))).toEqual({ succeeded: 2, failures: [] });
    expect(simulator.state.counters.unsubscribedUsers).toBe(2);
  });

  it('a removal without a prepared list for the segment is a config error and calls nothing', async () => {
    expect((await thrown(iterable.removeBatch!(call({}, ALL), members(1)))).category).toBe('config');
    expect(simulator.state.counters.requests).toBe(0);
  });

  it('a deleted list is config, a bad key auth, a 429 rateLimited (no wait: Iterable documents no Retry-After), a 5xx vendorUnavailable', async () => {
    const details = await prepared();
    expect(await thrown(iterable.removeBatch!(call({ listIds: { Segment_AllCustomers: 999 } }, ALL), members(1)))).toMatchObject({
      category: 'config',
      options: { status: 400 },
    });
    expect(await thrown(iterable.removeBatch!(call(details, ALL, 'wrong-key'), members(1)))).toMatchObject({
      category: 'auth',
      options: { status: 401 },
    });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    await iterable.removeBatch!(call(details, ALL), members(1));
    expect(await thrown(iterable.removeBatch!(call(details, ALL), members(1)))).toMatchObject({
      category: 'rateLimited',
      options: { status: 429, retryAfterMs: undefined },
    });
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(iterable.removeBatch!(call(details, ALL), members(1)))).toMatchObject({
      category: 'vendorUnavailable',
      retryable: true,
    });
  });

  it('the unsubscribe endpoint has its own rate bucket answering 429 (with Retry-After when the simulator is asked for one)', async () => {
    const limited = await startIterableSimulator({
      apiKeys: [API_KEY],
      rateLimit: { requestsPerSecond: 0.5, burst: 1 },
      retryAfterHeader: true,
    });
    try {
      const details = await prepared(limited.url);
      await iterable.sendBatch(call(details, ALL, API_KEY, limited.url), members(2));
      await iterable.removeBatch!(call(details, ALL, API_KEY, limited.url), members(1));
      expect(await thrown(iterable.removeBatch!(call(details, ALL, API_KEY, limited.url), members(1)))).toMatchObject({
        category: 'rateLimited',
        options: { retryAfterMs: 2000 },
      });
    } finally {
      await limited.stop();
    }
  });

  it('the simulator refuses what Iterable documents as invalid: empty subscribers, over the cap, a non-boolean channelUnsubscribe', async () => {
    const details = await prepared();
    const post = (body: unknown) =>
      fetch(`${simulator.url}/api/lists/unsubscribe`, {
        method: 'POST',
        headers: { 'Api-Key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const listId = details.listIds!.Segment_AllCustomers;
    expect((await post({ listId, subscribers: [] })).status).toBe(400);
    expect((await post({ listId, subscribers: [{ email: 'a@example.com' }], channelUnsubscribe: 'yes' })).status).toBe(400);
    await iterable.sendBatch(call(details, ALL), members(1));
    expect(await (await post({ listId, subscribers: [{ email: 'member0@example.com' }], channelUnsubscribe: true })).json()).toMatchObject({
      successCount: 1,
      failCount: 0,
    });
    expect(simulator.state.counters.channelUnsubscribes).toBe(1);
    // No cap per call is published (vendorFacts.ts): BatchTooLarge only past a cap the simulator is given.
    const capped = await startIterableSimulator({ apiKeys: [API_KEY], maxSubscribersPerRequest: 2 });
    try {
      const refused = await fetch(`${capped.url}/api/lists/unsubscribe`, {
        method: 'POST',
        headers: { 'Api-Key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ listId, subscribers: members(3).map((member) => ({ email: member.email })) }),
      });
      expect(await refused.json()).toMatchObject({ code: 'BatchTooLarge' });
    } finally {
      await capped.stop();
    }
  });
});
