// The Iterable adapter: its pure converters against the table of cases, and the adapter itself
// over real HTTP against the local simulator (lists found or created once, per-record failures,
// whole-call errors mapped to categories).
import { describe, expect, it } from 'vitest';
import {
  fromSubscribeResult,
  iterable,
  mismatchedFields,
  toIterableSubscriber,
  type IterableDetails,
  type IterableSecrets,
  type IterableSettings,
} from '../../shared/destinations/iterable.js';
import type { DestinationCall, MappedMember, PrepareRun, SegmentRef } from '../../shared/destinations/destination.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import { startIterableSimulator, type IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { notSubscribeResults, subscribeResultCases, subscriberCases } from './iterable.cases.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'iterable-test-key';

describe('toIterableSubscriber', () => {
  it.each(subscriberCases)('$name', ({ member, expected }) => {
    expect(toIterableSubscriber(member)).toEqual(expected);
  });
});

describe('fromSubscribeResult', () => {
  it.each(subscribeResultCases)('$name', ({ body, expected }) => {
    expect(fromSubscribeResult(body)).toEqual(expected);
  });

  it.each(notSubscribeResults)('refuses $name', ({ body }) => {
    expect(() => fromSubscribeResult(body)).toThrow(DestinationError);
  });

  it('reads the field names of a type-mismatch answer', () => {
    expect(
      mismatchedFields({ code: 'RequestFieldsTypesMismatched', params: { validationErrors: { 'project_1:::postalCode': {}, city: {} } } }),
    ).toEqual(['postalCode', 'city']);
    expect(mismatchedFields({ code: 'BadParams', params: null })).toEqual([]);
  });
});

