// Klaviyo removals over real HTTP: per batch of up to 100 emails, "Get Profile IDs for List"
// (filter any(email, …)) finds the list's members, then "Remove Profiles from List" takes them off.
import { describe, expect, it } from 'vitest';
import { createKlaviyoAdapter, type KlaviyoDetails } from '../../shared/destinations/klaviyo.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { startKlaviyoSimulator, type KlaviyoSimulator } from '../../local/simulators/klaviyoSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'pk_removals';
const LIST = 'OutFlw';
const fast = createKlaviyoAdapter({ polling: { firstDelayMs: 10, maxDelayMs: 50 } });
const impatient = createKlaviyoAdapter({ polling: { firstDelayMs: 10, maxDelayMs: 50, maxConsecutiveErrors: 0 } });
const members = (count: number, prefix = 'member'): MappedMember[] =>
  Array.from({ length: count }, (_, index) => ({ email: `${prefix}${index}@lovelace.dev`, fields: {} }));

describe('Klaviyo removals against the simulator', () => {
  let simulator: KlaviyoSimulator;
  useSimulator(
    async () =>
      (simulator = await startKlaviyoSimulator({
        apiKeys: [API_KEY],
        rateLimit: false,
        jobDurationMs: () => 20,
        lists: { OutFlw: 'Outflow', Other: 'Other' },
      })),
  );

  type Call = DestinationCall<Record<string, never>, { apiKey: string }, KlaviyoDetails>;
  const call = (details: KlaviyoDetails = { listId: LIST }, apiKey = API_KEY, origin?: string): Call => ({
    settings: {},
    secrets: { apiKey },
    details,
    apiOrigin: origin ?? simulator.url,
  });
  const listMembers = (listId = LIST) => [...simulator.state.lists.get(listId)!.members].sort();

  it('declares batches of 100 emails, two calls each (lookup, delete)', () => {
    expect(fast.removeBatch).toBeTypeOf('function');
    expect(fast.removalBatchSize).toBe(100);
    expect(fast.removalCallsPerBatch).toBe(2);
  });

  it('takes present members off the list; absent and malformed emails count as removed; profiles and other lists stay', async () => {
    await fast.sendBatch(call(), members(5));
    await fast.sendBatch(call({ listId: 'Other' }), members(5));
    const before = simulator.state.counters.requests;
    const result = await fast.removeBatch!(call(), [
      ...members(2),
      { email: 'never-sent@lovelace.dev', fields: {} },
      { email: 'not-an-email', fields: {} },
    ]);
    expect(result).toEqual({ succeeded: 4, failures: [] });
    expect(simulator.state.counters.requests - before).toBe(2);
    expect(listMembers()).toEqual(['member2@lovelace.dev', 'member3@lovelace.dev', 'member4@lovelace.dev']);
    expect(listMembers('Other')).toHaveLength(5);
    expect(simulator.state.profiles.has('member0@lovelace.dev')).toBe(true);
    expect(simulator.state.counters.profilesRemoved).toBe(2);

    // Nobody left to remove: the lookup finds none and no delete is sent.
    expect(await fast.removeBatch!(call(), members(2))).toEqual({ succeeded: 2, failures: [] });
    expect(simulator.state.counters.byRoute['DELETE /api/lists/{id}/relationships/profiles']).toBe(1);
  });

  it('more than 100 emails is refused before any call', async () => {
    expect((await thrown(fast.removeBatch!(call(), members(101)))).category).toBe('config');
    expect(simulator.state.counters.requests).toBe(0);
  });

  it('an unknown list is config, a bad key auth, a 429 rateLimited with its wait, a 5xx vendorUnavailable', async () => {
    expect(await thrown(impatient.removeBatch!(call({ listId: 'Nope' }), members(1)))).toMatchObject({
      category: 'config',
      options: { status: 404 },
    });
    expect(await thrown(impatient.removeBatch!(call(undefined, 'pk_wrong'), members(1)))).toMatchObject({
      category: 'auth',
      options: { status: 401 },
    });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    await impatient.removeBatch!(call(), members(1));
    expect(await thrown(impatient.removeBatch!(call(), members(1)))).toMatchObject({
      category: 'rateLimited',
      options: { status: 429, retryAfterMs: 1000 },
    });
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(impatient.removeBatch!(call(), members(1)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
  });

  it('the delete has its own tier (10/s): a throttled delete waits and goes through without a second lookup', async () => {
    const limited = await startKlaviyoSimulator({
      apiKeys: [API_KEY],
      jobDurationMs: () => 20,
      rateLimit: { burstPerSecond: 1, steadyPerMinute: 100 },
    });
    try {
      await fast.sendBatch(call(undefined, API_KEY, limited.url), members(3));
      expect(await fast.removeBatch!(call(undefined, API_KEY, limited.url), members(1))).toEqual({ succeeded: 1, failures: [] });
      expect(await fast.removeBatch!(call(undefined, API_KEY, limited.url), [{ email: 'member1@lovelace.dev', fields: {} }])).toEqual({
        succeeded: 1,
        failures: [],
      });
      // The second delete fell in the same second: throttled once, waited out.
      expect(limited.state.counters.tooManyRequests).toBeGreaterThanOrEqual(1);
      expect([...limited.state.lists.get(LIST)!.members].sort()).toEqual(['member2@lovelace.dev']);
      expect(limited.state.counters.byRoute['GET /api/lists/{id}/relationships/profiles']).toBe(2);
    } finally {
      await limited.stop();
    }
  });

  it('the simulator refuses a filter it does not know and more than 1,000 ids', async () => {
    const headers = { authorization: `Klaviyo-API-Key ${API_KEY}`, revision: '2026-07-15', 'content-type': 'application/vnd.api+json' };
    const bad = await fetch(
      `${simulator.url}/api/lists/${LIST}/relationships/profiles?filter=${encodeURIComponent('contains(email,"x")')}`,
      { headers },
    );
    expect(bad.status).toBe(400);
    const tooMany = await fetch(`${simulator.url}/api/lists/${LIST}/relationships/profiles`, {
      method: 'DELETE',
      headers,
      body: JSON.stringify({ data: Array.from({ length: 1001 }, (_, index) => ({ type: 'profile', id: `p${index}` })) }),
    });
    expect(tooMany.status).toBe(400);
  });
});
