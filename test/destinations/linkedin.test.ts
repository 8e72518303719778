// The LinkedIn adapter: its pure converters against the table of cases, its declarations, and the
// adapter itself over real HTTP against the local simulator (segments found or created once, users
// and companies streamed, the seeds' eligibility rule for the company option, errors by category).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  LINKEDIN_BATCH_LIMIT,
  RATE_LIMIT_FALLBACK_WAIT_MS,
  fromBatchResult,
  linkedin,
  linkedinDataMatchingFor,
  linkedinSegmentTypesFor,
  sha256Email,
  toCompanyElement,
  toUserElement,
  type LinkedinDetails,
  type LinkedinSecrets,
  type LinkedinSettings,
} from '../../shared/destinations/linkedin.js';
import type { DestinationCall, MappedMember, PrepareRun, SegmentRef } from '../../shared/destinations/destination.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import { ineligibleSegmentMessage } from '../../shared/exports/eligibility.js';
import { startLinkedinSimulator, type LinkedinSimulator } from '../../local/simulators/linkedinSimulator.js';
import { ADA_SHA256, batchResultCases, companyElementCases, notBatchResults, userElementCases } from './linkedin.cases.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const TOKEN = 'li-test-token';
const ACCOUNT = '512345678';
/** The enum value the simulated LinkedIn granted this application. */
const SOURCE_PLATFORM = 'OUTFLOW_TEST';

describe('toUserElement', () => {
  it.each(userElementCases)('$name', ({ member, expected }) => {
    expect(toUserElement(member)).toEqual(expected);
  });

  it('hashes a known email to its known SHA-256', () => {
    expect(sha256Email('ada@example.com')).toBe(ADA_SHA256);
  });
});

describe('toCompanyElement', () => {
  it.each(companyElementCases)('$name', ({ member, expected }) => {
    expect(toCompanyElement(member)).toEqual(expected);
  });
});

describe('fromBatchResult', () => {
  it.each(batchResultCases)('$name', ({ body, identities, expected }) => {
    expect(fromBatchResult(body, identities)).toEqual(expected);
  });

  it.each(notBatchResults)('refuses $name', ({ body, identities }) => {
    expect(() => fromBatchResult(body, identities)).toThrow(DestinationError);
  });
});

describe('declarations', () => {
  it('declares what the vendor documents', () => {
    expect(linkedin.type).toBe('linkedin');
    expect(linkedin.batchSize).toBe(5000);
    expect(linkedin.listPerSegment).toBe(true);
    expect(linkedin.eligibleSegmentTypes).toEqual(['Profile', 'Contact', 'Account']);
    expect(linkedin.exportKinds).toEqual(['segment']);
    expect(linkedin.apiUrlSetting).toBe('LINKEDIN_API_URL');
    // No field is required for every export: email for contacts, companyName for companies.
    expect(linkedin.dataMatching.filter((field) => field.required)).toEqual([]);
    expect(
      linkedinDataMatchingFor({})
        .filter((field) => field.required)
        .map((field) => field.name),
    ).toEqual(['email']);
    expect(
      linkedinDataMatchingFor({ audienceType: 'companies' })
        .filter((field) => field.required)
        .map((field) => field.name),
    ).toEqual(['companyName']);
    expect(linkedinSegmentTypesFor({ audienceType: 'contacts' })).toEqual(['Profile', 'Contact']);
    expect(linkedinSegmentTypesFor({ audienceType: 'companies' })).toEqual(['Account']);
    // At most 190 calls in any minute: under the strictest documented per-minute limit (200).
    expect(linkedin.limits.burst + 60 * linkedin.limits.requestsPerSecond).toBeLessThanOrEqual(200);
  });

  it('validates connection settings, secrets and export details', () => {
    expect(linkedin.connectionSettings.safeParse({ adAccountId: '123', sourcePlatform: 'PARTNER_X' }).success).toBe(true);
    expect(linkedin.connectionSettings.safeParse({ adAccountId: 'urn:li:sponsoredAccount:123', sourcePlatform: 'PARTNER_X' }).success).toBe(
      true,
    );
    expect(linkedin.connectionSettings.safeParse({ adAccountId: 'acme', sourcePlatform: 'PARTNER_X' }).success).toBe(false);
    expect(linkedin.connectionSettings.safeParse({}).success).toBe(false);
    expect(linkedin.connectionSettings.safeParse({ adAccountId: '123', apiVersion: '2026-04', sourcePlatform: 'PARTNER_X' }).success).toBe(
      false,
    );
    // sourcePlatform is LinkedIn's per-partner enum: required, no default, and the refusal names it.
    const missing = linkedin.connectionSettings.safeParse({ adAccountId: '123' });
    expect(missing.success).toBe(false);
    expect(!missing.success && missing.error.issues.map((issue) => issue.path.join('.'))).toEqual(['sourcePlatform']);
    expect(!missing.success && missing.error.issues[0]!.message).toContain('sourcePlatform is required');
    expect(linkedin.connectionSettings.safeParse({ adAccountId: '123', sourcePlatform: '  ' }).success).toBe(false);
    expect(linkedin.connectionSecrets.safeParse({ accessToken: '' }).success).toBe(false);
    expect(linkedin.connectionSecrets.safeParse({ accessToken: 't' }).success).toBe(true);
    expect(linkedin.exportDetails.safeParse({}).success).toBe(true);
    expect(linkedin.exportDetails.safeParse({ audienceType: 'companies' }).success).toBe(true);
    expect(linkedin.exportDetails.safeParse({ audienceType: 'accounts' }).success).toBe(false);
  });
});

