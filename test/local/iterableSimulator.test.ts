// The Iterable simulator held to the vendor's behaviour over plain HTTP: paths, the Api-Key header,
// answer and error shapes, batch cap, per-record failures, the per-project rate limit with 429 and
// Retry-After, repeatable faults, upsert by email, and the control endpoints.
import { describe, expect, it } from 'vitest';
import { startIterableSimulator, type Faults, type IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'simulator-key';

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function request(base: string, method: string, path: string, body?: unknown, key: string | null = API_KEY): Promise<Answer> {
  const headers: Record<string, string> = key === null ? {} : { 'Api-Key': key };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = (response.headers.get('content-type') ?? '').includes('json');
  return { status: response.status, headers: response.headers, body: text && json ? JSON.parse(text) : text };
}

const subscribers = (emails: string[]) => emails.map((email) => ({ email, dataFields: { firstName: `First ${email}` } }));

describe('Iterable simulator', () => {
  let simulator: IterableSimulator;
  const call = (method: string, path: string, body?: unknown, key?: string | null) => request(simulator.url, method, path, body, key);
  const createList = async (name: string) => ((await call('POST', '/api/lists', { name })).body as { listId: number }).listId;

  useSimulator(
    async () => (simulator = await startIterableSimulator({ apiKeys: [API_KEY], rateLimit: { requestsPerSecond: 1000, burst: 1000 } })),
  );

  it('listens on 127.0.0.1 and answers the vendor paths under /api', async () => {
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await call('GET', '/api/lists')).toMatchObject({ status: 200, body: { lists: [] } });
    expect((await call('GET', '/lists')).status).toBe(404);
  });

  it('requires a known key in the Api-Key header, answering 401 with the vendor body', async () => {
    for (const key of [null, 'unknown-key']) {
      const answer = await call('GET', '/api/lists', undefined, key);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ msg: 'Invalid API key', code: 'BadApiKey', params: { endpoint: '/api/lists' } });
    }
    // A Bearer token is not how Iterable authenticates.
    const bearer = await fetch(`${simulator.url}/api/lists`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(bearer.status).toBe(401);
    expect(simulator.state.counters.unauthorized).toBe(3);
  });

  it('creates static lists (names need not be unique), lists, sizes and deletes them', async () => {
    const first = await createList('VIP');
    const second = await createList('VIP');
    expect(second).toBeGreaterThan(first);
    const lists = (await call('GET', '/api/lists')).body as { lists: { id: number; name: string; listType: string; createdAt: number }[] };
    expect(lists.lists).toEqual([
      { id: first, name: 'VIP', listType: 'Standard', createdAt: expect.any(Number) },
      { id: second, name: 'VIP', listType: 'Standard', createdAt: expect.any(Number) },
    ]);
    expect(await call('POST', '/api/lists', { name: ' ' })).toMatchObject({ status: 400, body: { code: 'BadParams' } });
    expect(await call('POST', '/api/lists', {})).toMatchObject({ status: 400, body: { code: 'BadParams' } });
    expect(await call('GET', `/api/lists/${first}/size`)).toMatchObject({ status: 200, body: '0' });
    expect(await call('DELETE', `/api/lists/${second}`)).toMatchObject({ status: 200, body: { code: 'Success' } });
    expect(simulator.listsNamed('VIP').map((list) => list.listId)).toEqual([first]);
  });

  it('subscribes users, merging data fields into one profile per email, and answers the documented shape', async () => {
    const listId = await createList('All customers');
    const answer = await call('POST', '/api/lists/subscribe', {
      listId,
      subscribers: subscribers(['a@example.com', 'B@Example.com']),
      updateExistingUsersOnly: false,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      successCount: 2,
      failCount: 0,
      invalidEmails: [],
      invalidUserIds: [],
      createdFields: ['firstName'],
      filteredOutFields: [],
      failedUpdates: {
        invalidEmails: [],
        invalidUserIds: [],
        notFoundEmails: [],
        notFoundUserIds: [],
        forgottenEmails: [],
        forgottenUserIds: [],
        conflictEmails: [],
        conflictUserIds: [],
        invalidDataEmails: [],
        invalidDataUserIds: [],
      },
    });
    await call('POST', '/api/lists/subscribe', { listId, subscribers: [{ email: 'a@example.com', dataFields: { city: 'Oslo' } }] });
    expect(simulator.state.users.get('a@example.com')!.dataFields).toEqual({ firstName: 'First a@example.com', city: 'Oslo' });
    expect(simulator.inspectList(listId)).toMatchObject({
      name: 'All customers',
      memberCount: 2,
      deliveries: 3,
      duplicates: 1,
      duplicateEmails: ['a@example.com'],
    });
    expect(await call('GET', `/api/lists/${listId}/size`)).toMatchObject({ body: '2' });
  });

  it('reports invalid emails per record in failedUpdates and the deprecated list', async () => {
    const listId = await createList('All customers');
    const answer = await call('POST', '/api/lists/subscribe', {
      listId,
      subscribers: subscribers(['ok@example.com', 'no-at-sign.example.com', 'x@localhost']),
    });
    expect(answer.body).toMatchObject({
      successCount: 1,
      failCount: 2,
      invalidEmails: ['no-at-sign.example.com', 'x@localhost'],
      failedUpdates: { invalidEmails: ['no-at-sign.example.com', 'x@localhost'] },
    });
    expect(simulator.inspectList(listId)!.memberCount).toBe(1);
  });

  it('with updateExistingUsersOnly, unknown emails are notFoundEmails', async () => {
    const listId = await createList('Existing');
    await call('POST', '/api/lists/subscribe', { listId, subscribers: subscribers(['known@example.com']) });
    const answer = await call('POST', '/api/lists/subscribe', {
      listId,
      subscribers: subscribers(['known@example.com', 'new@example.com']),
      updateExistingUsersOnly: true,
    });
    expect(answer.body).toMatchObject({ successCount: 1, failCount: 1, failedUpdates: { notFoundEmails: ['new@example.com'] } });
  });

  it('refuses malformed bodies, unknown lists and oversized batches as a whole, with the vendor codes', async () => {
    const listId = await createList('All customers');
    const cases: [unknown, number, string][] = [
      [{ subscribers: subscribers(['a@example.com']) }, 400, 'BadParams'],
      [{ listId: String(listId), subscribers: subscribers(['a@example.com']) }, 400, 'BadParams'],
      [{ listId, subscribers: 'a@example.com' }, 400, 'BadParams'],
      [{ listId, subscribers: [] }, 400, 'BadParams'],
      [{ listId, subscribers: [{ dataFields: {} }] }, 400, 'BadParams'],
      [{ listId, subscribers: [{ email: 'a@example.com', dataFields: 'x' }] }, 400, 'BadParams'],
      [{ listId, subscribers: subscribers(['a@example.com']), updateExistingUsersOnly: 'no' }, 400, 'BadParams'],
    ];
    for (const [body, status, code] of cases) {
      expect(await call('POST', '/api/lists/subscribe', body)).toMatchObject({ status, body: { code } });
    }
    const unknown = await call('POST', '/api/lists/subscribe', { listId: 42, subscribers: subscribers(['a@example.com']) });
    expect(unknown).toMatchObject({ status: 400, body: { code: 'BadParams' } });
    expect((unknown.body as { msg: string }).msg).toContain('error.lists.invalidListId');
    const broken = await fetch(`${simulator.url}/api/lists/subscribe`, {
      method: 'POST',
      headers: { 'Api-Key': API_KEY, 'content-type': 'application/json' },
      body: '{"listId":',
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { code: string }).code).toBe('BadJsonBody');
    expect(simulator.state.counters.subscribeCalls).toBe(0);
    expect(simulator.state.users.size).toBe(0);
    // No cap per call is published: BatchTooLarge only past a cap the simulator is given.
    const capped = await startIterableSimulator({ apiKeys: [API_KEY], maxSubscribersPerRequest: 2 });
    try {
      const cappedList = ((await request(capped.url, 'POST', '/api/lists', { name: 'Capped' })).body as { listId: number }).listId;
      expect(
        await request(capped.url, 'POST', '/api/lists/subscribe', {
          listId: cappedList,
          subscribers: subscribers(['a@example.com', 'b@example.com', 'c@example.com']),
        }),
      ).toMatchObject({ status: 400, body: { code: 'BatchTooLarge' } });
    } finally {
      await capped.stop();
    }
  });

  it('refuses a data field sent with another type than the project holds, for the whole request', async () => {
    const listId = await createList('Typed');
    await call('POST', '/api/lists/subscribe', { listId, subscribers: [{ email: 'a@example.com', dataFields: { postalCode: '0150' } }] });
    const answer = await call('POST', '/api/lists/subscribe', {
      listId,
      subscribers: [{ email: 'b@example.com', dataFields: { postalCode: 150 } }],
    });
    expect(answer).toMatchObject({
      status: 400,
      body: {
        code: 'RequestFieldsTypesMismatched',
        params: { validationErrors: { 'simulated-project:::postalCode': { incomingTypes: ['long'], expectedType: 'string' } } },
      },
    });
    expect(simulator.state.users.has('b@example.com')).toBe(false);
  });

  it('rate-limits lists/subscribe per project with 429 and RateLimitExceeded, without Retry-After (none documented)', async () => {
    // No rate is published for lists/subscribe: the simulator limits it only when given a bucket.
    const limited = await startIterableSimulator({
      apiKeys: [API_KEY, 'second-key-same-project'],
      rateLimit: { requestsPerSecond: 0.1, burst: 5 },
    });
    try {
      const listId = ((await request(limited.url, 'POST', '/api/lists', { name: 'L' })).body as { listId: number }).listId;
      const body = { listId, subscribers: subscribers(['a@example.com']) };
      // A burst of 5, shared by every key of the project.
      const statuses: number[] = [];
      for (let index = 0; index < 6; index++)
        statuses.push(
          (await request(limited.url, 'POST', '/api/lists/subscribe', body, index % 2 ? API_KEY : 'second-key-same-project')).status,
        );
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      const limitedAnswer = await request(limited.url, 'POST', '/api/lists/subscribe', body);
      expect(limitedAnswer).toMatchObject({ status: 429, body: { msg: 'Exceeded rate limit.', code: 'RateLimitExceeded' } });
      expect(limitedAnswer.headers.get('retry-after')).toBeNull();
      // Reading lists has its own, higher limit.
      expect((await request(limited.url, 'GET', '/api/lists')).status).toBe(200);
      expect(limited.state.counters.tooManyRequests).toBe(2);
    } finally {
      await limited.stop();
    }
  });

  it('rateLimit: false turns every limit off', async () => {
    const open = await startIterableSimulator({ rateLimit: false });
    try {
      const listId = ((await request(open.url, 'POST', '/api/lists', { name: 'L' })).body as { listId: number }).listId;
      for (let index = 0; index < 20; index++) {
        expect(
          (await request(open.url, 'POST', '/api/lists/subscribe', { listId, subscribers: subscribers(['a@example.com']) })).status,
        ).toBe(200);
      }
    } finally {
      await open.stop();
    }
  });

  it('injects the same faults for the same seed', async () => {
    const faults: Faults = { serverErrorRate: 0.3, tooManyRequestsBursts: { every: 4, length: 1 }, seed: 42 };
    const sequence = async () => {
      simulator.reset();
      simulator.setFaults(faults);
      const statuses: number[] = [];
      for (let index = 0; index < 20; index++) statuses.push((await call('GET', '/api/lists')).status);
      return statuses;
    };
    const first = await sequence();
    expect(first).toContain(500);
    expect(first).toContain(429);
    expect(await sequence()).toEqual(first);
  });

  it('resets connections and delays answers on request', async () => {
    simulator.setFaults({ connectionResetRate: 1 });
    await expect(fetch(`${simulator.url}/api/lists`, { headers: { 'Api-Key': API_KEY } })).rejects.toThrow();
    simulator.setFaults({ latencyMs: 60 });
    const started = Date.now();
    await call('GET', '/api/lists');
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('control endpoints: faults, inspection by id and by name, state, reset', async () => {
    const listId = await createList('VIP');
    await call('POST', '/api/lists/subscribe', { listId, subscribers: subscribers(['a@example.com']) });
    expect(await call('GET', `/_simulator/lists/${listId}`, undefined, null)).toMatchObject({
      status: 200,
      body: { listId, name: 'VIP', memberCount: 1, deliveries: 1, duplicates: 0 },
    });
    expect((await call('GET', '/_simulator/lists/123', undefined, null)).status).toBe(404);
    expect(await call('GET', `/_simulator/lists?name=${encodeURIComponent('VIP')}`, undefined, null)).toMatchObject({
      body: { lists: [{ listId, name: 'VIP' }] },
    });
    expect(await call('GET', '/_simulator/lists?name=nothing', undefined, null)).toMatchObject({ body: { lists: [] } });
    expect(await call('POST', '/_simulator/faults', { latencyMs: 1, seed: 7 }, null)).toMatchObject({
      body: { faults: { latencyMs: 1, seed: 7 } },
    });
    expect(await call('GET', '/_simulator/state', undefined, null)).toMatchObject({
      body: { users: 1, counters: { subscribeCalls: 1, listsCreated: 1 } },
    });
    expect((await call('POST', '/_simulator/reset', undefined, null)).status).toBe(200);
    expect(simulator.state.lists.size).toBe(0);
    expect(await call('GET', '/_simulator/faults', undefined, null)).toMatchObject({ body: { faults: {} } });
  });
});
