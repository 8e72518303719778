// The Mailchimp adapter: its pure converters against the table of cases, and the adapter itself
// over real HTTP against the local simulator (merge fields, per-member errors, auth, the
// 10-connection cap answered 429, faults).
import { describe, expect, it } from 'vitest';
import {
  dataCenterOf,
  fromBatchResult,
  mailchimp,
  toMailchimpMember,
  type MailchimpDetails,
  type MailchimpSecrets,
  type MailchimpSettings,
} from '../../shared/destinations/mailchimp.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import { eligibilityOf } from '../../shared/exports/eligibility.js';
import { startMailchimpSimulator, type MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { batchResultCases, memberCases, notBatchResults } from './mailchimp.cases.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f0-us6';

describe('toMailchimpMember', () => {
  it.each(memberCases)('$name', ({ member, options, expected }) => {
    expect(toMailchimpMember(member, options)).toEqual(expected);
  });
});

describe('fromBatchResult', () => {
  it.each(batchResultCases)('$name', ({ body, expected }) => {
    expect(fromBatchResult(body)).toEqual(expected);
  });

  it.each(notBatchResults)('refuses $name', ({ body }) => {
    expect(() => fromBatchResult(body)).toThrow(DestinationError);
  });
});

describe('declarations', () => {
  it('declares what the vendor documents', () => {
    expect(mailchimp.type).toBe('mailchimp');
    expect(mailchimp.batchSize).toBe(500);
    expect(mailchimp.limits).toEqual({ maxMembersPerExport: 1_000_000, requestsPerSecond: 10, burst: 10, maxConcurrentRequests: 10 });
    expect(mailchimp.eligibleSegmentTypes).toEqual(['Profile', 'Contact']);
    expect(mailchimp.exportKinds).toEqual(['segment']);
    expect(mailchimp.apiUrlSetting).toBe('MAILCHIMP_API_URL');
    expect(mailchimp.dataMatching.filter((field) => field.required).map((field) => field.name)).toEqual(['email']);
    expect(mailchimp.dataMatching.map((field) => field.name)).toEqual([
      'email',
      'firstName',
      'lastName',
      'fullName',
      'gender',
      'postalCode',
      'city',
      'country',
      'phone',
    ]);
  });

  it("takes contact segments only: an account segment is refused with the seeds' message", () => {
    const segment = (type: 'Profile' | 'Contact' | 'Account') => ({
      id: `Segment_${type}`,
      name: `${type} segment`,
      type,
      memberCount: 10,
      attributes: ['Email'],
    });
    expect(eligibilityOf(segment('Profile'), mailchimp).eligible).toBe(true);
    expect(eligibilityOf(segment('Contact'), mailchimp).eligible).toBe(true);
    expect(eligibilityOf(segment('Account'), mailchimp)).toEqual({
      eligible: false,
      reason:
        "The following segment isn't eligible for this export destination: 'Account segment'. Choose only segments of type ContactProfile and try again.",
    });
  });

  it('reads the data center from the key as the official clients do', () => {
    expect(dataCenterOf(API_KEY)).toBe('us6');
    expect(dataCenterOf(' abc-US21 ')).toBe('us21');
    for (const key of ['abc', 'abc-', '-us6', 'a-b-us6', 'abc-6', 'abc-us']) expect(dataCenterOf(key)).toBeUndefined();
  });

  it('validates connection secrets (naming the missing data center) and export details', () => {
    const missing = mailchimp.connectionSecrets.safeParse({ apiKey: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' });
    expect(missing.success).toBe(false);
    expect(!missing.success && missing.error.issues[0]!.message).toMatch(/must end with its data center, e\.g\. '.*-us6'/);
    expect(mailchimp.connectionSecrets.safeParse({ apiKey: '' }).success).toBe(false);
    expect(mailchimp.connectionSecrets.safeParse({ apiKey: API_KEY }).success).toBe(true);
    expect(mailchimp.exportDetails.safeParse({}).success).toBe(false);
    expect(mailchimp.exportDetails.safeParse({ listId: 'abc', statusIfNew: 'unsubscribed' }).success).toBe(false);
    expect(mailchimp.exportDetails.safeParse({ listId: 'abc', statusIfNew: 'transactional' }).success).toBe(true);
  });
});

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}${index}@lovelace.dev`,
    fields: { firstName: 'Member', lastName: String(index) },
  }));
}

describe('adapter against the simulator', () => {
  let simulator: MailchimpSimulator;
  let listSeq = 0;

  useSimulator(async () => (simulator = await startMailchimpSimulator({ apiKeys: [API_KEY], dataCenter: 'us6', autoCreateLists: true })));

  type Call = DestinationCall<MailchimpSettings, MailchimpSecrets, MailchimpDetails>;
  function call(details: Partial<MailchimpDetails> = {}, apiKey = API_KEY): Call {
    listSeq += 1;
    return { settings: {}, secrets: { apiKey }, details: { listId: `audience-${listSeq}`, ...details }, apiOrigin: simulator.url };
  }
  const run = (mappedFields: string[]) => ({ segments: [], segmentNames: ['All customers'], mappedFields });

  it('upserts a batch: every member counted, merge fields stored, new people subscribed', async () => {
    const target = call();
    const result = await mailchimp.sendBatch(target, members(250));
    expect(result).toEqual({ succeeded: 250, failures: [] });
    const list = simulator.state.lists.get(target.details.listId)!;
    expect(list.members.size).toBe(250);
    expect(list.members.get('member7@lovelace.dev')).toMatchObject({ status: 'subscribed', merge_fields: { FNAME: 'Member', LNAME: '7' } });
    expect(simulator.state.counters.byRoute['POST /lists/{list_id}']).toBe(1);
  });

  it('reports per-member errors as failures and upserts the rest', async () => {
    const target = call();
    simulator.state.fakeEmails.add('fake@lovelace.dev');
    const prepared = await mailchimp.prepareRun!(target, run(['email', 'firstName', 'city']));
    const batch: MappedMember[] = [
      ...members(3),
      { email: 'someone@example.com', fields: {} },
      { email: 'fake@lovelace.dev', fields: {} },
      { email: 'broken@lovelace', fields: {} },
    ];
    const result = await mailchimp.sendBatch(
      { ...target, details: { ...prepared, mergeTags: { ...prepared.mergeTags, firstName: 'NOSUCHTAG' } } },
      batch,
    );
    expect(result.succeeded).toBe(0);
    expect(result.failures).toHaveLength(6);
    expect(
      result.failures
        .slice(0, 3)
        .every(
          (failure) => failure.message === 'Your merge fields were invalid. (NOSUCHTAG: This merge field is not defined for the audience.)',
        ),
    ).toBe(true);
    expect(result.failures.slice(3)).toEqual([
      {
        email: 'someone@example.com',
        status: 'failed',
        category: 'invalidRecord',
        code: 'ERROR_GENERIC',
        message: 'someone@example.com looks fake or invalid, please enter a real email address.',
      },
      {
        email: 'fake@lovelace.dev',
        status: 'failed',
        category: 'invalidRecord',
        code: 'ERROR_GENERIC',
        message: 'fake@lovelace.dev looks fake or invalid, please enter a real email address.',
      },
      {
        email: 'broken@lovelace',
        status: 'failed',
        category: 'invalidRecord',
        code: 'ERROR_GENERIC',
        message: 'Please provide a valid email address.',
      },
    ]);

    const good = await mailchimp.sendBatch({ ...target, details: prepared }, [...members(3), { email: 'someone@example.com', fields: {} }]);
    expect(good.succeeded).toBe(3);
    expect(good.failures.map((failure) => failure.email)).toEqual(['someone@example.com']);
    expect(simulator.state.lists.get(target.details.listId)!.members.get('member2@lovelace.dev')!.merge_fields).toEqual({
      FNAME: 'Member',
      LNAME: '2',
    });
  });

  it('never re-subscribes someone who unsubscribed, yet updates their fields', async () => {
    const target = call();
    simulator.seedMember(target.details.listId, { email: 'gone@lovelace.dev', status: 'unsubscribed', mergeFields: { FNAME: 'Old' } });
    const result = await mailchimp.sendBatch(target, [
      { email: 'gone@lovelace.dev', fields: { firstName: 'New' } },
      { email: 'new@lovelace.dev', fields: {} },
    ]);
    expect(result).toEqual({ succeeded: 2, failures: [] });
    const list = simulator.state.lists.get(target.details.listId)!;
    expect(list.members.get('gone@lovelace.dev')).toMatchObject({ status: 'unsubscribed', merge_fields: { FNAME: 'New' } });
    expect(list.members.get('new@lovelace.dev')!.status).toBe('subscribed');
  });

  it('sends a repeated email once and reports the earlier record as skipped', async () => {
    const target = call();
    const result = await mailchimp.sendBatch(target, [
      { email: 'same@lovelace.dev', fields: { firstName: 'Old' } },
      { email: 'same@lovelace.dev', fields: { firstName: 'New' } },
    ]);
    expect(result.succeeded).toBe(1);
    expect(result.failures).toEqual([expect.objectContaining({ email: 'same@lovelace.dev', status: 'skipped', code: 'DuplicateInBatch' })]);
    expect(simulator.inspectList(target.details.listId)).toMatchObject({ memberCount: 1, deliveries: 1, duplicates: 0 });
    expect(simulator.state.lists.get(target.details.listId)!.members.get('same@lovelace.dev')!.merge_fields.FNAME).toBe('New');
  });

  it('re-sending a batch updates the same contacts instead of adding new ones', async () => {
    const target = call();
    await mailchimp.sendBatch(target, members(10));
    expect(await mailchimp.sendBatch(target, members(10))).toEqual({ succeeded: 10, failures: [] });
    expect(simulator.inspectList(target.details.listId)).toMatchObject({ memberCount: 10, deliveries: 20, duplicates: 10 });
  });

  it('more than 500 members is refused before any call; the simulator answers 400 to 501', async () => {
    const target = call();
    const error = await thrown(mailchimp.sendBatch(target, members(501)));
    expect(error.category).toBe('config');
    expect(simulator.state.counters.requests).toBe(0);

    const response = await fetch(`${simulator.url}/3.0/lists/${target.details.listId}`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`any:${API_KEY}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ members: members(501).map((member) => toMailchimpMember(member)), update_existing: true }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      title: 'Invalid Resource',
      status: 400,
      errors: [{ field: 'members', message: 'Schema describes array, maximum 500 items.' }],
    });
  });

  it('a 400 about the request is a config error; an unknown audience names the audience', async () => {
    const small = await startMailchimpSimulator({ apiKeys: [API_KEY], maxMembersPerBatch: 5, autoCreateLists: true });
    try {
      const error = await thrown(mailchimp.sendBatch({ ...call(), apiOrigin: small.url }, members(6)));
      expect(error).toMatchObject({ category: 'config', options: { status: 400, code: 'Invalid Resource' } });
      expect(error.message).toContain('members: Schema describes array, maximum 5 items.');
    } finally {
      await small.stop();
    }
    const strict = await startMailchimpSimulator({ apiKeys: [API_KEY], autoCreateLists: false });
    try {
      const target = { ...call({ listId: 'no-such-audience' }), apiOrigin: strict.url };
      const error = await thrown(mailchimp.sendBatch(target, members(1)));
      expect(error).toMatchObject({ category: 'config', options: { status: 404 } });
      expect(error.message).toContain("the audience 'no-such-audience' does not exist");
      const prepare = await thrown(mailchimp.prepareRun!(target, run(['email'])));
      expect(prepare.category).toBe('config');
      expect(prepare.message).toContain("'no-such-audience'");
    } finally {
      await strict.stop();
    }
  });

  it('a bad key or a key of another data center is an auth error with the vendor detail', async () => {
    const bad = await thrown(mailchimp.sendBatch(call({}, 'ffffffffffffffffffffffffffffffff-us6'), members(1)));
    expect(bad.category).toBe('auth');
    expect(bad.message).toContain('API key may be invalid');
    const elsewhere = await thrown(mailchimp.sendBatch(call({}, '0f1e2d3c4b5a69788796a5b4c3d2e1f0-us9'), members(1)));
    expect(elsewhere.category).toBe('auth');
    expect(elsewhere.message).toContain('wrong datacenter');
    expect(simulator.state.counters.unauthorized).toBe(2);
  });

  it('the 11th concurrent call gets 429 TooManyRequests, read as rateLimited', async () => {
    simulator.setFaults({ latencyMs: 150 });
    const target = call();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 11 }, (_, index) => mailchimp.sendBatch(target, members(2, `c${index}-`))),
    );
    const rejected = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(rejected).toHaveLength(1);
    const error = rejected[0]!.reason as DestinationError;
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({ category: 'rateLimited', options: { status: 429 } });
    expect(error.message).toContain('You have exceeded the limit of 10 simultaneous connections');
    expect(error.retryable).toBe(true);
    expect(simulator.state.counters).toMatchObject({ concurrencyRejections: 1, maxInFlight: 10 });
    expect(simulator.inspectList(target.details.listId)!.memberCount).toBe(20);
  });

  it('a 5xx is vendorUnavailable and a reset connection is network, both retryable', async () => {
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(mailchimp.sendBatch(call(), members(1)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
    simulator.setFaults({ connectionResetRate: 1 });
    expect(await thrown(mailchimp.sendBatch(call(), members(1)))).toMatchObject({ category: 'network', retryable: true });
    expect(simulator.state.counters).toMatchObject({ serverErrors: 1, connectionResets: 1 });
  });

  it('testConnection: ok with a good key, the vendor reason with a bad one, a clear reason without data center', async () => {
    expect(await mailchimp.testConnection(call())).toEqual({ ok: true });
    const refused = await mailchimp.testConnection(call({}, 'ffffffffffffffffffffffffffffffff-us6'));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/refused the credentials \(401: .*API key may be invalid/);
    const noDataCenter = await mailchimp.testConnection(call({}, 'ffffffffffffffffffffffffffffffff'));
    expect(noDataCenter).toEqual({ ok: false, reason: expect.stringContaining('must end with its data center') });
    expect(simulator.state.counters.byRoute['GET /ping']).toBe(1);
    expect(simulator.state.counters.requests).toBe(2);
  });

  it('prepareRun creates the missing merge fields once, even when two runs prepare at the same time', async () => {
    const target = call();
    const fields = ['email', 'firstName', 'lastName', 'fullName', 'gender', 'postalCode', 'city', 'country', 'phone'];
    // Latency so both runs read the field list before either creates a field.
    simulator.setFaults({ latencyMs: 15 });
    const [first, second] = await Promise.all([mailchimp.prepareRun!(target, run(fields)), mailchimp.prepareRun!(target, run(fields))]);
    simulator.setFaults({});
    const expectedTags = {
      firstName: 'FNAME',
      lastName: 'LNAME',
      fullName: 'FULLNAME',
      gender: 'GENDER',
      postalCode: 'POSTCODE',
      city: 'CITY',
      country: 'COUNTRY',
      phone: 'PHONE',
    };
    expect(first).toEqual({ listId: target.details.listId, statusIfNew: 'subscribed', mergeTags: expectedTags });
    expect(second).toEqual(first);
    // FNAME, LNAME and PHONE are audience defaults; five were created, once each.
    expect(simulator.state.counters.mergeFieldsCreated).toBe(5);
    expect(simulator.state.counters.byRoute['POST /lists/{list_id}/merge-fields']).toBeGreaterThan(5);
    const created = simulator
      .inspectList(target.details.listId)!
      .mergeFields.filter((field) => !['FNAME', 'LNAME', 'ADDRESS', 'PHONE', 'BIRTHDAY'].includes(field.tag));
    expect(created.map((field) => field.tag).sort()).toEqual(['CITY', 'COUNTRY', 'FULLNAME', 'GENDER', 'POSTCODE']);
    expect(created.every((field) => field.type === 'text')).toBe(true);
    expect(
      [...simulator.state.lists.get(target.details.listId)!.mergeFields.values()]
        .filter((field) => created.some((c) => c.tag === field.tag))
        .every((field) => !field.required && !field.public),
    ).toBe(true);

    // Prepared again later: nothing new; values land in every field.
    await mailchimp.prepareRun!(target, run(fields));
    expect(simulator.state.counters.mergeFieldsCreated).toBe(5);
    const all = {
      firstName: 'Ada',
      lastName: 'Lovelace',
      fullName: 'Ada Lovelace',
      gender: 'Female',
      postalCode: 'W1',
      city: 'London',
      country: 'GB',
      phone: '+44 20 7946 0000',
    };
    expect(await mailchimp.sendBatch({ ...target, details: first }, [{ email: 'ada@lovelace.dev', fields: all }])).toEqual({
      succeeded: 1,
      failures: [],
    });
    expect(simulator.state.lists.get(target.details.listId)!.members.get('ada@lovelace.dev')!.merge_fields).toEqual({
      FNAME: 'Ada',
      LNAME: 'Lovelace',
      FULLNAME: 'Ada Lovelace',
      GENDER: 'Female',
      POSTCODE: 'W1',
      CITY: 'London',
      COUNTRY: 'GB',
      PHONE: '+44 20 7946 0000',
    });
  });

  it('prepareRun finds fields past the first page and reuses a field the owner named alike under another tag', async () => {
    const target = call();
    const headers = { authorization: `Basic ${Buffer.from(`any:${API_KEY}`).toString('base64')}`, 'content-type': 'application/json' };
    const create = (body: unknown) =>
      fetch(`${simulator.url}/3.0/lists/${target.details.listId}/merge-fields`, { method: 'POST', headers, body: JSON.stringify(body) });
    // Five defaults + six fillers + TOWN named "City" + COUNTRY: 13 fields, past the default page of 10.
    for (let index = 0; index < 6; index++)
      expect((await create({ name: `Filler ${index}`, type: 'text', tag: `FILL${index}` })).status).toBe(200);
    expect((await create({ name: 'City', type: 'text', tag: 'TOWN' })).status).toBe(200);
    expect((await create({ name: 'Land', type: 'text', tag: 'COUNTRY' })).status).toBe(200);
    const created = simulator.state.counters.mergeFieldsCreated;

    const prepared = await mailchimp.prepareRun!(target, run(['email', 'city', 'country']));
    expect(prepared.mergeTags).toEqual({ city: 'TOWN', country: 'COUNTRY' });
    expect(simulator.state.counters.mergeFieldsCreated).toBe(created);
    await mailchimp.sendBatch({ ...target, details: prepared }, [{ email: 'ada@lovelace.dev', fields: { city: 'London', country: 'GB' } }]);
    expect(simulator.state.lists.get(target.details.listId)!.members.get('ada@lovelace.dev')!.merge_fields).toEqual({
      TOWN: 'London',
      COUNTRY: 'GB',
    });
  });

  it('prepareRun fails with a clear message naming the fields the vendor refused to create', async () => {
    const full = await startMailchimpSimulator({ apiKeys: [API_KEY], maxMergeFields: 6, autoCreateLists: true });
    try {
      const target = { ...call(), apiOrigin: full.url };
      const error = await thrown(mailchimp.prepareRun!(target, run(['email', 'firstName', 'gender', 'postalCode', 'city'])));
      expect(error.category).toBe('config');
      expect(error.message).toMatch(
        /^Mailchimp refused to create the audience fields POSTCODE, CITY in audience 'audience-\d+' \(Invalid Resource: This audience already has the maximum of 6 audience fields\.\)\. Create them in Audience/,
      );
      expect(full.inspectList(target.details.listId)!.mergeFields.map((field) => field.tag)).toContain('GENDER');
    } finally {
      await full.stop();
    }
  });

  it('prepareRun chooses the status for new people: pending on double opt-in audiences, the export choice first', async () => {
    const doubleOptIn = await startMailchimpSimulator({ apiKeys: [API_KEY], doubleOptIn: true, autoCreateLists: true });
    try {
      const target = { ...call(), apiOrigin: doubleOptIn.url };
      expect(await mailchimp.prepareRun!(target, run(['email']))).toEqual({ ...target.details, statusIfNew: 'pending', mergeTags: {} });
      const chosen = { ...target, details: { ...target.details, statusIfNew: 'transactional' as const } };
      const prepared = await mailchimp.prepareRun!(chosen, run(['email']));
      expect(prepared.statusIfNew).toBe('transactional');
      await mailchimp.sendBatch({ ...target, details: prepared }, members(1));
      expect(doubleOptIn.state.lists.get(target.details.listId)!.members.get('member0@lovelace.dev')!.status).toBe('transactional');
    } finally {
      await doubleOptIn.stop();
    }
  });

  it('prepareRun retries transient failures itself', async () => {
    const target = call();
    // Every second call is refused with 429: the field read and the field creation each fail once.
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    const prepared = await mailchimp.prepareRun!(target, run(['email', 'gender']));
    simulator.setFaults({});
    expect(prepared.mergeTags).toEqual({ gender: 'GENDER' });
    expect(simulator.state.counters.tooManyRequests).toBe(2);
    expect(simulator.state.counters.mergeFieldsCreated).toBe(1);
  });
});