function contacts(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}${index}@example.com`,
    fields: { firstName: 'Member', lastName: String(index), country: 'Norway' },
  }));
}

function companies(count: number): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `account-${index}`,
    fields: { companyName: `Company ${index % 7}`, companyWebsiteDomain: `https://www.company${index}.no` },
  }));
}

type Call = DestinationCall<LinkedinSettings, LinkedinSecrets, LinkedinDetails>;

describe('adapter against the simulator', () => {
  let simulator: LinkedinSimulator;
  let segmentSeq = 0;

  useSimulator(
    async () =>
      (simulator = await startLinkedinSimulator({
        accessTokens: [TOKEN],
        adAccounts: [ACCOUNT],
        rateLimit: false,
        sourcePlatforms: [SOURCE_PLATFORM],
      })),
  );

  function call(details: LinkedinDetails = {}, token = TOKEN, origin?: string): Call {
    return {
      settings: { adAccountId: ACCOUNT, sourcePlatform: SOURCE_PLATFORM },
      secrets: { accessToken: token },
      details,
      apiOrigin: origin ?? simulator.url,
    };
  }

  function segment(type: SegmentRef['type'] = 'Contact', name?: string): SegmentRef {
    segmentSeq += 1;
    return { id: `Segment_Test${segmentSeq}`, name: name ?? `Test segment ${segmentSeq}`, type };
  }

  function run(segments: SegmentRef[], mappedFields: string[]): PrepareRun {
    return { segments, segmentNames: segments.map((candidate) => candidate.name), mappedFields };
  }

  async function prepared(details: LinkedinDetails, segments: SegmentRef[], mappedFields: string[]): Promise<Call> {
    const ready = await linkedin.prepareRun!(call(details), run(segments, mappedFields));
    return call(ready);
  }

  it('prepareRun creates one USER segment per lake segment, named after it, and finds it again on the next run', async () => {
    const all = segment('Contact', 'All customers');
    const vip = segment('Contact', 'VIP');
    const first = await linkedin.prepareRun!(call(), run([all, vip], ['email', 'firstName']));
    expect(first.audienceType).toBe('contacts');
    expect(Object.keys(first.dmpSegments!)).toEqual([all.id, vip.id]);
    expect(first.dmpSegments![all.id]!.createdAt).toBeDefined();
    const created = simulator.state.segments.get(first.dmpSegments![all.id]!.id)!;
    expect(created).toMatchObject({
      name: 'All customers',
      type: 'USER',
      account: `urn:li:sponsoredAccount:${ACCOUNT}`,
      sourceSegmentId: all.id,
      accessPolicy: 'PRIVATE',
    });

    const second = await linkedin.prepareRun!(call(), run([all, vip], ['email']));
    expect(second.dmpSegments).toEqual({
      [all.id]: { id: first.dmpSegments![all.id]!.id },
      [vip.id]: { id: first.dmpSegments![vip.id]!.id },
    });
    expect(simulator.state.counters.segmentsCreated).toBe(2);
  });

  it('two runs preparing at once still make one DMP segment (the 409 of the loser is read back)', async () => {
    const all = segment();
    simulator.setFaults({ latencyMs: 15 });
    const [a, b] = await Promise.all([
      linkedin.prepareRun!(call(), run([all], ['email'])),
      linkedin.prepareRun!(call(), run([all], ['email'])),
    ]);
    simulator.setFaults({});
    expect(a.dmpSegments![all.id]!.id).toBe(b.dmpSegments![all.id]!.id);
    expect(simulator.state.counters.segmentsCreated).toBe(1);
    expect(simulator.state.counters.byRoute['POST /dmpSegments']).toBe(2);
  });

  it('prepareRun rides out transient failures of its setup calls and still makes each DMP segment once', async () => {
    const wanted = [segment(), segment(), segment()];
    simulator.setFaults({ serverErrorRate: 0.4, connectionResetRate: 0.1, seed: 5 });
    const details = await linkedin.prepareRun!(call(), run(wanted, ['email']));
    simulator.setFaults({});
    expect(Object.keys(details.dmpSegments!)).toEqual(wanted.map((candidate) => candidate.id));
    expect(simulator.state.counters.segmentsCreated).toBe(3);
    expect(simulator.state.counters.serverErrors + simulator.state.counters.connectionResets).toBeGreaterThan(0);
  });

  it('contacts: every member lands under the SHA-256 of its email, with names and ISO country', async () => {
    const all = segment();
    const target = { ...(await prepared({}, [all], ['email', 'firstName', 'lastName', 'country'])), segment: all };
    const result = await linkedin.sendBatch(target, [
      { email: 'ada@example.com', fields: { firstName: 'Ada', lastName: 'Lovelace', country: 'United Kingdom' } },
      ...contacts(249),
    ]);
    expect(result).toEqual({ succeeded: 250, failures: [] });
    const stored = simulator.state.segments.get(target.details.dmpSegments![all.id]!.id)!;
    expect(stored.members.size).toBe(250);
    expect(stored.members.get(ADA_SHA256)).toEqual({
      action: 'ADD',
      userIds: [{ idType: 'SHA256_EMAIL', idValue: ADA_SHA256 }],
      firstName: 'Ada',
      lastName: 'Lovelace',
      country: 'GB',
    });
    expect(simulator.state.counters.elementsRejected).toBe(0);
  });

  it('re-sending a batch updates the same members instead of adding new ones', async () => {
    const all = segment();
    const target = { ...(await prepared({}, [all], ['email'])), segment: all };
    await linkedin.sendBatch(target, contacts(10));
    expect(await linkedin.sendBatch(target, contacts(10))).toEqual({ succeeded: 10, failures: [] });
    expect(simulator.inspectSegment(target.details.dmpSegments![all.id]!.id)).toMatchObject({
      memberCount: 10,
      deliveries: 20,
      duplicates: 10,
    });
  });

  it('each segment of the export goes to its own DMP segment', async () => {
    const first = segment();
    const second = segment();
    const base = await prepared({}, [first, second], ['email']);
    await linkedin.sendBatch({ ...base, segment: first }, contacts(3, 'first'));
    await linkedin.sendBatch({ ...base, segment: second }, contacts(5, 'second'));
    expect(simulator.inspectSegment(base.details.dmpSegments![first.id]!.id)!.memberCount).toBe(3);
    expect(simulator.inspectSegment(base.details.dmpSegments![second.id]!.id)!.memberCount).toBe(5);
  });

  it('companies: an Account segment becomes a COMPANY list; an account without a name is skipped', async () => {
    const accounts = segment('Account', 'Enterprise accounts');
    const target = {
      ...(await prepared({ audienceType: 'companies' }, [accounts], ['companyName', 'companyWebsiteDomain'])),
      segment: accounts,
    };
    const dmpId = target.details.dmpSegments![accounts.id]!.id;
    expect(simulator.state.segments.get(dmpId)!.type).toBe('COMPANY');
    const nameless = { email: 'account-x', fields: { companyWebsiteDomain: 'nameless.no' } };
    const result = await linkedin.sendBatch(target, [...companies(20), nameless]);
    expect(result.succeeded).toBe(20);
    expect(result.failures).toEqual([
      {
        email: 'account-x',
        status: 'skipped',
        category: 'invalidRecord',
        code: 'missingCompanyName',
        message: expect.stringContaining('company name'),
      },
    ]);
    // Same names, different domains: twenty companies, not seven.
    expect(simulator.inspectSegment(dmpId)).toMatchObject({ memberCount: 20, deliveries: 20, duplicates: 0 });
    expect([...simulator.state.segments.get(dmpId)!.members.values()][3]).toEqual({
      action: 'ADD',
      companyName: 'Company 3',
      companyWebsiteDomain: 'company3.no',
    });
  });

  it("prepareRun refuses a segment the audience type does not take, with the seeds' message", async () => {
    const accounts = segment('Account', 'Enterprise accounts');
    const asContacts = await thrown(linkedin.prepareRun!(call(), run([accounts], ['email'])));
    expect(asContacts).toMatchObject({ category: 'config', message: ineligibleSegmentMessage('Enterprise accounts') });
    expect(asContacts.message).toBe(
      "The following segment isn't eligible for this export destination: 'Enterprise accounts'. Choose only segments of type ContactProfile and try again.",
    );
    const people = segment('Contact', 'Decision makers');
    const asCompanies = await thrown(linkedin.prepareRun!(call({ audienceType: 'companies' }), run([people], ['companyName'])));
    expect(asCompanies.message).toBe(ineligibleSegmentMessage('Decision makers'));
    expect(simulator.state.counters.requests).toBe(0);
  });

  it('prepareRun checks the required field of the audience type and refuses fields of the other type', async () => {
    expect((await thrown(linkedin.prepareRun!(call(), run([segment()], ['firstName'])))).message).toMatch(/needs email/);
    expect(
      (await thrown(linkedin.prepareRun!(call({ audienceType: 'companies' }), run([segment('Account')], ['companyWebsiteDomain']))))
        .message,
    ).toMatch(/needs companyName/);
    const mixed = await thrown(linkedin.prepareRun!(call(), run([segment()], ['email', 'companyWebsiteDomain'])));
    expect(mixed).toMatchObject({ category: 'config', message: expect.stringContaining('companyWebsiteDomain belongs to company lists') });
  });

  it('prepareRun warns when an audience is under 300: from the member count, or from what LinkedIn matched so far', async () => {
    const small = { ...segment('Contact', 'Tiny'), memberCount: 120 } as SegmentRef;
    const large = { ...segment('Contact', 'Large'), memberCount: 5000 } as SegmentRef;
    const first = await linkedin.prepareRun!(call(), run([small, large], ['email']));
    expect(first.warnings).toEqual([
      "The segment 'Tiny' has 120 members; LinkedIn needs at least 300 matched members before campaigns can target the audience.",
    ]);

    // Without a member count, an existing segment's matched audience tells.
    const bare = segment('Contact', 'Pilots');
    const ready = await prepared({}, [bare], ['email']);
    await linkedin.sendBatch({ ...ready, segment: bare }, contacts(42));
    const again = await linkedin.prepareRun!(call(), run([bare], ['email']));
    expect(again.warnings).toEqual([
      "LinkedIn has matched 42 members of 'Pilots' so far; LinkedIn needs at least 300 matched members before campaigns can target the audience.",
    ]);
    const fresh = await linkedin.prepareRun!(call(), run([segment()], ['email']));
    expect(fresh.warnings).toBeUndefined();
  });

  it('a new segment that is not available yet is retryable with a 5 s wait; an old one gone is a config error', async () => {
    const slow = await startLinkedinSimulator({ accessTokens: [TOKEN], rateLimit: false, segmentReadyDelayMs: 400 });
    try {
      const all = segment();
      const details = await linkedin.prepareRun!(call({}, TOKEN, slow.url), run([all], ['email']));
      const target = { ...call(details, TOKEN, slow.url), segment: all };
      const early = await thrown(linkedin.sendBatch(target, contacts(1)));
      expect(early).toMatchObject({ category: 'vendorUnavailable', retryable: true, options: { status: 404, retryAfterMs: 5000 } });
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect(await linkedin.sendBatch(target, contacts(1))).toEqual({ succeeded: 1, failures: [] });

      const gone = { ...target, details: { ...details, dmpSegments: { [all.id]: { id: '999', createdAt: '2020-01-01T00:00:00.000Z' } } } };
      expect(await thrown(linkedin.sendBatch(gone, contacts(1)))).toMatchObject({
        category: 'config',
        retryable: false,
        options: { status: 404 },
      });
    } finally {
      await slow.stop();
    }
  });

  it('a batch over the cap is refused before any call; a vendor refusing a smaller batch is split by the engine', async () => {
    const all = segment();
    const target = { ...(await prepared({}, [all], ['email'])), segment: all };
    const before = simulator.state.counters.requests;
    expect(await thrown(linkedin.sendBatch(target, contacts(LINKEDIN_BATCH_LIMIT + 1)))).toMatchObject({ category: 'config' });
    expect(simulator.state.counters.requests).toBe(before);
    expect(await linkedin.sendBatch(target, contacts(LINKEDIN_BATCH_LIMIT))).toEqual({ succeeded: 5000, failures: [] });

    const small = await startLinkedinSimulator({ accessTokens: [TOKEN], rateLimit: false, maxElementsPerBatch: 5 });
    try {
      const details = await linkedin.prepareRun!(call({}, TOKEN, small.url), run([all], ['email']));
      const error = await thrown(linkedin.sendBatch({ ...call(details, TOKEN, small.url), segment: all }, contacts(6)));
      // invalidRecord: the engine halves the batch until the vendor takes it.
      expect(error).toMatchObject({ category: 'invalidRecord', options: { status: 400 } });
    } finally {
      await small.stop();
    }
  });

  it('per-element failures in a 200 become per-record failures, aligned with the members sent', async () => {
    const server: Server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ elements: [{ status: 201 }, { status: 400, error: { status: 400, message: 'companyName is too long' } }] }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const accounts = segment('Account');
      const target: Call = {
        ...call({ audienceType: 'companies', dmpSegments: { [accounts.id]: { id: '1' } } }, TOKEN, origin),
        segment: accounts,
      };
      const members: MappedMember[] = [
        { email: 'a-1', fields: { companyName: 'A' } },
        { email: 'a-2', fields: {} },
        { email: 'a-3', fields: { companyName: 'C'.repeat(400) } },
      ];
      expect(await linkedin.sendBatch(target, members)).toEqual({
        succeeded: 1,
        failures: [
          { email: 'a-3', status: 'failed', category: 'invalidRecord', code: '400', message: 'companyName is too long' },
          { email: 'a-2', status: 'skipped', category: 'invalidRecord', code: 'missingCompanyName', message: expect.any(String) },
        ],
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a bad token is an auth error carrying the vendor message', async () => {
    const all = segment();
    const details = await linkedin.prepareRun!(call(), run([all], ['email']));
    const error = await thrown(linkedin.sendBatch({ ...call(details, 'expired-token'), segment: all }, contacts(1)));
    expect(error).toMatchObject({ category: 'auth', options: { status: 401 } });
    expect(error.message).toContain('Invalid access token');
  });

  it('429 is rateLimited with the fallback wait when LinkedIn gives no Retry-After (as documented), or with the Retry-After wait', async () => {
    const all = segment();
    const target = { ...(await prepared({}, [all], ['email'])), segment: all };
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    await linkedin.sendBatch(target, contacts(1));
    expect(await thrown(linkedin.sendBatch(target, contacts(1)))).toMatchObject({
      category: 'rateLimited',
      retryable: true,
      options: { status: 429, retryAfterMs: RATE_LIMIT_FALLBACK_WAIT_MS },
    });

    const limited = await startLinkedinSimulator({
      accessTokens: [TOKEN],
      rateLimit: { usersPerMinute: 1, companiesPerMinute: 1 },
      retryAfterHeader: true,
    });
    try {
      const details = await linkedin.prepareRun!(call({}, TOKEN, limited.url), run([all], ['email']));
      const limitedTarget = { ...call(details, TOKEN, limited.url), segment: all };
      await linkedin.sendBatch(limitedTarget, contacts(1));
      const error = await thrown(linkedin.sendBatch(limitedTarget, contacts(1)));
      expect(error).toMatchObject({ category: 'rateLimited' });
      expect(error.options.retryAfterMs).toBeGreaterThan(RATE_LIMIT_FALLBACK_WAIT_MS);
      expect(error.options.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(limited.state.counters.tooManyRequests).toBe(1);
    } finally {
      await limited.stop();
    }
  });

  it('a 5xx is vendorUnavailable and a reset connection is network, both retryable', async () => {
    const all = segment();
    const target = { ...(await prepared({}, [all], ['email'])), segment: all };
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(linkedin.sendBatch(target, contacts(1)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
    simulator.setFaults({ connectionResetRate: 1 });
    expect(await thrown(linkedin.sendBatch(target, contacts(1)))).toMatchObject({ category: 'network', retryable: true });
  });

  it('sendBatch without a prepared DMP segment is a config error, not a guess', async () => {
    expect(await thrown(linkedin.sendBatch({ ...call(), segment: segment() }, contacts(1)))).toMatchObject({ category: 'config' });
  });

  it('testConnection: one finder call; the vendor reason for a bad token or an account the member cannot manage', async () => {
    expect(await linkedin.testConnection(call())).toEqual({ ok: true });
    expect(simulator.state.counters.byRoute['GET /dmpSegments']).toBe(1);
    const badToken = await linkedin.testConnection(call({}, 'wrong'));
    expect(badToken.ok).toBe(false);
    expect(!badToken.ok && badToken.reason).toMatch(/Invalid access token/);
    const otherAccount = await linkedin.testConnection({ ...call(), settings: { adAccountId: '999', sourcePlatform: SOURCE_PLATFORM } });
    expect(otherAccount.ok).toBe(false);
    expect(!otherAccount.ok && otherAccount.reason).toMatch(/Not enough permissions/);
    // The connection test sends sourcePlatform, so a value LinkedIn did not grant fails here, not at the first run.
    const wrongPlatform = await linkedin.testConnection({ ...call(), settings: { adAccountId: ACCOUNT, sourcePlatform: 'NOT_GRANTED' } });
    expect(wrongPlatform.ok).toBe(false);
    expect(!wrongPlatform.ok && wrongPlatform.reason).toMatch(/sourcePlatform/);
    // A connection saved before the setting was required: a config answer naming it, no placeholder sent.
    const none = await linkedin.testConnection({ ...call(), settings: { adAccountId: ACCOUNT } as never });
    expect(none).toEqual({ ok: false, reason: expect.stringContaining('no sourcePlatform') });
  });

  it('sends the headers LinkedIn requires, and the configured version and source platform', async () => {
    const seen: Record<string, string | undefined>[] = [];
    const server: Server = createServer((request, response) => {
      seen.push({
        method: request.method,
        url: request.url,
        auth: request.headers.authorization,
        version: request.headers['linkedin-version'] as string,
        protocol: request.headers['x-restli-protocol-version'] as string,
        restliMethod: request.headers['x-restli-method'] as string,
      });
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(request.method === 'GET' ? { elements: [] } : { elements: [{ status: 201 }] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const all = segment();
      const target: Call = {
        settings: { adAccountId: ACCOUNT, apiVersion: '202608', sourcePlatform: 'PARTNER_X' },
        secrets: { accessToken: TOKEN },
        details: { dmpSegments: { [all.id]: { id: '77' } } },
        apiOrigin: origin,
        segment: all,
      };
      await linkedin.testConnection(target);
      await linkedin.sendBatch(target, contacts(1));
      expect(seen[0]).toMatchObject({
        method: 'GET',
        url: `/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A${ACCOUNT}&sourcePlatform=PARTNER_X&start=0&count=1`,
        auth: `Bearer ${TOKEN}`,
        version: '202608',
        protocol: '2.0.0',
      });
      expect(seen[1]).toMatchObject({
        method: 'POST',
        url: '/rest/dmpSegments/77/users',
        version: '202608',
        protocol: '2.0.0',
        restliMethod: 'BATCH_CREATE',
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
