// Campaign Monitor removals over real HTTP: one `POST /subscribers/{listId}/unsubscribe.json` per
// member (the API has no bulk unsubscribe), against the simulator's list state.
import { describe, expect, it } from 'vitest';
import {
  campaignMonitor,
  type CampaignMonitorDetails,
  type CampaignMonitorSecrets,
  type CampaignMonitorSettings,
} from '../../shared/destinations/campaignMonitor.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'cm-test-key';
const one = (email: string): MappedMember[] => [{ email, fields: {} }];

describe('Campaign Monitor removals against the simulator', () => {
  let simulator: CampaignMonitorSimulator;
  let listSeq = 0;
  useSimulator(
    async () => (simulator = await startCampaignMonitorSimulator({ apiKeys: [API_KEY], rateLimit: false, autoCreateLists: true })),
  );

  type Call = DestinationCall<CampaignMonitorSettings, CampaignMonitorSecrets, CampaignMonitorDetails>;
  function call(details: Partial<CampaignMonitorDetails> = {}, apiKey = API_KEY, origin?: string): Call {
    listSeq += 1;
    return { settings: {}, secrets: { apiKey }, details: { listId: `list-${listSeq}`, ...details }, apiOrigin: origin ?? simulator.url };
  }
  const active = (listId: string) =>
    [...simulator.state.lists.get(listId)!.subscribers.entries()]
      .filter(([, subscriber]) => subscriber.State === 'Active')
      .map(([email]) => email)
      .sort();

  it('declares no bulk form: one member per removal call', () => {
    expect(campaignMonitor.removeBatch).toBeTypeOf('function');
    expect(campaignMonitor.removalBatchSize).toBe(1);
  });

  it('unsubscribes present members one call each; absent ones count as removed; an invalid email fails', async () => {
    const target = call();
    const emails = ['a@lovelace.dev', 'b@lovelace.dev', 'c@lovelace.dev'];
    await campaignMonitor.sendBatch(
      target,
      emails.map((email) => ({ email, fields: {} })),
    );
    expect(await campaignMonitor.removeBatch!(target, one('a@lovelace.dev'))).toEqual({ succeeded: 1, failures: [] });
    expect(await campaignMonitor.removeBatch!(target, one('never-sent@lovelace.dev'))).toEqual({ succeeded: 1, failures: [] });
    expect(await campaignMonitor.removeBatch!(target, one('a@lovelace.dev'))).toEqual({ succeeded: 1, failures: [] });
    expect(await campaignMonitor.removeBatch!(target, one('broken@lovelace'))).toEqual({
      succeeded: 0,
      failures: [{ email: 'broken@lovelace', status: 'failed', category: 'invalidRecord', code: '1', message: 'Invalid Email Address' }],
    });
    expect(active(target.details.listId)).toEqual(['b@lovelace.dev', 'c@lovelace.dev']);
    expect(simulator.state.lists.get(target.details.listId)!.subscribers.get('a@lovelace.dev')!.State).toBe('Unsubscribed');
    expect(simulator.state.counters.unsubscribed).toBe(1);
    // Four removals, four calls.
    expect(simulator.state.counters.byRoute['POST /subscribers/{listId}/unsubscribe.json']).toBe(4);
  });

  it('more than one member in a call is refused before calling', async () => {
    expect((await thrown(campaignMonitor.removeBatch!(call(), [...one('a@lovelace.dev'), ...one('b@lovelace.dev')]))).category).toBe(
      'config',
    );
    expect(simulator.state.counters.requests).toBe(0);
  });

  it('an unknown list is config, a bad key auth, a 429 rateLimited with its wait, a 5xx vendorUnavailable', async () => {
    const strict = await startCampaignMonitorSimulator({ apiKeys: [API_KEY], rateLimit: false, autoCreateLists: false });
    try {
      expect(await thrown(campaignMonitor.removeBatch!(call({}, API_KEY, strict.url), one('a@lovelace.dev')))).toMatchObject({
        category: 'config',
        options: { code: '101' },
      });
    } finally {
      await strict.stop();
    }
    expect(await thrown(campaignMonitor.removeBatch!(call({}, 'wrong-key'), one('a@lovelace.dev')))).toMatchObject({
      category: 'auth',
      options: { status: 401 },
    });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    const target = call();
    await campaignMonitor.removeBatch!(target, one('a@lovelace.dev'));
    expect(await thrown(campaignMonitor.removeBatch!(target, one('a@lovelace.dev')))).toMatchObject({
      category: 'rateLimited',
      options: { status: 429, retryAfterMs: 1000 },
    });
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(campaignMonitor.removeBatch!(target, one('a@lovelace.dev')))).toMatchObject({
      category: 'vendorUnavailable',
      retryable: true,
    });
  });

  it('the per-key token bucket limits unsubscribes like imports', async () => {
    const limited = await startCampaignMonitorSimulator({
      apiKeys: [API_KEY],
      rateLimit: { requestsPerSecond: 0.5, burst: 1 },
      autoCreateLists: true,
    });
    try {
      const target = call({}, API_KEY, limited.url);
      await campaignMonitor.removeBatch!(target, one('a@lovelace.dev'));
      expect(await thrown(campaignMonitor.removeBatch!(target, one('b@lovelace.dev')))).toMatchObject({
        category: 'rateLimited',
        options: { status: 429 },
      });
    } finally {
      await limited.stop();
    }
  });
});
