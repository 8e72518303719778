// The Campaign Monitor simulator held to the vendor's behaviour over plain HTTP: paths, Basic auth,
// answer shapes, rate-limit headers and 429, repeatable faults, upsert by email, control endpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCampaignMonitorSimulator,
  type CampaignMonitorSimulator,
  type Faults,
} from '../../local/simulators/campaignMonitorSimulator.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'simulator-key';
const auth = (key = API_KEY) => ({ authorization: `Basic ${Buffer.from(`${key}:nopass`).toString('base64')}` });

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function request(base: string, method: string, path: string, body?: unknown, key: string | null = API_KEY): Promise<Answer> {
  const headers: Record<string, string> = key === null ? {} : auth(key);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const importBody = (emails: string[], extra: Record<string, unknown> = {}) => ({
  Subscribers: emails.map((email) => ({ EmailAddress: email, Name: `Name of ${email}`, ConsentToTrack: 'Unchanged', ...extra })),
  Resubscribe: false,
  QueueSubscriptionBasedAutoResponders: false,
  RestartSubscriptionBasedAutoresponders: false,
});

describe('Campaign Monitor simulator', () => {
  let simulator: CampaignMonitorSimulator;
  const call = (method: string, path: string, body?: unknown, key?: string | null) => request(simulator.url, method, path, body, key);

  useSimulator(
    async () =>
      (simulator = await startCampaignMonitorSimulator({
        apiKeys: [API_KEY],
        rateLimit: { requestsPerSecond: 1000, burst: 1000 },
        autoCreateLists: true,
      })),
  );

  it('requires ConsentToTrack (214) and does not re-add people who left unless Resubscribe is true (204–208)', async () => {
    const consentless = await call('POST', '/api/v3.3/subscribers/consent/import.json', {
      ...importBody(['ok@outflow.dev']),
      Subscribers: [
        { EmailAddress: 'none@outflow.dev', Name: 'None' },
        { EmailAddress: 'ok@outflow.dev', ConsentToTrack: 'No' },
      ],
    });
    expect(consentless.status).toBe(400);
    const consentlessResult = (consentless.body as { ResultData: { FailureDetails: unknown[]; TotalNewSubscribers: number } }).ResultData;
    expect(consentlessResult.FailureDetails).toEqual([
      { EmailAddress: 'none@outflow.dev', Code: 214, Message: 'ConsentToTrack is required' },
    ]);
    expect(consentlessResult.TotalNewSubscribers).toBe(1);

    simulator.seedSubscriber('states', { email: 'gone@outflow.dev', state: 'Unsubscribed' });
    simulator.seedSubscriber('states', { email: 'bounce@outflow.dev', state: 'Bounced' });
    const refused = await call('POST', '/api/v3.3/subscribers/states/import.json', importBody(['gone@outflow.dev', 'bounce@outflow.dev']));
    expect(
      (refused.body as { ResultData: { FailureDetails: { Code: number }[] } }).ResultData.FailureDetails.map(
        (failure: { Code: number }) => failure.Code,
      ),
    ).toEqual([206, 207]);
    const resubscribed = await call('POST', '/api/v3.3/subscribers/states/import.json', {
      ...importBody(['gone@outflow.dev']),
      Resubscribe: true,
    });
    expect(resubscribed.status).toBe(201);
    expect(simulator.state.lists.get('states')!.subscribers.get('gone@outflow.dev')!.State).toBe('Active');
  });

  it('listens on 127.0.0.1 and answers the vendor paths', async () => {
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const date = await call('GET', '/api/v3.3/systemdate.json');
    expect(date.status).toBe(200);
    expect((date.body as { SystemDate: string }).SystemDate).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const clients = await call('GET', '/api/v3.3/clients.json');
    expect(clients.body).toEqual([{ ClientID: expect.stringMatching(/^[0-9a-f]{32}$/), Name: 'Simulated client' }]);
    expect((await call('GET', '/api/v3/systemdate.json')).status).toBe(404);
  });

  it('requires Basic auth with a known API key, answering 401 with the vendor body', async () => {
    for (const key of [null, 'unknown-key']) {
      const answer = await call('GET', '/api/v3.3/systemdate.json', undefined, key);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ Code: 100, Message: 'Invalid API Key' });
    }
    expect(simulator.state.counters.unauthorized).toBe(2);
  });

  it('creates lists under a client and answers their details', async () => {
    const clientId = simulator.state.clients[0]!.ClientID;
    const created = await call('POST', `/api/v3.3/lists/${clientId}.json`, {
      Title: 'Newsletter',
      UnsubscribePage: '',
      ConfirmedOptIn: false,
      ConfirmationSuccessPage: '',
      UnsubscribeSetting: 'AllClientLists',
    });
    expect(created.status).toBe(201);
    const listId = created.body as string;
    expect(listId).toMatch(/^[0-9a-f]{32}$/);
    expect((await call('GET', `/api/v3.3/lists/${listId}.json`)).body).toEqual({
      ConfirmedOptIn: false,
      Title: 'Newsletter',
      UnsubscribePage: '',
      ListID: listId,
      ConfirmationSuccessPage: '',
      UnsubscribeSetting: 'AllClientLists',
    });
    expect((await call('GET', `/api/v3.3/clients/${clientId}/lists.json`)).body).toEqual([{ ListID: listId, Name: 'Newsletter' }]);
    expect((await call('POST', `/api/v3.3/lists/${clientId}.json`, { Title: 'Newsletter' })).body).toEqual({
      Code: 250,
      Message: 'Duplicate list title',
    });
    expect((await call('POST', `/api/v3.3/lists/${clientId}.json`, { Title: ' ' })).body).toEqual({
      Code: 251,
      Message: 'List Title Empty',
    });
    const otherClient = await call('POST', '/api/v3.3/lists/not-a-client.json', { Title: 'X' });
    expect(otherClient).toMatchObject({ status: 401, body: { Code: 102, Message: 'Invalid ClientID' } });
  });

  it('custom fields: created with the vendor tag, listed, and refused twice', async () => {
    const created = await call('POST', '/api/v3.3/lists/cf-list/customfields.json', {
      FieldName: 'new date field',
      DataType: 'Date',
      Options: [],
      VisibleInPreferenceCenter: true,
    });
    expect(created).toMatchObject({ status: 201, body: '[newdatefield]' });
    const again = await call('POST', '/api/v3.3/lists/cf-list/customfields.json', { FieldName: 'newdatefield', DataType: 'Text' });
    expect(again).toMatchObject({ status: 400, body: { Code: 255, Message: 'The Field Name already exists in this list' } });
    expect((await call('POST', '/api/v3.3/lists/cf-list/customfields.json', { FieldName: 'x', DataType: 'Blob' })).body).toMatchObject({
      Code: 259,
    });
    expect(
      (await call('POST', '/api/v3.3/lists/cf-list/customfields.json', { FieldName: 'y', DataType: 'Text', Options: ['a'] })).body,
    ).toMatchObject({ Code: 256 });
    expect(
      (await call('POST', '/api/v3.3/lists/cf-list/customfields.json', { FieldName: 'z', DataType: 'MultiSelectOne' })).body,
    ).toMatchObject({ Code: 257 });
    expect((await call('GET', '/api/v3.3/lists/cf-list/customfields.json')).body).toEqual([
      { FieldName: 'new date field', Key: '[newdatefield]', DataType: 'Date', FieldOptions: [], VisibleInPreferenceCenter: true },
    ]);
  });

  it('import: counts, duplicates in one submission, invalid emails, in the vendor shapes', async () => {
    const ok = await call('POST', '/api/v3.3/subscribers/import-list/import.json', importBody(['a@example.com', 'b@example.com']));
    expect(ok).toMatchObject({
      status: 201,
      body: {
        FailureDetails: [],
        TotalUniqueEmailsSubmitted: 2,
        TotalExistingSubscribers: 0,
        TotalNewSubscribers: 2,
        DuplicateEmailsInSubmission: [],
      },
    });
    const partial = await call(
      'POST',
      '/api/v3.3/subscribers/import-list/import.json',
      importBody(['a@example.com', 'example+1@example', 'c@example.com', 'C@example.com']),
    );
    expect(partial.status).toBe(400);
    expect(partial.body).toEqual({
      ResultData: {
        TotalUniqueEmailsSubmitted: 3,
        TotalExistingSubscribers: 1,
        TotalNewSubscribers: 1,
        DuplicateEmailsInSubmission: ['c@example.com'],
        FailureDetails: [{ EmailAddress: 'example+1@example', Code: 1, Message: 'Invalid Email Address' }],
      },
      Code: 210,
      Message: 'Subscriber Import had some failures',
    });
    expect(simulator.inspectList('import-list')).toMatchObject({
      memberCount: 3,
      deliveries: 5,
      duplicates: 2,
      duplicateEmails: ['a@example.com', 'c@example.com'],
    });
    expect((await call('POST', '/api/v3.3/subscribers/import-list/import.json', { Subscribers: [] })).body).toEqual({
      Code: 212,
      Message: 'No subscribers were provided in this batch',
    });
    expect(
      (
        await call(
          'POST',
          '/api/v3.3/subscribers/import-list/import.json',
          importBody(Array.from({ length: 1001 }, (_, i) => `m${i}@example.com`)),
        )
      ).body,
    ).toMatchObject({ Code: 209 });
    const badJson = await fetch(`${simulator.url}/api/v3.3/subscribers/import-list/import.json`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{',
    });
    expect(badJson.status).toBe(400);
  });

  it('upsert: importing the same email twice keeps one subscriber with the latest data, delivered twice', async () => {
    await call('POST', '/api/v3.3/lists/upsert-list/customfields.json', { FieldName: 'City', DataType: 'Text', Options: [] });
    await call('POST', '/api/v3.3/subscribers/upsert-list/import.json', {
      Subscribers: [
        { EmailAddress: 'Ada@Example.com', Name: 'Ada', CustomFields: [{ Key: '[City]', Value: 'London' }], ConsentToTrack: 'Yes' },
      ],
      Resubscribe: false,
    });
    const second = await call('POST', '/api/v3.3/subscribers/upsert-list/import.json', {
      Subscribers: [
        {
          EmailAddress: 'ada@example.com',
          Name: 'Ada Lovelace',
          CustomFields: [{ Key: 'Unknown', Value: 'x' }],
          ConsentToTrack: 'Unchanged',
        },
      ],
      Resubscribe: false,
    });
    expect(second.body).toMatchObject({ TotalExistingSubscribers: 1, TotalNewSubscribers: 0 });
    const list = simulator.state.lists.get('upsert-list')!;
    expect(list.subscribers.size).toBe(1);
    const ada = list.subscribers.get('ada@example.com')!;
    // Name replaced, a field not sent kept, consent kept when Unchanged, an unknown key dropped.
    expect(ada).toMatchObject({ Name: 'Ada Lovelace', ConsentToTrack: 'Yes', State: 'Active' });
    expect({ ...ada.CustomFields }).toEqual({ '[City]': 'London' });
    expect(list.deliveries.get('ada@example.com')).toBe(2);
    expect(list.ignoredCustomFieldKeys.get('Unknown')).toBe(1);

    // A bare key (as in the vendor's examples) reaches the same field; overlong values are cut and counted.
    await call('POST', '/api/v3.3/subscribers/upsert-list/import.json', {
      Subscribers: [
        { EmailAddress: 'ada@example.com', CustomFields: [{ Key: 'city', Value: 'y'.repeat(300) }], ConsentToTrack: 'Unchanged' },
      ],
    });
    expect(ada.CustomFields['[City]']).toBe('y'.repeat(250));
    expect(list.overlongValues).toBe(1);

    const inspection = await call('GET', '/_simulator/lists/upsert-list', undefined, null);
    expect(inspection.body).toMatchObject({
      listId: 'upsert-list',
      memberCount: 1,
      deliveries: 3,
      duplicates: 1,
      duplicateEmails: ['ada@example.com'],
    });
    expect((await call('GET', '/_simulator/lists/nope', undefined, null)).status).toBe(404);
  });

  it('an unknown list is 400 Code 101 when lists are not auto-created', async () => {
    const strict = await startCampaignMonitorSimulator({ apiKeys: [API_KEY], autoCreateLists: false });
    try {
      const answer = await request(strict.url, 'POST', '/api/v3.3/subscribers/missing/import.json', importBody(['a@example.com']));
      expect(answer).toMatchObject({ status: 400, body: { Code: 101, Message: 'Invalid ListID' } });
      expect((await request(strict.url, 'GET', '/api/v3.3/lists/missing.json')).body).toEqual({ Code: 101, Message: 'Invalid ListID' });
    } finally {
      await strict.stop();
    }
  });
});

