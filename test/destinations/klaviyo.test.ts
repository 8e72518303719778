// The Klaviyo adapter: its pure converters against a table of cases, and the adapter itself over
// real HTTP against the local simulator (bulk import jobs polled to the end, import errors as
// per-record failures, whole-call errors mapped to categories).
import { describe, expect, it } from 'vitest';
import {
  createKlaviyoAdapter,
  fromImportErrors,
  klaviyo,
  toE164,
  toImportJobs,
  toKlaviyoProfile,
  type KlaviyoDetails,
  type KlaviyoProfile,
} from '../../shared/destinations/klaviyo.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import { startKlaviyoSimulator, type KlaviyoSimulator } from '../../local/simulators/klaviyoSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'pk_test_0123456789abcdef';
const LIST = 'OutFlw';
const fast = createKlaviyoAdapter({ polling: { firstDelayMs: 20, maxDelayMs: 100 } });

const profileCases: { name: string; member: MappedMember; expected: KlaviyoProfile }[] = [
  {
    name: 'email only',
    member: { email: 'a@example.com', fields: {} },
    expected: { type: 'profile', attributes: { email: 'a@example.com' } },
  },
  {
    name: 'every field, phone made E.164, location grouped',
    member: {
      email: 'b@example.com',
      fields: { firstName: ' Kari ', lastName: 'Nordmann', phone: '+47 912 34 567', city: 'Oslo', country: 'Norway', postalCode: '0150' },
    },
    expected: {
      type: 'profile',
      attributes: {
        email: 'b@example.com',
        first_name: 'Kari',
        last_name: 'Nordmann',
        phone_number: '+4791234567',
        location: { city: 'Oslo', country: 'Norway', zip: '0150' },
      },
    },
  },
  {
    name: 'blank values and an unreadable phone are left out',
    member: { email: 'c@example.com', fields: { firstName: ' ', phone: '12345', postalCode: '' } },
    expected: { type: 'profile', attributes: { email: 'c@example.com' } },
  },
  {
    name: 'a 00 prefix is an international prefix',
    member: { email: 'd@example.com', fields: { phone: '0044 7700 900123' } },
    expected: { type: 'profile', attributes: { email: 'd@example.com', phone_number: '+447700900123' } },
  },
];

describe('converters', () => {
  it.each(profileCases)('toKlaviyoProfile: $name', ({ member, expected }) => {
    expect(toKlaviyoProfile(member)).toEqual(expected);
  });

  it('toE164 accepts only numbers with a country code', () => {
    expect(toE164('+1 (800) 555-0101')).toBe('+18005550101');
    expect(toE164('800 555 0101')).toBeUndefined();
    expect(toE164('+0123456789')).toBeUndefined();
  });

  it('toImportJobs cuts at 10,000 profiles and at 5 MB, and sets a profile over 100 KB apart', () => {
    const profiles = Array.from({ length: 25_000 }, (_, index) => toKlaviyoProfile({ email: `p${index}@example.com`, fields: {} }));
    expect(toImportJobs(profiles, LIST).jobs.map((job) => job.length)).toEqual([10_000, 10_000, 5_000]);
    const wide = Array.from({ length: 100 }, (_, index) =>
      toKlaviyoProfile({ email: `w${index}@example.com`, fields: { city: 'x'.repeat(60_000) } }),
    );
    const byBytes = toImportJobs(wide, LIST);
    expect(byBytes.jobs.length).toBe(2);
    for (const job of byBytes.jobs)
      expect(Buffer.byteLength(JSON.stringify({ data: { attributes: { profiles: { data: job } } } }))).toBeLessThanOrEqual(5 * 1024 * 1024);
    const huge = toImportJobs([toKlaviyoProfile({ email: 'h@example.com', fields: { city: 'x'.repeat(110_000) } })], LIST);
    expect(huge).toEqual({
      jobs: [],
      oversized: [expect.objectContaining({ attributes: expect.objectContaining({ email: 'h@example.com' }) })],
    });
  });

  it('fromImportErrors names each profile by its original payload and follows links.next', () => {
    const page = fromImportErrors({
      data: [
        {
          type: 'import-error',
          id: '1',
          attributes: {
            code: 'invalid',
            title: 'Invalid input.',
            detail: 'Invalid email address',
            source: { pointer: '/data/0' },
            original_payload: { email: 'Bad@Example' },
          },
        },
        { type: 'import-error', id: '2', attributes: { code: 'invalid', title: 'Invalid input.', detail: 'x', original_payload: null } },
      ],
      links: { next: 'https://a.klaviyo.com/api/profile-bulk-import-jobs/j/import-errors?page%5Bcursor%5D=2' },
    });
    expect(page.failures).toEqual([
      {
        email: 'bad@example',
        status: 'failed',
        category: 'invalidRecord',
        code: 'invalid',
        message: 'Klaviyo did not import this profile: Invalid email address',
      },
    ]);
    expect(page.unnamed).toBe(1);
    expect(page.next).toContain('page%5Bcursor%5D=2');
    expect(() => fromImportErrors({ errors: [] })).toThrow(DestinationError);
  });
});