describe('declarations', () => {
  it('declares what the vendor documents, and a list per segment', () => {
    expect(iterable.type).toBe('iterable');
    expect(iterable.batchSize).toBe(1000);
    expect(iterable.listPerSegment).toBe(true);
    expect(iterable.limits).toMatchObject({ maxMembersPerExport: 1_000_000, requestsPerSecond: 5 });
    expect(iterable.eligibleSegmentTypes).toEqual(['Profile', 'Contact']);
    expect(iterable.exportKinds).toEqual(['segment']);
    expect(iterable.apiUrlSetting).toBe('ITERABLE_API_URL');
    expect(iterable.dataMatching.filter((field) => field.required).map((field) => field.name)).toEqual(['email']);
    // The limit must allow the promised 1M profiles in 30 minutes.
    expect((1_000_000 / iterable.batchSize / iterable.limits.requestsPerSecond) * 1000).toBeLessThan(30 * 60 * 1000);
  });

  it('validates settings, secrets and details; the region defaults to US', () => {
    expect(iterable.connectionSettings.parse({})).toEqual({ region: 'US' });
    expect(iterable.connectionSettings.parse({ region: 'EU' })).toEqual({ region: 'EU' });
    expect(iterable.connectionSettings.safeParse({ region: 'APAC' }).success).toBe(false);
    expect(iterable.connectionSecrets.safeParse({ apiKey: ' ' }).success).toBe(false);
    expect(iterable.connectionSecrets.safeParse({ apiKey: 'k' }).success).toBe(true);
    expect(iterable.exportDetails.safeParse({}).success).toBe(true);
    expect(iterable.exportDetails.safeParse({ listIds: { Segment_VIP: 'x' } }).success).toBe(false);
  });
});

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}${index}@example.com`,
    fields: { firstName: 'Member', lastName: String(index), city: 'Oslo' },
  }));
}

const ALL: SegmentRef = { id: 'Segment_AllCustomers', name: 'All customers', type: 'Profile' };
const VIP: SegmentRef = { id: 'Segment_VIP', name: 'VIP', type: 'Profile' };
const run = (...segments: SegmentRef[]): PrepareRun => ({
  segments,
  segmentNames: segments.map((segment) => segment.name),
  mappedFields: ['email', 'firstName'],
});

describe('adapter against the simulator', () => {
  let simulator: IterableSimulator;

  useSimulator(async () => (simulator = await startIterableSimulator({ apiKeys: [API_KEY], rateLimit: false })));

  type Call = DestinationCall<IterableSettings, IterableSecrets, IterableDetails>;
  function call(
    options: { apiKey?: string; region?: 'US' | 'EU'; details?: IterableDetails; segment?: SegmentRef; origin?: string } = {},
  ): Call {
    return {
      settings: { region: options.region ?? 'US' },
      secrets: { apiKey: options.apiKey ?? API_KEY },
      details: options.details ?? {},
      apiOrigin: options.origin ?? simulator.url,
      segment: options.segment,
    };
  }

  async function prepared(...segments: SegmentRef[]): Promise<IterableDetails> {
    return iterable.prepareRun!(call(), run(...segments));
  }

  it('prepareRun creates a static list named exactly like each segment, and finds it on the next run', async () => {
    const details = await prepared(ALL, VIP);
    expect(Object.keys(details.listIds!)).toEqual(['Segment_AllCustomers', 'Segment_VIP']);
    expect(simulator.listsNamed('All customers').map((list) => list.listId)).toEqual([details.listIds!.Segment_AllCustomers]);
    expect(simulator.listsNamed('VIP').map((list) => list.listId)).toEqual([details.listIds!.Segment_VIP]);
    expect(simulator.state.counters.listsCreated).toBe(2);

    const again = await prepared(ALL, VIP);
    expect(again.listIds).toEqual(details.listIds);
    expect(simulator.state.counters.listsCreated).toBe(2);
    expect(simulator.state.lists.size).toBe(2);
  });

  it('prepareRun finds a list by its exact name only, ignoring lists of other names and types', async () => {
    const headers = { 'Api-Key': API_KEY, 'content-type': 'application/json' };
    await fetch(`${simulator.url}/api/lists`, { method: 'POST', headers, body: JSON.stringify({ name: 'vip' }) });
    await fetch(`${simulator.url}/api/lists`, { method: 'POST', headers, body: JSON.stringify({ name: 'VIP ' }) });
    const details = await prepared(VIP);
    expect(simulator.listsNamed('VIP')).toHaveLength(1);
    expect(details.listIds!.Segment_VIP).toBe(simulator.listsNamed('VIP')[0]!.listId);
  });

  it('prepareRun picks the oldest list when the project already has two of the same name', async () => {
    const headers = { 'Api-Key': API_KEY, 'content-type': 'application/json' };
    const ids: number[] = [];
    for (let index = 0; index < 2; index++) {
      const response = await fetch(`${simulator.url}/api/lists`, { method: 'POST', headers, body: JSON.stringify({ name: 'VIP' }) });
      ids.push(((await response.json()) as { listId: number }).listId);
    }
    expect((await prepared(VIP)).listIds).toEqual({ Segment_VIP: Math.min(...ids) });
    // Lists the adapter did not create are left alone.
    expect(simulator.listsNamed('VIP')).toHaveLength(2);
  });

  it('two runs preparing at once end up with one list and the same id', async () => {
    // Latency so both runs read the (empty) list of lists before either creates one.
    simulator.setFaults({ latencyMs: 15 });
    const [first, second] = await Promise.all([prepared(ALL, VIP), prepared(ALL, VIP)]);
    simulator.setFaults({});
    expect(first.listIds).toEqual(second.listIds);
    // The race happened: both created each list, and the later copy was removed again.
    expect(simulator.state.counters.listsCreated).toBe(4);
    expect(simulator.state.counters.listsDeleted).toBe(2);
    expect(simulator.listsNamed('All customers').map((list) => list.listId)).toEqual([first.listIds!.Segment_AllCustomers]);
    expect(simulator.listsNamed('VIP').map((list) => list.listId)).toEqual([first.listIds!.Segment_VIP]);
  });

  it('sends each segment to its own list, with the mapped data fields', async () => {
    const details = await prepared(ALL, VIP);
    const everyone = members(250);
    expect(await iterable.sendBatch(call({ details, segment: ALL }), everyone)).toEqual({ succeeded: 250, failures: [] });
    expect(await iterable.sendBatch(call({ details, segment: VIP }), everyone.slice(0, 10))).toEqual({ succeeded: 10, failures: [] });
    expect(simulator.inspectList(details.listIds!.Segment_AllCustomers)).toMatchObject({
      name: 'All customers',
      memberCount: 250,
      deliveries: 250,
      duplicates: 0,
    });
    expect(simulator.inspectList(details.listIds!.Segment_VIP)).toMatchObject({
      name: 'VIP',
      memberCount: 10,
      deliveries: 10,
      duplicates: 0,
    });
    // One user profile per email in the project, whatever the number of lists.
    expect(simulator.state.users.size).toBe(250);
    expect(simulator.state.users.get('member7@example.com')!.dataFields).toEqual({ firstName: 'Member', lastName: '7', city: 'Oslo' });
  });

  it('reports invalid emails per record and adds the rest', async () => {
    const details = await prepared(ALL);
    const batch = [...members(3), { email: 'broken@example', fields: {} }, { email: 'two@@example.com', fields: {} }];
    const result = await iterable.sendBatch(call({ details, segment: ALL }), batch);
    expect(result.succeeded).toBe(3);
    expect(result.failures).toEqual([
      {
        email: 'broken@example',
        status: 'failed',
        category: 'invalidRecord',
        code: 'invalidEmail',
        message: 'Iterable refused the email address as malformed.',
      },
      {
        email: 'two@@example.com',
        status: 'failed',
        category: 'invalidRecord',
        code: 'invalidEmail',
        message: 'Iterable refused the email address as malformed.',
      },
    ]);
    expect(simulator.inspectList(details.listIds!.Segment_AllCustomers)!.memberCount).toBe(3);
  });

  it('forgotten users are skipped per record', async () => {
    const strict = await startIterableSimulator({ apiKeys: [API_KEY], rateLimit: false, forgottenEmails: ['member1@example.com'] });
    try {
      const details = await iterable.prepareRun!(call({ origin: strict.url }), run(ALL));
      const result = await iterable.sendBatch(call({ origin: strict.url, details, segment: ALL }), members(3));
      expect(result).toEqual({
        succeeded: 2,
        failures: [expect.objectContaining({ email: 'member1@example.com', status: 'skipped', code: 'forgottenUser' })],
      });
    } finally {
      await strict.stop();
    }
  });

  it('re-sending a batch updates the same users instead of adding new ones', async () => {
    const details = await prepared(ALL);
    const target = call({ details, segment: ALL });
    await iterable.sendBatch(target, members(10));
    expect(await iterable.sendBatch(target, members(10))).toEqual({ succeeded: 10, failures: [] });
    expect(simulator.inspectList(details.listIds!.Segment_AllCustomers)).toMatchObject({ memberCount: 10, deliveries: 20, duplicates: 10 });
  });

  it('sends a repeated email once and reports the earlier record as skipped', async () => {
    const details = await prepared(ALL);
    const result = await iterable.sendBatch(call({ details, segment: ALL }), [
      { email: 'same@example.com', fields: { city: 'Old' } },
      { email: 'same@example.com', fields: { city: 'New' } },
    ]);
    expect(result).toEqual({
      succeeded: 1,
      failures: [expect.objectContaining({ email: 'same@example.com', status: 'skipped', code: 'duplicateInBatch' })],
    });
    expect(simulator.state.users.get('same@example.com')!.dataFields).toEqual({ city: 'New' });
  });

  it('a batch without a prepared list is a config error and sends nothing', async () => {
    const error = await thrown(iterable.sendBatch(call({ segment: ALL }), members(1)));
    expect(error.category).toBe('config');
    expect(simulator.state.counters.requests).toBe(0);
  });

  it('a list deleted since the run started is a config error', async () => {
    const error = await thrown(iterable.sendBatch(call({ details: { listIds: { Segment_AllCustomers: 999 } }, segment: ALL }), members(1)));
    expect(error).toMatchObject({ category: 'config', options: { status: 400, code: 'BadParams' } });
    expect(error.message).toContain('no longer exists');
  });

  it('more than 1,000 subscribers is refused before sending; a vendor BatchTooLarge (a real cap below the assumed 1,000) is invalidRecord, which the sender halves', async () => {
    const details = await prepared(ALL);
    expect((await thrown(iterable.sendBatch(call({ details, segment: ALL }), members(1001)))).category).toBe('config');
    expect(simulator.state.counters.subscribeCalls).toBe(0);

    const small = await startIterableSimulator({ apiKeys: [API_KEY], rateLimit: false, maxSubscribersPerRequest: 5 });
    try {
      const smallDetails = await iterable.prepareRun!(call({ origin: small.url }), run(ALL));
      const error = await thrown(iterable.sendBatch(call({ origin: small.url, details: smallDetails, segment: ALL }), members(6)));
      // invalidRecord: the engine halves the batch until the vendor takes it (test/destinations/assumedLimits.test.ts).
      expect(error).toMatchObject({ category: 'invalidRecord', options: { status: 400, code: 'BatchTooLarge' } });
      expect(small.state.counters.subscribeCalls).toBe(0);
    } finally {
      await small.stop();
    }
  });

  it('a data field the project holds as another type is a config error naming the field', async () => {
    const typed = await startIterableSimulator({ apiKeys: [API_KEY], rateLimit: false, fieldTypes: { city: 'long' } });
    try {
      const details = await iterable.prepareRun!(call({ origin: typed.url }), run(ALL));
      const error = await thrown(iterable.sendBatch(call({ origin: typed.url, details, segment: ALL }), members(2)));
      expect(error).toMatchObject({ category: 'config', options: { code: 'RequestFieldsTypesMismatched' } });
      expect(error.message).toContain('holds city with another data type');
      expect(typed.state.users.size).toBe(0);
    } finally {
      await typed.stop();
    }
  });

  it('a bad API key is an auth error carrying the vendor message', async () => {
    const details = await prepared(ALL);
    const error = await thrown(iterable.sendBatch(call({ apiKey: 'wrong-key', details, segment: ALL }), members(1)));
    expect(error).toMatchObject({ category: 'auth', options: { status: 401 } });
    expect(error.message).toContain('Invalid API key');
    expect(simulator.state.counters.unauthorized).toBe(1);
  });

  it('429 is a rateLimited error carrying the wait', async () => {
    const details = await prepared(ALL);
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    const target = call({ details, segment: ALL });
    await iterable.sendBatch(target, members(1));
    const error = await thrown(iterable.sendBatch(target, members(1)));
    // Iterable documents no Retry-After, so the adapter passes no wait on; the engine backs off itself.
    expect(error).toMatchObject({ category: 'rateLimited', options: { status: 429, retryAfterMs: undefined } });
    expect(error.message).toContain('Exceeded rate limit.');
    expect(error.retryable).toBe(true);
  });

  it('the per-project rate limit answers 429, with Retry-After from its bucket when the simulator is asked to send one', async () => {
    const limited = await startIterableSimulator({
      apiKeys: [API_KEY],
      rateLimit: { requestsPerSecond: 0.5, burst: 1 },
      retryAfterHeader: true,
    });
    try {
      const details = await iterable.prepareRun!(call({ origin: limited.url }), run(ALL));
      const target = call({ origin: limited.url, details, segment: ALL });
      await iterable.sendBatch(target, members(1));
      const error = await thrown(iterable.sendBatch(target, members(1)));
      expect(error).toMatchObject({ category: 'rateLimited', options: { retryAfterMs: 2000 } });
      expect(limited.state.counters.tooManyRequests).toBe(1);
    } finally {
      await limited.stop();
    }
  });

  it('a 5xx is vendorUnavailable and a reset connection is network, both retryable', async () => {
    const details = await prepared(ALL);
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(iterable.sendBatch(call({ details, segment: ALL }), members(1)))).toMatchObject({
      category: 'vendorUnavailable',
      retryable: true,
    });
    simulator.setFaults({ connectionResetRate: 1 });
    expect(await thrown(iterable.sendBatch(call({ details, segment: ALL }), members(1)))).toMatchObject({
      category: 'network',
      retryable: true,
    });
    expect(simulator.state.counters).toMatchObject({ serverErrors: 1, connectionResets: 1 });
  });

  it('testConnection: ok with a good key in either region, the vendor reason with a bad one', async () => {
    expect(await iterable.testConnection(call())).toEqual({ ok: true });
    expect(await iterable.testConnection(call({ region: 'EU' }))).toEqual({ ok: true });
    const refused = await iterable.testConnection(call({ apiKey: 'wrong-key' }));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/Invalid API key/);
    expect(simulator.state.counters.byRoute['GET /lists']).toBe(2);
    expect(simulator.state.counters.requests).toBe(3);
  });

  it('testConnection reports an unreachable host as a reason, not a throw', async () => {
    const closed = await startIterableSimulator({ rateLimit: false });
    const origin = closed.url;
    await closed.stop();
    const result = await iterable.testConnection(call({ origin }));
    expect(result.ok).toBe(false);
  });
});
