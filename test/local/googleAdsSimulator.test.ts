// The Google Ads simulator held to the vendor's REST behaviour over plain HTTP: the OAuth
// refresh-token grant at /token, bearer and developer-token checks, Google's error shape, the
// Customer Match job life (create → addOperations with partial failure → run → SUCCESS), the
// identifier caps, quota errors as 429 RESOURCE_EXHAUSTED, faults and control endpoints. Google's
// official Ads clients are not Node libraries, so there is no client contract test here.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGoogleAdsSimulator, type GoogleAdsSimulator } from '../../local/simulators/googleAdsSimulator.js';

const CUSTOMER = '1234567890';
const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Google Ads simulator', () => {
  let simulator: GoogleAdsSimulator;
  let token: string;

  async function ads(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const response = await fetch(`${simulator.url}/v26/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'developer-token': 'dev', 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }
  async function grant(form: Record<string, string>): Promise<{ status: number; body: any }> {
    const response = await fetch(`${simulator.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, body: await response.json() };
  }
  const operation = (email: string, extra: Record<string, unknown>[] = []) => ({
    create: { userIdentifiers: [{ hashedEmail: sha(email) }, ...extra] },
  });

  beforeAll(async () => {
    simulator = await startGoogleAdsSimulator({
      clients: { client: 'secret' },
      refreshTokens: ['refresh'],
      developerTokens: ['dev'],
      customers: [CUSTOMER],
      rateLimit: false,
      jobDurationMs: () => 600,
    });
  });
  afterAll(async () => {
    await simulator?.stop();
  });
  beforeEach(async () => {
    simulator.reset();
    token = (await grant({ client_id: 'client', client_secret: 'secret', refresh_token: 'refresh', grant_type: 'refresh_token' })).body
      .access_token;
  });

  it('exchanges a refresh token for an access token, refusing bad clients and grants as Google does', async () => {
    expect(token).toMatch(/^ya29\./);
    expect(
      await grant({ client_id: 'client', client_secret: 'wrong', refresh_token: 'refresh', grant_type: 'refresh_token' }),
    ).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await grant({ client_id: 'client', client_secret: 'secret', refresh_token: 'old', grant_type: 'refresh_token' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('requires the bearer token and the developer token, and answers v26 paths only', async () => {
    const search = { query: 'SELECT customer.id FROM customer LIMIT 1' };
    expect(await ads(`customers/${CUSTOMER}/googleAds:search`, search)).toMatchObject({
      status: 200,
      body: { results: [{ customer: { id: CUSTOMER } }] },
    });
    const noToken = await ads(`customers/${CUSTOMER}/googleAds:search`, search, { authorization: 'Bearer nope' });
    expect(noToken).toMatchObject({
      status: 401,
      body: {
        error: { status: 'UNAUTHENTICATED', details: [{ errors: [{ errorCode: { authenticationError: 'OAUTH_TOKEN_INVALID' } }] }] },
      },
    });
    expect(
      (await ads(`customers/${CUSTOMER}/googleAds:search`, search, { 'developer-token': 'other' })).body.error.details[0].errors[0]
        .errorCode,
    ).toEqual({ authenticationError: 'DEVELOPER_TOKEN_INVALID' });
    expect((await ads('customers/9999999999/googleAds:search', search)).status).toBe(403);
    const old = await fetch(`${simulator.url}/v19/customers/${CUSTOMER}/googleAds:search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'developer-token': 'dev' },
      body: JSON.stringify(search),
    });
    expect(old.status).toBe(404);
  });

  it('runs a Customer Match job: partial failures per operation, run, PENDING → RUNNING → SUCCESS', async () => {
    const listId = (
      await ads(`customers/${CUSTOMER}/userLists:mutate`, {
        operations: [{ create: { name: 'VIP', membershipLifeSpan: 10000, crmBasedUserList: { uploadKeyType: 'CONTACT_INFO' } } }],
      })
    ).body.results[0].resourceName
      .split('/')
      .pop();
    const created = await ads(`customers/${CUSTOMER}/offlineUserDataJobs:create`, {
      job: { type: 'CUSTOMER_MATCH_USER_LIST', customerMatchUserListMetadata: { userList: `customers/${CUSTOMER}/userLists/${listId}` } },
    });
    const job = created.body.resourceName as string;
    expect(job).toMatch(/^customers\/1234567890\/offlineUserDataJobs\/\d+$/);
    const added = await ads(`${job}:addOperations`, {
      enablePartialFailure: true,
      operations: [
        operation('a@example.com'),
        { create: { userIdentifiers: [{ hashedEmail: 'not-hashed@example.com' }] } },
        operation('b@example.com', [
          { addressInfo: { hashedFirstName: sha('a'), hashedLastName: sha('b'), countryCode: 'XX', postalCode: '1' } },
        ]),
      ],
    });
    expect(added.status).toBe(200);
    const errors = added.body.partialFailureError.details[0].errors;
    expect(errors.map((error: any) => [error.errorCode.offlineUserDataJobError, error.location.fieldPathElements[0].index])).toEqual([
      ['INVALID_SHA256_FORMAT', 1],
      ['INVALID_COUNTRY_CODE', 2],
    ]);
    // Without partial failure one bad operation refuses the request.
    expect((await ads(`${job}:addOperations`, { operations: [{ create: { userIdentifiers: [{ hashedEmail: 'x' }] } }] })).status).toBe(400);
    expect((await ads(`${job}:run`, {})).status).toBe(200);
    expect(
      (await ads(`${job}:addOperations`, { operations: [operation('c@example.com')] })).body.error.details[0].errors[0].errorCode,
    ).toEqual({ offlineUserDataJobError: 'JOB_ALREADY_STARTED' });
    const query = {
      query: `SELECT offline_user_data_job.status FROM offline_user_data_job WHERE offline_user_data_job.resource_name = '${job}' LIMIT 1`,
    };
    expect((await ads(`customers/${CUSTOMER}/googleAds:search`, query)).body.results[0].offlineUserDataJob.status).toBe('RUNNING');
    await sleep(650);
    expect((await ads(`customers/${CUSTOMER}/googleAds:search`, query)).body.results[0].offlineUserDataJob).toMatchObject({
      status: 'SUCCESS',
      operationMetadata: { matchRateRange: expect.stringMatching(/^MATCH_RANGE_/) },
    });
    expect(simulator.inspectList(listId)).toMatchObject({ name: 'VIP', memberCount: 1, deliveries: 1 });
  });

  it('enforces 100,000 identifiers a request and 20 an operation', async () => {
    const listId = simulator.addUserList(CUSTOMER, 'Big');
    const job = (
      await ads(`customers/${CUSTOMER}/offlineUserDataJobs:create`, {
        job: { type: 'CUSTOMER_MATCH_USER_LIST', customerMatchUserListMetadata: { userList: `customers/${CUSTOMER}/userLists/${listId}` } },
      })
    ).body.resourceName;
    const hashed = sha('x');
    const tooMany = await ads(`${job}:addOperations`, {
      enablePartialFailure: true,
      operations: Array.from({ length: 50_001 }, () => ({
        create: { userIdentifiers: [{ hashedEmail: hashed }, { hashedPhoneNumber: hashed }] },
      })),
    });
    expect(tooMany.body.error.details[0].errors[0].errorCode).toEqual({ offlineUserDataJobError: 'TOO_MANY_USER_IDENTIFIERS' });
    const wide = await ads(`${job}:addOperations`, {
      enablePartialFailure: true,
      operations: [{ create: { userIdentifiers: Array.from({ length: 21 }, () => ({ hashedEmail: hashed })) } }],
    });
    expect(wide.body.partialFailureError.details[0].errors[0].errorCode).toEqual({ offlineUserDataJobError: 'TOO_MANY_USER_IDENTIFIERS' });
  });

  it('answers quota exhaustion with 429 RESOURCE_EXHAUSTED per developer token', async () => {
    const limited = await startGoogleAdsSimulator({ rateLimit: { requestsPerSecond: 1, burst: 2 } });
    try {
      const access = (
        (await (
          await fetch(`${limited.url}/token`, {
            method: 'POST',
            body: 'client_id=c&client_secret=s&refresh_token=r&grant_type=refresh_token',
          })
        ).json()) as any
      ).access_token;
      const statuses: number[] = [];
      let last: any;
      for (let index = 0; index < 4; index++) {
        const response = await fetch(`${limited.url}/v26/customers/${CUSTOMER}/googleAds:search`, {
          method: 'POST',
          headers: { authorization: `Bearer ${access}`, 'developer-token': 'd' },
          body: JSON.stringify({ query: 'SELECT customer.id FROM customer' }),
        });
        statuses.push(response.status);
        last = await response.json();
      }
      expect(statuses).toEqual([200, 200, 429, 429]);
      expect(last.error).toMatchObject({
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        details: [{ errors: [{ errorCode: { quotaError: 'RESOURCE_TEMPORARILY_EXHAUSTED' } }] }],
      });
    } finally {
      await limited.stop();
    }
  });

  it('replays faults for a seed and answers the control calls', async () => {
    const sequence = async () => {
      simulator.setFaults({ serverErrorRate: 0.3, tooManyRequestsBursts: { every: 4, length: 1 }, seed: 9 });
      const statuses: number[] = [];
      for (let index = 0; index < 15; index++)
        statuses.push((await ads(`customers/${CUSTOMER}/googleAds:search`, { query: 'SELECT customer.id FROM customer' })).status);
      return statuses;
    };
    const first = await sequence();
    expect(first).toContain(500);
    expect(first).toContain(429);
    expect(await sequence()).toEqual(first);
    simulator.setFaults({});
    const state = await (await fetch(`${simulator.url}/_simulator/state`)).json();
    expect((state as any).counters.searches).toBeGreaterThan(0);
  });
});
