// The Klaviyo simulator held to the vendor's behaviour: over plain HTTP (paths, the
// Klaviyo-API-Key and revision headers, JSON:API errors, the 10,000-profile and 5 MB caps,
// asynchronous jobs with import errors, fixed-window limits with 429 and Retry-After, faults,
// control endpoints), and as a contract test through Klaviyo's official Node client
// (`klaviyo-api`), which must read the simulator's answers as it reads Klaviyo's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountsApi, ApiKeySession, ListsApi, ProfilesApi, RetryWithExponentialBackoff } from 'klaviyo-api';
import { startKlaviyoSimulator, type KlaviyoSimulator } from '../../local/simulators/klaviyoSimulator.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'pk_simulator_key';
const LIST = 'OutFlw';

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Klaviyo-API-Key ${API_KEY}`, revision: '2026-07-15' },
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/vnd.api+json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const jobBody = (emails: string[], listId = LIST, extra: Record<string, unknown> = {}) => ({
  data: {
    type: 'profile-bulk-import-job',
    attributes: { profiles: { data: emails.map((email) => ({ type: 'profile', attributes: { email, ...extra } })) } },
    relationships: { lists: { data: [{ type: 'list', id: listId }] } },
  },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Klaviyo simulator over HTTP', () => {
  let simulator: KlaviyoSimulator;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    request(simulator.url, method, path, body, headers);

  useSimulator(async () => (simulator = await startKlaviyoSimulator({ apiKeys: [API_KEY], rateLimit: false, jobDurationMs: () => 400 })));

  it('requires Klaviyo-API-Key and the revision header, answering JSON:API errors', async () => {
    for (const headers of [
      { revision: '2026-07-15' } as Record<string, string>,
      { authorization: 'Bearer pk_simulator_key', revision: '2026-07-15' },
      { authorization: 'Klaviyo-API-Key other', revision: '2026-07-15' },
    ]) {
      const answer = await call('GET', '/api/accounts', undefined, headers);
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0]).toMatchObject({ status: 401, code: 'not_authenticated' });
    }
    expect((await call('GET', '/api/accounts', undefined, { authorization: `Klaviyo-API-Key ${API_KEY}` })).status).toBe(400);
    expect(await call('GET', '/api/accounts')).toMatchObject({ status: 200, body: { data: [{ type: 'account' }] } });
    expect(await call('GET', `/api/lists/${LIST}`)).toMatchObject({ status: 200, body: { data: { type: 'list', id: LIST } } });
    expect((await call('GET', '/api/lists/nope')).body.errors[0]).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('runs a job queued → processing → complete, then the list holds the profiles', async () => {
    const created = await call('POST', '/api/profile-bulk-import-jobs', jobBody(['a@example.com', 'B@Example.com']));
    expect(created.status).toBe(202);
    expect(created.body.data).toMatchObject({
      type: 'profile-bulk-import-job',
      attributes: { status: 'queued', total_count: 2, completed_count: 0, failed_count: 0 },
    });
    expect(simulator.inspectList(LIST)!.memberCount).toBe(0);
    await sleep(450);
    const done = await call('GET', `/api/profile-bulk-import-jobs/${created.body.data.id}`);
    expect(done.body.data.attributes).toMatchObject({ status: 'complete', total_count: 2, completed_count: 2, failed_count: 0 });
    expect(simulator.inspectList(LIST)).toMatchObject({ memberCount: 2, deliveries: 2 });
    expect(simulator.state.profiles.has('b@example.com')).toBe(true);
  });

  it('lists per-profile import errors with their original payload, in cursor pages', async () => {
    const emails = ['ok@example.com', ...Array.from({ length: 25 }, (_, index) => `bad${index}@nowhere`)];
    const created = await call('POST', '/api/profile-bulk-import-jobs', jobBody(emails));
    await sleep(450);
    expect((await call('GET', `/api/profile-bulk-import-jobs/${created.body.data.id}`)).body.data.attributes).toMatchObject({
      completed_count: 1,
      failed_count: 25,
    });
    const first = await call('GET', `/api/profile-bulk-import-jobs/${created.body.data.id}/import-errors`);
    expect(first.body.data).toHaveLength(20);
    expect(first.body.data[0]).toMatchObject({
      type: 'import-error',
      attributes: { code: 'invalid', detail: 'Invalid email address', original_payload: { email: 'bad0@nowhere' } },
    });
    const next = new URL(first.body.links.next);
    const second = await call('GET', `${next.pathname}${next.search}`);
    expect(second.body.data).toHaveLength(5);
    expect(second.body.links.next).toBeNull();
  });

  it('refuses bodies over the caps and malformed ones as a whole', async () => {
    const tooMany = await call(
      'POST',
      '/api/profile-bulk-import-jobs',
      jobBody(Array.from({ length: 10_001 }, (_, index) => `p${index}@example.com`)),
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors[0].detail).toContain('10000');
    const big = await fetch(`${simulator.url}/api/profile-bulk-import-jobs`, {
      method: 'POST',
      headers: { authorization: `Klaviyo-API-Key ${API_KEY}`, revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
      body: 'x'.repeat(5 * 1024 * 1024 + 1),
    }).catch(() => undefined);
    expect(big === undefined || big.status === 413).toBe(true);
    expect((await call('POST', '/api/profile-bulk-import-jobs', '{"data":')).status).toBe(400);
    expect((await call('POST', '/api/profile-bulk-import-jobs', { data: { type: 'profile' } })).status).toBe(400);
    expect((await call('POST', '/api/profile-bulk-import-jobs', jobBody(['a@example.com'], 'Missing'))).status).toBe(404);
    expect(simulator.state.counters.jobsCreated).toBe(0);
  });

  it('limits each endpoint by fixed windows (burst per second) with 429 and Retry-After', async () => {
    const limited = await startKlaviyoSimulator({ apiKeys: [API_KEY] });
    try {
      // 25 quick calls span at most two one-second windows of 10 (tier M): some are refused.
      const answers: Answer[] = [];
      for (let index = 0; index < 25; index++)
        answers.push(await request(limited.url, 'POST', '/api/profile-bulk-import-jobs', jobBody([`u${index}@example.com`])));
      const accepted = answers.filter((answer) => answer.status === 202).length;
      expect(accepted).toBeGreaterThanOrEqual(10);
      expect(accepted).toBeLessThanOrEqual(20);
      const over = answers.find((answer) => answer.status === 429)!;
      expect(over.body.errors[0]).toMatchObject({ status: 429, code: 'throttled' });
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited.state.counters.jobsCreated).toBe(accepted);
      // Reading a list has its own, higher quota.
      expect((await request(limited.url, 'GET', `/api/lists/${LIST}`)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it('injects the same faults for the same seed, and answers the control calls', async () => {
    const sequence = async () => {
      simulator.reset();
      simulator.setFaults({ serverErrorRate: 0.3, tooManyRequestsBursts: { every: 4, length: 1 }, seed: 3 });
      const statuses: number[] = [];
      for (let index = 0; index < 20; index++) statuses.push((await call('GET', '/api/accounts')).status);
      return statuses;
    };
    const first = await sequence();
    expect(first).toContain(500);
    expect(first).toContain(429);
    expect(await sequence()).toEqual(first);
    simulator.setFaults({});
    expect(await call('GET', `/_simulator/lists/${LIST}`, undefined, {})).toMatchObject({
      status: 200,
      body: { listId: LIST, memberCount: 0 },
    });
    expect((await call('GET', '/_simulator/state', undefined, {})).body.counters.requests).toBeGreaterThan(0);
  });
});

describe('contract: the official klaviyo-api client against the simulator', () => {
  let simulator: KlaviyoSimulator;
  let session: ApiKeySession;
  const api = <T extends { basePath: string }>(client: T): T => {
    client.basePath = simulator.url;
    return client;
  };

  beforeAll(async () => {
    simulator = await startKlaviyoSimulator({ apiKeys: [API_KEY], rateLimit: false, jobDurationMs: () => 100 });
    session = new ApiKeySession(API_KEY, new RetryWithExponentialBackoff({ numRetries: 0 }));
  });
  afterAll(async () => {
    await simulator?.stop();
  });

  it('reads the account and the list', async () => {
    const accounts = await api(new AccountsApi(session)).getAccounts();
    expect(accounts.response.status).toBe(200);
    expect(accounts.body.data[0]!.type).toBe('account');
    const list = await api(new ListsApi(session)).getList(LIST);
    expect(list.body.data.id).toBe(LIST);
    expect(list.body.data.attributes.name).toBe('Outflow');
  });

  it('starts a bulk import job, reads it to complete and reads its import errors', async () => {
    const profiles = api(new ProfilesApi(session));
    const started = await profiles.bulkImportProfiles({
      data: {
        type: 'profile-bulk-import-job',
        attributes: {
          profiles: {
            data: [
              { type: 'profile', attributes: { email: 'client@example.com', firstName: 'Client', phoneNumber: '+4791234567' } },
              { type: 'profile', attributes: { email: 'broken@nowhere' } },
            ],
          },
        },
        relationships: { lists: { data: [{ type: 'list', id: LIST }] } },
      },
    });
    expect(started.response.status).toBe(202);
    const jobId = started.body.data.id!;
    await sleep(150);
    const job = await profiles.getBulkImportProfilesJob(jobId);
    expect(job.body.data.attributes).toMatchObject({ status: 'complete', totalCount: 2, completedCount: 1, failedCount: 1 });
    const errors = await profiles.getErrorsForBulkImportProfilesJob(jobId);
    expect(errors.body.data).toHaveLength(1);
    expect(errors.body.data[0]!.attributes).toMatchObject({ code: 'invalid', detail: 'Invalid email address' });
    // The client serialized its camelCase model to the vendor's snake_case wire names.
    expect(simulator.state.profiles.get('client@example.com')!.attributes).toMatchObject({
      first_name: 'Client',
      phone_number: '+4791234567',
    });
    expect(simulator.inspectList(LIST)!.memberCount).toBe(1);
  });

  it('surfaces 401 and 429 as the client does for Klaviyo', async () => {
    const wrong = new ApiKeySession('pk_wrong', new RetryWithExponentialBackoff({ numRetries: 0 }));
    await expect(api(new AccountsApi(wrong)).getAccounts()).rejects.toMatchObject({ response: { status: 401 } });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 5 } });
    await api(new AccountsApi(session)).getAccounts();
    const throttled = await api(new AccountsApi(session))
      .getAccounts()
      .catch((error) => error);
    expect(throttled.response.status).toBe(429);
    expect(throttled.response.headers['retry-after']).toBe('1');
    simulator.setFaults({});
  });
});
