// Mailchimp removals over real HTTP: the adapter's removeBatch unsubscribes members with the batch
// call `POST /3.0/lists/{list_id}` (status 'unsubscribed'), against the simulator's audience state.
import { describe, expect, it } from 'vitest';
import { mailchimp, type MailchimpDetails, type MailchimpSecrets, type MailchimpSettings } from '../../shared/destinations/mailchimp.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { startMailchimpSimulator, type MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f0-us6';

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({ email: `${prefix}${index}@lovelace.dev`, fields: { firstName: 'Member' } }));
}

describe('Mailchimp removals against the simulator', () => {
  let simulator: MailchimpSimulator;
  let listSeq = 0;
  useSimulator(async () => (simulator = await startMailchimpSimulator({ apiKeys: [API_KEY], dataCenter: 'us6', autoCreateLists: true })));

  type Call = DestinationCall<MailchimpSettings, MailchimpSecrets, MailchimpDetails>;
  function call(details: Partial<MailchimpDetails> = {}, apiKey = API_KEY): Call {
    listSeq += 1;
    return { settings: {}, secrets: { apiKey }, details: { listId: `audience-${listSeq}`, ...details }, apiOrigin: simulator.url };
  }
  const subscribed = (listId: string) =>
    [...simulator.state.lists.get(listId)!.members.entries()]
      .filter(([, member]) => member.status === 'subscribed')
      .map(([email]) => email)
      .sort();

  it('declares removals in batches of 500', () => {
    expect(mailchimp.removeBatch).toBeTypeOf('function');
    expect(mailchimp.removalBatchSize).toBe(500);
  });

  it('unsubscribes present members in one call; absent ones count as removed; invalid emails fail per record', async () => {
    const target = call();
    const everyone = members(5);
    await mailchimp.sendBatch(target, everyone);
    const leaving = [everyone[0]!, everyone[1]!, { email: 'never-sent@lovelace.dev', fields: {} }, { email: 'not-an-email', fields: {} }];
    const result = await mailchimp.removeBatch!(target, leaving);
    expect(result.succeeded).toBe(3);
    expect(result.failures).toEqual([expect.objectContaining({ email: 'not-an-email', status: 'failed', category: 'invalidRecord' })]);
    expect(subscribed(target.details.listId)).toEqual(['member2@lovelace.dev', 'member3@lovelace.dev', 'member4@lovelace.dev']);
    const list = simulator.state.lists.get(target.details.listId)!;
    expect(list.members.get('member0@lovelace.dev')!.status).toBe('unsubscribed');
    expect(simulator.state.counters.byRoute['POST /lists/{list_id}']).toBe(2);

    // Again: already unsubscribed, still a success, and no one changes.
    expect(await mailchimp.removeBatch!(target, everyone.slice(0, 2))).toEqual({ succeeded: 2, failures: [] });
    expect(subscribed(target.details.listId)).toHaveLength(3);
  });

  it('more than 500 is refused before any call; an unknown audience is config; a bad key auth', async () => {
    expect((await thrown(mailchimp.removeBatch!(call(), members(501)))).category).toBe('config');
    expect(simulator.state.counters.requests).toBe(0);
    const strict = await startMailchimpSimulator({ apiKeys: [API_KEY], autoCreateLists: false });
    try {
      const error = await thrown(mailchimp.removeBatch!({ ...call({ listId: 'no-such-audience' }), apiOrigin: strict.url }, members(1)));
      expect(error).toMatchObject({ category: 'config', options: { status: 404 } });
    } finally {
      await strict.stop();
    }
    expect(await thrown(mailchimp.removeBatch!(call({}, 'ffffffffffffffffffffffffffffffff-us6'), members(1)))).toMatchObject({
      category: 'auth',
    });
  });

  it('the high-volume throttle (bodiless 403) and 5xx are retryable', async () => {
    simulator.setFaults({ bodilessThrottle: { every: 1, status: 403 } });
    expect(await thrown(mailchimp.removeBatch!(call(), members(1)))).toMatchObject({ category: 'rateLimited', retryable: true });
    expect(simulator.state.counters.bodilessThrottles).toBe(1);
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(mailchimp.removeBatch!(call(), members(1)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
  });
});
