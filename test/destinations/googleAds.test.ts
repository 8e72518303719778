// The Google Ads Customer Match adapter: normalization and hashing against Google's rules, the
// partial-failure reader, and the adapter over real HTTP against the local simulator (token
// exchange, list found or created, job created / filled / run / polled, per-member failures,
// whole-call errors mapped to categories).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createGoogleAdsAdapter,
  fromPartialFailure,
  googleAds,
  normalizeEmail,
  toCountryCode,
  toUserIdentifiers,
  type GoogleAdsDetails,
  type GoogleAdsSecrets,
  type GoogleAdsSettings,
} from '../../shared/destinations/googleAds.js';
import type { DestinationCall, MappedMember, PrepareRun } from '../../shared/destinations/destination.js';
import { startGoogleAdsSimulator, type GoogleAdsSimulator } from '../../local/simulators/googleAdsSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const CUSTOMER = '1234567890';
const SECRETS: GoogleAdsSecrets = {
  clientId: 'client-1.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-secret',
  refreshToken: '1//refresh-token',
  developerToken: 'dev-token-abc',
};
const fast = createGoogleAdsAdapter({ polling: { firstDelayMs: 20, maxDelayMs: 100 }, operationsPerRequest: 400 });

describe('normalization and hashing', () => {
  it.each([
    ['  Jane.Doe@Example.COM ', 'jane.doe@example.com'],
    ['Jane.Doe+ads@gmail.com', 'janedoe+ads@gmail.com'],
    ['j.d@GoogleMail.com', 'jd@googlemail.com'],
  ])('normalizeEmail(%s) = %s', (input, expected) => {
    expect(normalizeEmail(input)).toBe(expected);
  });

  it('country names become ISO codes', () => {
    expect(toCountryCode('Norway')).toBe('NO');
    expect(toCountryCode('netherlands')).toBe('NL');
    expect(toCountryCode('gb')).toBe('GB');
    expect(toCountryCode('Atlantis')).toBeUndefined();
  });

  it('a member becomes hashed email, E.164 phone and a full address when every part is there', () => {
    const member: MappedMember = {
      email: 'kari@example.com',
      fields: { phone: '+47 912 34 567', firstName: ' Kari ', lastName: 'Nord Mann', country: 'Norway', postalCode: '0150' },
    };
    expect(toUserIdentifiers(member)).toEqual([
      { hashedEmail: sha('kari@example.com') },
      { hashedPhoneNumber: sha('+4791234567') },
      { addressInfo: { hashedFirstName: sha('kari'), hashedLastName: sha('nord mann'), countryCode: 'NO', postalCode: '0150' } },
    ]);
    // No postal code: no address; a number without a country code: no phone.
    expect(
      toUserIdentifiers({ email: 'a@example.com', fields: { phone: '912 34 567', firstName: 'A', lastName: 'B', country: 'NO' } }),
    ).toEqual([{ hashedEmail: sha('a@example.com') }]);
  });

  it('reads partial failures back onto the members by operation index', () => {
    const members = [
      { email: 'a@example.com', fields: {} },
      { email: 'b@example.com', fields: {} },
      { email: 'c@example.com', fields: {} },
    ];
    const body = {
      partialFailureError: {
        code: 3,
        message: 'Multiple errors',
        details: [
          {
            '@type': 'type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure',
            errors: [
              {
                errorCode: { offlineUserDataJobError: 'INVALID_COUNTRY_CODE' },
                message: 'The country code is invalid.',
                location: { fieldPathElements: [{ fieldName: 'operations', index: 2 }, { fieldName: 'create' }] },
              },
              {
                errorCode: { offlineUserDataJobError: 'INVALID_SHA256_FORMAT' },
                message: 'The SHA256 encoded value is malformed.',
                location: { fieldPathElements: [{ fieldName: 'operations', index: 0 }] },
              },
            ],
          },
        ],
      },
    };
    expect(fromPartialFailure(body, members)).toEqual([
      {
        email: 'a@example.com',
        status: 'failed',
        category: 'invalidRecord',
        code: 'INVALID_SHA256_FORMAT',
        message: "Google Ads refused this member's identifiers: The SHA256 encoded value is malformed.",
      },
      {
        email: 'c@example.com',
        status: 'failed',
        category: 'invalidRecord',
        code: 'INVALID_COUNTRY_CODE',
        message: "Google Ads refused this member's identifiers: The country code is invalid.",
      },
    ]);
    expect(fromPartialFailure({}, members)).toEqual([]);
  });
});

