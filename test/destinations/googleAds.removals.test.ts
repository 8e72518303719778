// Google Ads removals over real HTTP: an offline user data job of `remove` operations (a job of its
// own), run and polled like an add, against the simulator's Customer Match lists.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createGoogleAdsAdapter,
  type GoogleAdsDetails,
  type GoogleAdsSecrets,
  type GoogleAdsSettings,
} from '../../shared/destinations/googleAds.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
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
const fast = createGoogleAdsAdapter({ polling: { firstDelayMs: 20, maxDelayMs: 100 } });
const members = (count: number): MappedMember[] =>
  Array.from({ length: count }, (_, index) => ({ email: `member${index}@lovelace.dev`, fields: {} }));

describe('Google Ads removals against the simulator', () => {
  let simulator: GoogleAdsSimulator;
  useSimulator(
    async () =>
      (simulator = await startGoogleAdsSimulator({
        clients: { [SECRETS.clientId]: SECRETS.clientSecret },
        refreshTokens: [SECRETS.refreshToken],
        developerTokens: [SECRETS.developerToken],
        customers: [CUSTOMER],
        rateLimit: false,
        jobDurationMs: () => 20,
      })),
  );

  type Call = DestinationCall<GoogleAdsSettings, GoogleAdsSecrets, GoogleAdsDetails>;
  const call = (details: GoogleAdsDetails = {}, secrets: Partial<GoogleAdsSecrets> = {}): Call => ({
    settings: { customerId: CUSTOMER },
    secrets: { ...SECRETS, ...secrets },
    details,
    apiOrigin: simulator.url,
  });
  const listMembers = (details: GoogleAdsDetails) => simulator.state.userLists.get(details.userListId!)!.members;

  it('runs a job of remove operations: present members leave, absent ones count as removed', async () => {
    const details = await fast.prepareRun!(call(), { segments: [], segmentNames: ['Leavers'], mappedFields: [] });
    await fast.sendBatch(call(details), members(5));
    const jobsBefore = simulator.state.counters.jobsCreated;
    const result = await fast.removeBatch!(call(details), [...members(2), { email: 'never-sent@lovelace.dev', fields: {} }]);
    expect(result).toEqual({ succeeded: 3, failures: [] });
    expect(simulator.state.counters.jobsCreated - jobsBefore).toBe(1);
    expect(listMembers(details).has(sha('member0@lovelace.dev'))).toBe(false);
    expect(listMembers(details).has(sha('member2@lovelace.dev'))).toBe(true);
    expect(listMembers(details).size).toBe(3);
    expect(simulator.state.counters.membersRemoved).toBe(2);
  });

  it('without a prepared list is config; a revoked token is auth', async () => {
    expect((await thrown(fast.removeBatch!(call(), members(1)))).category).toBe('config');
    const details = await fast.prepareRun!(call(), { segments: [], segmentNames: ['Leavers'], mappedFields: [] });
    expect((await thrown(fast.removeBatch!(call(details, { refreshToken: 'revoked' }), members(1)))).category).toBe('auth');
  });
});
