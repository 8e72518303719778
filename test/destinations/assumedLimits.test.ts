// Limits no vendor publishes are assumptions in the adapters (shared/destinations/vendorFacts.ts,
// documented: false). The simulators do not repeat those guesses by default (they set no cap or rate
// there), so here each is set BELOW the adapter's guess, as a real account might be, and the adapter
// and the engine's sender must still deliver every member exactly once: a lower rate answers 429
// (without Retry-After where the vendor documents none), a lower cap answers the vendor's too-large
// error, and both are absorbed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DestinationAdapter, DestinationCall, MappedMember, SegmentRef } from '../../shared/destinations/destination.js';
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import { iterable } from '../../shared/destinations/iterable.js';
import { campaignMonitor } from '../../shared/destinations/campaignMonitor.js';
import { linkedin } from '../../shared/destinations/linkedin.js';
import { startIterableSimulator, type IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { startLinkedinSimulator, type LinkedinSimulator } from '../../local/simulators/linkedinSimulator.js';
import { sendUnbudgeted } from '../support/sendUnbudgeted.js';

const segment: SegmentRef = { id: 'seg-1', name: 'Newsletter', type: 'Profile' };
const people = (from: number, count: number): MappedMember[] =>
  Array.from({ length: count }, (_, index) => ({ email: `person${from + index}@outflow.dev`, fields: { firstName: `P${from + index}` } }));

/** The engine's sender, with no budget of its own: calls go out as fast as the vendor lets them. */
const send = (destination: DestinationAdapter, call: DestinationCall, batch: MappedMember[]) =>
  sendUnbudgeted(destination, call, batch, 'assumed-limits-test');

describe('assumptions are marked, and the simulators do not share them', () => {
  it('the adapters guess what vendorFacts marks as assumed', () => {
    expect(VENDOR_FACTS.iterable.subscribersPerCall).toMatchObject({ documented: false, value: iterable.batchSize });
    expect(VENDOR_FACTS.iterable.subscribeCallsPerSecond).toMatchObject({ documented: false, value: iterable.limits.requestsPerSecond });
    expect(VENDOR_FACTS['campaign-monitor'].requestsPerSecond).toMatchObject({
      documented: false,
      value: campaignMonitor.limits.requestsPerSecond,
    });
    expect(VENDOR_FACTS.linkedin.userElementsPerCall).toMatchObject({ documented: false, value: linkedin.batchSize });
  });
});

describe('Iterable below the adapter’s guesses: 300 subscribers a call (guess 1,000), 1 call a second (guess 5/s)', () => {
  let simulator: IterableSimulator;
  beforeAll(async () => {
    simulator = await startIterableSimulator({
      apiKeys: ['it-key'],
      maxSubscribersPerRequest: 300,
      rateLimit: { requestsPerSecond: 1, burst: 1 },
    });
  });
  afterAll(async () => simulator?.stop());

  it('a full batch is halved by the sender until taken, 429s without Retry-After are waited out, everyone is on the list once', async () => {
    const call = { settings: { region: 'US' }, secrets: { apiKey: 'it-key' }, details: {}, apiOrigin: simulator.url } as DestinationCall<
      any,
      any,
      any
    >;
    const details = await iterable.prepareRun!(call, { segments: [segment], segmentNames: [segment.name], mappedFields: ['firstName'] });
    const prepared = { ...call, details, segment } as DestinationCall;
    // 1,000 refused, 500 and 500 refused, four times 250 taken: seven calls at one a second.
    expect(await send(iterable, prepared, people(0, iterable.batchSize))).toEqual({ succeeded: 1000, failures: [] });
    expect(simulator.inspectList(details.listIds![segment.id]!)).toMatchObject({ memberCount: 1000, duplicates: 0 });
    expect(simulator.state.counters.subscribeCalls).toBe(4);
    expect(simulator.state.counters.tooManyRequests).toBeGreaterThan(0);
  }, 60_000);
});

describe('Campaign Monitor below the adapter’s guess: 1 call a second, burst 1 (guess 2/s, burst 4)', () => {
  let simulator: CampaignMonitorSimulator;
  beforeAll(async () => {
    simulator = await startCampaignMonitorSimulator({
      apiKeys: ['cm-key'],
      rateLimit: { requestsPerSecond: 1, burst: 1 },
      autoCreateLists: true,
    });
  });
  afterAll(async () => simulator?.stop());

  it('429s (X-RateLimit-Reset, no Retry-After) are waited out; everyone imported once', async () => {
    const call = {
      settings: {},
      secrets: { apiKey: 'cm-key' },
      details: { listId: 'list-assumed' },
      apiOrigin: simulator.url,
    } as DestinationCall;
    const results = [];
    for (let batch = 0; batch < 4; batch++) results.push(await send(campaignMonitor, call, people(batch * 100, 100)));
    expect(results.every((result) => result.succeeded === 100 && result.failures.length === 0)).toBe(true);
    expect(simulator.inspectList('list-assumed')).toMatchObject({ duplicates: 0 });
    expect(simulator.state.counters.tooManyRequests).toBeGreaterThan(0);
  }, 60_000);
});

describe('LinkedIn below the adapter’s guess: 1,000 user elements a call (guess 5,000; only companies are documented)', () => {
  let simulator: LinkedinSimulator;
  beforeAll(async () => {
    simulator = await startLinkedinSimulator({ accessTokens: ['li-token'], rateLimit: false, maxElementsPerBatch: 1000 });
  });
  afterAll(async () => simulator?.stop());

  it('the refused batch is halved by the sender until taken; every member sent once', async () => {
    const call = {
      settings: { adAccountId: '512345678', sourcePlatform: 'OUTFLOW_TEST' },
      secrets: { accessToken: 'li-token' },
      details: {},
      apiOrigin: simulator.url,
    } as DestinationCall<any, any, any>;
    const contacts: SegmentRef = { ...segment, type: 'Contact' };
    const details = await linkedin.prepareRun!(call, { segments: [contacts], segmentNames: [contacts.name], mappedFields: ['email'] });
    const result = await send(linkedin, { ...call, details, segment: contacts } as DestinationCall, people(0, 5000));
    expect(result).toEqual({ succeeded: 5000, failures: [] });
  }, 60_000);
});