describe('declarations', () => {
  it('declares a job per 100,000 members, one at a time, and validates the connection', () => {
    expect(googleAds.type).toBe('google-ads');
    expect(googleAds.batchSize).toBe(100_000);
    expect(googleAds.limits).toMatchObject({ maxMembersPerExport: 1_000_000, maxConcurrentRequests: 1 });
    expect(googleAds.apiUrlSetting).toBe('GOOGLE_ADS_API_URL');
    expect(googleAds.connectionSettings.parse({ customerId: '123-456-7890' })).toEqual({ customerId: '1234567890' });
    expect(googleAds.connectionSettings.safeParse({ customerId: '12345' }).success).toBe(false);
    expect(googleAds.connectionSecrets.safeParse({ clientId: 'x', clientSecret: 'y', refreshToken: 'z' }).success).toBe(false);
    expect(googleAds.exportDetails.safeParse({ userListId: 'abc' }).success).toBe(false);
    expect(googleAds.exportDetails.parse({})).toEqual({});
  });
});

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}${index}@example.com`,
    fields: {
      firstName: 'Member',
      lastName: String(index),
      country: 'Norway',
      postalCode: '0150',
      phone: `+47 400 ${String(index).padStart(5, '0')}`,
    },
  }));
}
const run = (...names: string[]): PrepareRun => ({ segments: [], segmentNames: names, mappedFields: [] });

describe('adapter against the simulator', () => {
  let simulator: GoogleAdsSimulator;
  useSimulator(
    async () =>
      (simulator = await startGoogleAdsSimulator({
        clients: { [SECRETS.clientId]: SECRETS.clientSecret },
        refreshTokens: [SECRETS.refreshToken],
        developerTokens: [SECRETS.developerToken],
        customers: [CUSTOMER],
        rateLimit: false,
        jobDurationMs: () => 30,
      })),
  );

  type Call = DestinationCall<GoogleAdsSettings, GoogleAdsSecrets, GoogleAdsDetails>;
  const call = (
    details: GoogleAdsDetails = {},
    secrets: Partial<GoogleAdsSecrets> = {},
    settings: Partial<GoogleAdsSettings> = {},
  ): Call => ({ settings: { customerId: CUSTOMER, ...settings }, secrets: { ...SECRETS, ...secrets }, details, apiOrigin: simulator.url });

  it('tests the connection through the token exchange; a revoked refresh token is an auth failure', async () => {
    expect(await fast.testConnection(call())).toEqual({ ok: true });
    const revoked = await fast.testConnection(call({}, { refreshToken: 'revoked' }));
    expect(revoked).toEqual({ ok: false, reason: expect.stringContaining('invalid_grant') });
    const badDeveloperToken = await fast.testConnection(call({}, { developerToken: 'nope' }));
    expect(badDeveloperToken.ok).toBe(false);
    expect(simulator.state.counters.tokensIssued).toBeGreaterThanOrEqual(1);
  });

  it('prepareRun creates a CRM list named like the segment once, then finds it', async () => {
    const first = await fast.prepareRun!(call(), run('VIP'));
    expect(first.userListId).toMatch(/^\d+$/);
    expect(await fast.prepareRun!(call(), run('VIP'))).toEqual(first);
    expect(simulator.listsNamed('VIP')).toHaveLength(1);
    // A given list id is checked: unknown or not Customer Match is a config error.
    expect(await thrown(fast.prepareRun!(call({ userListId: '42' }), run('VIP')))).toMatchObject({
      category: 'config',
      options: { code: 'INVALID_USER_LIST_ID' },
    });
    const rule = simulator.addUserList(CUSTOMER, 'Visitors', 'RULE_BASED');
    expect(await thrown(fast.prepareRun!(call({ userListId: rule }), run('VIP')))).toMatchObject({
      category: 'config',
      options: { code: 'INVALID_USER_LIST_TYPE' },
    });
  });

  it('sends a batch as one job: created, filled in requests of the operation cap, run, polled to SUCCESS', async () => {
    const details = await fast.prepareRun!(call(), run('All customers'));
    expect(await fast.sendBatch(call(details), members(1_000))).toEqual({ succeeded: 1_000, failures: [] });
    const counters = simulator.state.counters;
    expect(counters.jobsCreated).toBe(1);
    expect(counters.jobsRun).toBe(1);
    expect(counters.byRoute['POST offlineUserDataJobs:addOperations']).toBe(3);
    expect(simulator.inspectList(details.userListId!)).toMatchObject({ memberCount: 1_000, deliveries: 1_000, duplicates: 0 });
    expect(simulator.state.userLists.get(details.userListId!)!.members.has(sha('member7@example.com'))).toBe(true);
    // One token for the whole batch.
    expect(counters.tokensIssued).toBe(1);
  });

  it('lists refused identifiers per member (partial failure) and runs the rest', async () => {
    const details = await fast.prepareRun!(call(), run('All customers'));
    const strict = createGoogleAdsAdapter({ polling: { firstDelayMs: 20 } });
    const batch = [
      ...members(3),
      { email: 'x@example.com', fields: { firstName: 'X', lastName: 'Y', country: 'Atlantis', postalCode: '1' } },
    ];
    // "Atlantis" has no ISO code, so the address is left out: nothing to refuse.
    expect(await strict.sendBatch(call(details), batch)).toEqual({ succeeded: 4, failures: [] });
    const withBadCountry = await startGoogleAdsSimulator({ rateLimit: false, jobDurationMs: () => 10 });
    try {
      const origin = { ...call(), apiOrigin: withBadCountry.url };
      const listId = withBadCountry.addUserList(CUSTOMER, 'L');
      const result = await strict.sendBatch({ ...origin, details: { userListId: listId } }, [
        ...members(2),
        { email: 'zz@example.com', fields: { firstName: 'Z', lastName: 'Z', country: 'zz', postalCode: '1' } },
      ]);
      // 'zz' looks like a code and is sent upper-cased; no country has it, so Google refuses that
      // member's operation only.
      expect(result).toEqual({
        succeeded: 2,
        failures: [
          {
            email: 'zz@example.com',
            status: 'failed',
            category: 'invalidRecord',
            code: 'INVALID_COUNTRY_CODE',
            message: "Google Ads refused this member's identifiers: The country code is invalid.",
          },
        ],
      });
      expect(withBadCountry.inspectList(listId)!.memberCount).toBe(2);
    } finally {
      await withBadCountry.stop();
    }
  });

  it('re-sending a batch adds nobody twice to the list', async () => {
    const details = await fast.prepareRun!(call(), run('All customers'));
    await fast.sendBatch(call(details), members(10));
    await fast.sendBatch(call(details), members(10));
    expect(simulator.inspectList(details.userListId!)).toMatchObject({ memberCount: 10, deliveries: 20 });
  });

  it('a FAILED job is handed back as retryable; 429 RESOURCE_EXHAUSTED is rateLimited', async () => {
    const details = await fast.prepareRun!(call(), run('All customers'));
    simulator.state.failNextJobs = 1;
    expect(await thrown(fast.sendBatch(call(details), members(2)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    // Every second call is 429: token (ok), create (429) → the batch is rate limited as a whole.
    const error = await thrown(createGoogleAdsAdapter().sendBatch(call(details), members(1)));
    expect(error).toMatchObject({ category: 'rateLimited', options: { status: 429 } });
    simulator.setFaults({});
  });

  it('5xx and 429 after the job exists are waited out inside the batch', async () => {
    const details = await fast.prepareRun!(call(), run('All customers'));
    await fast.testConnection(call(details));
    // ok, 429, ok, 429 …: create passes, then each later step meets one 429 and repeats.
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    expect(await fast.sendBatch(call(details), members(900))).toEqual({ succeeded: 900, failures: [] });
    simulator.setFaults({});
    expect(simulator.state.counters.jobsCreated).toBe(1);
    expect(simulator.inspectList(details.userListId!)!.memberCount).toBe(900);
  });

  it('a batch without a prepared list is a config error', async () => {
    expect((await thrown(fast.sendBatch(call(), members(1)))).category).toBe('config');
  });
});