describe('declarations', () => {
  it('declares the documented caps and tier M', () => {
    expect(klaviyo.type).toBe('klaviyo');
    expect(klaviyo.batchSize).toBe(10_000);
    expect(klaviyo.limits).toMatchObject({ maxMembersPerExport: 1_000_000, requestsPerSecond: 2.5, burst: 10 });
    expect(klaviyo.apiUrlSetting).toBe('KLAVIYO_API_URL');
    expect(klaviyo.exportKinds).toEqual(['segment']);
    expect(klaviyo.dataMatching.filter((field) => field.required).map((field) => field.name)).toEqual(['email']);
    expect(klaviyo.exportDetails.safeParse({}).success).toBe(false);
    expect(klaviyo.exportDetails.safeParse({ listId: 'Xy Z' }).success).toBe(false);
    expect(klaviyo.exportDetails.safeParse({ listId: 'XyZ123' }).success).toBe(true);
    expect(klaviyo.connectionSecrets.safeParse({ apiKey: ' ' }).success).toBe(false);
  });
});

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}${index}@example.com`,
    fields: { firstName: 'Member', lastName: String(index), phone: `+47 400 ${String(index).padStart(5, '0')}` },
  }));
}

describe('adapter against the simulator', () => {
  let simulator: KlaviyoSimulator;
  useSimulator(
    async () =>
      (simulator = await startKlaviyoSimulator({
        apiKeys: [API_KEY],
        rateLimit: false,
        jobDurationMs: () => 30,
        rejectedEmails: ['suppressed@example.com'],
      })),
  );

  const call = (
    details: KlaviyoDetails = { listId: LIST },
    apiKey = API_KEY,
  ): DestinationCall<Record<string, never>, { apiKey: string }, KlaviyoDetails> => ({
    settings: {},
    secrets: { apiKey },
    details,
    apiOrigin: simulator.url,
  });

  it('tests the connection with the key, and explains a refused key', async () => {
    expect(await fast.testConnection(call())).toEqual({ ok: true });
    const refused = await fast.testConnection(call(undefined, 'pk_wrong'));
    expect(refused.ok).toBe(false);
    expect(refused.ok === false && refused.reason).toContain('refused the credentials (401)');
  });

  it('prepareRun checks the list, and an unknown list is a config error', async () => {
    expect(await fast.prepareRun!(call(), { segments: [], segmentNames: [], mappedFields: [] })).toEqual({ listId: LIST });
    const error = await thrown(fast.prepareRun!(call({ listId: 'Nope12' }), { segments: [], segmentNames: [], mappedFields: [] }));
    expect(error).toMatchObject({ category: 'config', options: { status: 404 } });
  });

  it('imports a batch as one job into the list, with the mapped fields', async () => {
    expect(await fast.sendBatch(call(), members(2_500))).toEqual({ succeeded: 2_500, failures: [] });
    expect(simulator.state.counters.jobsCreated).toBe(1);
    expect(simulator.inspectList(LIST)).toMatchObject({ memberCount: 2_500, deliveries: 2_500, duplicates: 0 });
    expect(simulator.state.profiles.get('member7@example.com')!.attributes).toMatchObject({
      first_name: 'Member',
      last_name: '7',
      phone_number: '+4740000007',
    });
  });

  it('reports import errors per record, reading every page, and adds the rest', async () => {
    const bad = Array.from({ length: 150 }, (_, index) => ({ email: `bad${index}@example`, fields: {} }));
    const result = await fast.sendBatch(call(), [...members(10), ...bad, { email: 'suppressed@example.com', fields: {} }]);
    expect(result.succeeded).toBe(10);
    expect(result.failures).toHaveLength(151);
    expect(result.failures[0]).toEqual({
      email: 'bad0@example',
      status: 'failed',
      category: 'invalidRecord',
      code: 'invalid',
      message: 'Klaviyo did not import this profile: Invalid email address',
    });
    expect(result.failures.at(-1)).toMatchObject({ email: 'suppressed@example.com', code: 'invalid' });
    // 151 errors at 100 a page.
    expect(simulator.state.counters.errorReads).toBe(2);
    expect(simulator.inspectList(LIST)!.memberCount).toBe(10);
  });

  it('re-sending a batch upserts: the list holds each profile once', async () => {
    await fast.sendBatch(call(), members(20));
    expect(await fast.sendBatch(call(), members(20))).toEqual({ succeeded: 20, failures: [] });
    expect(simulator.inspectList(LIST)).toMatchObject({ memberCount: 20, deliveries: 40 });
    expect(simulator.state.profiles.size).toBe(20);
  });

  it('sends a repeated email once and reports the earlier record as skipped', async () => {
    const result = await fast.sendBatch(call(), [
      { email: 'same@example.com', fields: { city: 'Old' } },
      { email: 'same@example.com', fields: { city: 'New' } },
    ]);
    expect(result).toEqual({
      succeeded: 1,
      failures: [expect.objectContaining({ email: 'same@example.com', status: 'skipped', code: 'duplicateInBatch' })],
    });
    expect(simulator.state.profiles.get('same@example.com')!.attributes.location).toEqual({ city: 'New' });
  });

  it('a bad key is an auth error; a list deleted since the run started is a config error', async () => {
    expect(await thrown(fast.sendBatch(call(undefined, 'pk_wrong'), members(1)))).toMatchObject({
      category: 'auth',
      options: { status: 401 },
    });
    expect(await thrown(fast.sendBatch(call({ listId: 'Gone12' }), members(1)))).toMatchObject({
      category: 'config',
      options: { status: 404 },
    });
  });

  it('429 on the import is rateLimited with Retry-After; 429 and 5xx while polling are waited out', async () => {
    // Every second call is answered 429: the import passes, its first poll is throttled and waits
    // Retry-After (1 s) instead of failing the batch, the next poll finds the job complete.
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    expect(await fast.sendBatch(call(), members(3))).toEqual({ succeeded: 3, failures: [] });
    expect(simulator.state.counters.tooManyRequests).toBe(1);
    expect(simulator.state.counters.jobsCreated).toBe(1);
    // Now the import itself meets the 429: a rateLimited error carrying the vendor's wait.
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    await fetch(`${simulator.url}/api/accounts`);
    const error = await thrown(fast.sendBatch(call(), members(1, 'other')));
    expect(error).toMatchObject({ category: 'rateLimited', options: { status: 429, retryAfterMs: 1000 } });
    expect(error.retryable).toBe(true);
    simulator.setFaults({ serverErrorRate: 0.3, seed: 5 });
    const result = await fast.sendBatch(call(), members(5)).catch((error: DestinationError) => error);
    // Either the import itself met a 500 (retryable for the engine) or polling rode it out.
    if (result instanceof DestinationError) expect(result.category).toBe('vendorUnavailable');
    else expect(result).toEqual({ succeeded: 5, failures: [] });
  });
});
