// LinkedIn removals over real HTTP: the same BATCH_CREATE posts with `action: 'REMOVE'` into the
// segment's own DMP segment (users by hashed email, companies by their identifying fields).
import { describe, expect, it } from 'vitest';
import {
  linkedin,
  RATE_LIMIT_FALLBACK_WAIT_MS,
  sha256Email,
  toUserRemoval,
  type LinkedinDetails,
  type LinkedinSecrets,
  type LinkedinSettings,
} from '../../shared/destinations/linkedin.js';
import type { DestinationCall, MappedMember, SegmentRef } from '../../shared/destinations/destination.js';
import { startLinkedinSimulator, type LinkedinSimulator } from '../../local/simulators/linkedinSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const TOKEN = 'li-test-token';
const ACCOUNT = '512345678';
const SOURCE_PLATFORM = 'OUTFLOW_TEST';
type Call = DestinationCall<LinkedinSettings, LinkedinSecrets, LinkedinDetails>;

const contacts = (count: number): MappedMember[] =>
  Array.from({ length: count }, (_, index) => ({
    email: `contact${index}@lovelace.dev`,
    fields: { firstName: 'Ada', lastName: `No${index}` },
  }));
const companies = (count: number): MappedMember[] =>
  Array.from({ length: count }, (_, index) => ({
    email: `account-${index}`,
    fields: { companyName: `Company ${index}`, companyWebsiteDomain: `company${index}.no` },
  }));

describe('toUserRemoval', () => {
  it('names the contact by its hashed email only', () => {
    expect(toUserRemoval({ email: ' Ada@Lovelace.dev ', fields: { firstName: 'Ada' } })).toEqual({
      action: 'REMOVE',
      userIds: [{ idType: 'SHA256_EMAIL', idValue: sha256Email('ada@lovelace.dev') }],
    });
  });
});

describe('LinkedIn removals against the simulator', () => {
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

  const call = (details: LinkedinDetails = {}, token = TOKEN, origin?: string): Call => ({
    settings: { adAccountId: ACCOUNT, sourcePlatform: SOURCE_PLATFORM },
    secrets: { accessToken: token },
    details,
    apiOrigin: origin ?? simulator.url,
  });
  function segment(type: SegmentRef['type']): SegmentRef {
    segmentSeq += 1;
    return { id: `Segment_Removal${segmentSeq}`, name: `Removal segment ${segmentSeq}`, type };
  }
  async function prepared(details: LinkedinDetails, segments: SegmentRef[], mappedFields: string[], origin?: string): Promise<Call> {
    const ready = await linkedin.prepareRun!(call(details, TOKEN, origin), {
      segments,
      segmentNames: segments.map((one) => one.name),
      mappedFields,
    });
    return call(ready, TOKEN, origin);
  }
  const dmpMembers = (target: Call, of: SegmentRef) => simulator.state.segments.get(target.details.dmpSegments![of.id]!.id)!.members;

  it('declares removals in batches of 5,000, a DMP segment per segment', () => {
    expect(linkedin.removeBatch).toBeTypeOf('function');
    expect(linkedin.removalBatchSize).toBe(5000);
  });

  it('removes contacts from their own DMP segment in one call; absent ones count as removed', async () => {
    const all = segment('Contact');
    const vip = segment('Contact');
    const base = await prepared({}, [all, vip], ['email', 'firstName', 'lastName']);
    const everyone = contacts(5);
    await linkedin.sendBatch({ ...base, segment: all }, everyone);
    await linkedin.sendBatch({ ...base, segment: vip }, everyone);
    const batchesBefore = simulator.state.counters.batches;

    const result = await linkedin.removeBatch!({ ...base, segment: all }, [
      everyone[0]!,
      everyone[1]!,
      { email: 'never-sent@lovelace.dev', fields: {} },
    ]);
    expect(result).toEqual({ succeeded: 3, failures: [] });
    expect(simulator.state.counters.batches - batchesBefore).toBe(1);
    expect([...dmpMembers(base, all).keys()].sort()).toEqual(
      everyone
        .slice(2)
        .map((member) => sha256Email(member.email))
        .sort(),
    );
    expect(dmpMembers(base, vip).size).toBe(5);
    expect(simulator.inspectSegment(base.details.dmpSegments![all.id]!.id)).toMatchObject({ memberCount: 3, removals: 2 });
  });

  it('removes companies by the fields they were added with; one without a company name is skipped', async () => {
    const accounts = segment('Account');
    const base = await prepared({ audienceType: 'companies' }, [accounts], ['companyName', 'companyWebsiteDomain']);
    const target = { ...base, segment: accounts };
    const all = companies(4);
    await linkedin.sendBatch(target, all);
    const result = await linkedin.removeBatch!(target, [all[0]!, { email: 'account-nameless', fields: {} }]);
    expect(result).toEqual({
      succeeded: 1,
      failures: [expect.objectContaining({ email: 'account-nameless', status: 'skipped', code: 'missingCompanyName' })],
    });
    expect([...dmpMembers(base, accounts).values()].map((element) => element.companyName)).toEqual(['Company 1', 'Company 2', 'Company 3']);
  });

  it('a removal without a prepared DMP segment is config; a bad token auth; 429 rateLimited; 5xx vendorUnavailable; a deleted DMP segment config', async () => {
    const all = segment('Contact');
    expect((await thrown(linkedin.removeBatch!({ ...call(), segment: all }, contacts(1)))).category).toBe('config');
    const base = await prepared({}, [all], ['email']);
    const target = { ...base, segment: all };
    expect(await thrown(linkedin.removeBatch!({ ...target, secrets: { accessToken: 'wrong' } }, contacts(1)))).toMatchObject({
      category: 'auth',
      options: { status: 401 },
    });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    await linkedin.removeBatch!(target, contacts(1));
    expect(await thrown(linkedin.removeBatch!(target, contacts(1)))).toMatchObject({
      category: 'rateLimited',
      retryable: true,
      options: { status: 429, retryAfterMs: RATE_LIMIT_FALLBACK_WAIT_MS },
    });
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(linkedin.removeBatch!(target, contacts(1)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
    simulator.setFaults({});
    const gone = { ...target, details: { ...target.details, dmpSegments: { [all.id]: { id: '999999' } } } };
    expect(await thrown(linkedin.removeBatch!(gone, contacts(1)))).toMatchObject({ category: 'config', options: { status: 404 } });
  });

  it('removals count against the per-minute limit of /users like adds', async () => {
    const limited = await startLinkedinSimulator({
      accessTokens: [TOKEN],
      adAccounts: [ACCOUNT],
      rateLimit: { usersPerMinute: 1, companiesPerMinute: 1 },
      sourcePlatforms: [SOURCE_PLATFORM],
    });
    try {
      const all = segment('Contact');
      const base = await prepared({}, [all], ['email'], limited.url);
      await linkedin.sendBatch({ ...base, segment: all }, contacts(1));
      expect(await thrown(linkedin.removeBatch!({ ...base, segment: all }, contacts(1)))).toMatchObject({
        category: 'rateLimited',
        options: { status: 429 },
      });
    } finally {
      await limited.stop();
    }
  });
});