describe('rate limiting', () => {
  it('every authenticated answer carries X-RateLimit-*; over the bucket → 429 with X-RateLimit-Reset and no Retry-After (none documented)', async () => {
    const limited = await startCampaignMonitorSimulator({
      apiKeys: [API_KEY],
      rateLimit: { requestsPerSecond: 2, burst: 3 },
      autoCreateLists: true,
    });
    try {
      const answers: Answer[] = [];
      for (let i = 0; i < 4; i += 1) answers.push(await request(limited.url, 'GET', '/api/v3.3/systemdate.json'));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
      expect(answers.map((answer) => answer.headers.get('x-ratelimit-limit'))).toEqual(['3', '3', '3', '3']);
      expect(answers.map((answer) => answer.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
      for (const answer of answers) expect(Number(answer.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
      expect(answers[3]!.body).toEqual({ Code: 429, Message: 'Rate limit exceeded' });
      expect(answers[3]!.headers.get('retry-after')).toBeNull();
      expect(limited.state.counters.tooManyRequests).toBe(1);

      // Buckets are per API key, and refill at the declared rate.
      const other = await startCampaignMonitorSimulator({ rateLimit: { requestsPerSecond: 2, burst: 1 }, autoCreateLists: true });
      try {
        expect((await request(other.url, 'GET', '/api/v3.3/systemdate.json', undefined, 'key-a')).status).toBe(200);
        expect((await request(other.url, 'GET', '/api/v3.3/systemdate.json', undefined, 'key-b')).status).toBe(200);
        expect((await request(other.url, 'GET', '/api/v3.3/systemdate.json', undefined, 'key-a')).status).toBe(429);
        await new Promise((resolve) => setTimeout(resolve, 550));
        expect((await request(other.url, 'GET', '/api/v3.3/systemdate.json', undefined, 'key-a')).status).toBe(200);
      } finally {
        await other.stop();
      }
    } finally {
      await limited.stop();
    }
  });
});

describe('faults', () => {
  let simulator: CampaignMonitorSimulator;
  beforeAll(async () => {
    simulator = await startCampaignMonitorSimulator({ apiKeys: [API_KEY], rateLimit: false, autoCreateLists: true });
  });
  afterAll(async () => {
    await simulator?.stop();
  });

  async function outcomes(faults: Faults, count: number): Promise<(number | 'reset')[]> {
    simulator.setFaults(faults);
    const seen: (number | 'reset')[] = [];
    for (let i = 0; i < count; i += 1) {
      try {
        seen.push((await fetch(`${simulator.url}/api/v3.3/systemdate.json`, { headers: auth() })).status);
      } catch {
        seen.push('reset');
      }
    }
    return seen;
  }

  it('the same seed gives the same faults; another seed other ones', async () => {
    const faults = { seed: 42, serverErrorRate: 0.3, connectionResetRate: 0.2 };
    const first = await outcomes(faults, 40);
    const second = await outcomes(faults, 40);
    expect(second).toEqual(first);
    expect(first).toContain(500);
    expect(first).toContain('reset');
    expect(first).toContain(200);
    expect(await outcomes({ ...faults, seed: 7 }, 40)).not.toEqual(first);
  });

  it('429 bursts: every N calls the next M are refused', async () => {
    expect(await outcomes({ tooManyRequestsBursts: { every: 3, length: 2 } }, 10)).toEqual([
      200, 200, 200, 429, 429, 200, 200, 200, 429, 429,
    ]);
  });

  it('latency delays answers', async () => {
    simulator.setFaults({ latencyMs: 120 });
    const started = Date.now();
    await fetch(`${simulator.url}/api/v3.3/systemdate.json`, { headers: auth() });
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('faults are settable over HTTP, and the control endpoints skip faults and auth', async () => {
    const set = await request(simulator.url, 'POST', '/_simulator/faults', { serverErrorRate: 1, seed: 3 }, null);
    expect(set).toMatchObject({ status: 200, body: { faults: { serverErrorRate: 1, seed: 3 } } });
    expect((await request(simulator.url, 'GET', '/api/v3.3/systemdate.json')).status).toBe(500);
    expect((await request(simulator.url, 'GET', '/_simulator/state', undefined, null)).body).toMatchObject({
      counters: { serverErrors: expect.any(Number) },
    });
    await request(simulator.url, 'POST', '/_simulator/faults', {}, null);
    expect((await request(simulator.url, 'GET', '/api/v3.3/systemdate.json')).status).toBe(200);
  });

  it('reset empties lists and counters and clears faults', async () => {
    simulator.setFaults({ serverErrorRate: 1 });
    await request(simulator.url, 'POST', '/api/v3.3/subscribers/r/import.json', importBody(['a@example.com']));
    simulator.reset();
    expect(simulator.state.lists.size).toBe(0);
    expect(simulator.state.counters.requests).toBe(0);
    expect((await request(simulator.url, 'GET', '/api/v3.3/systemdate.json')).status).toBe(200);
  });
});
