// The Mailchimp simulator held to the vendor's behaviour over plain HTTP: /3.0 paths, Basic auth
// with the key as password and problem-JSON errors, the 10-connection cap, the 500-member cap,
// per-member errors, merge fields, repeatable faults and the control endpoints.
import { describe, expect, it } from 'vitest';
import { startMailchimpSimulator, type Faults, type MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90-us14';
const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`anystring:${key}`).toString('base64')}` });

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
  headers: Record<string, string> = basic(API_KEY),
): Promise<Answer> {
  const all: Record<string, string> = { ...headers };
  if (body !== undefined) all['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const batch = (emails: string[], extra: Record<string, unknown> = {}, updateExisting = true) => ({
  members: emails.map((email) => ({ email_address: email, status_if_new: 'subscribed', ...extra })),
  update_existing: updateExisting,
});

describe('Mailchimp simulator', () => {
  let simulator: MailchimpSimulator;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    request(simulator.url, method, path, body, headers);

  useSimulator(async () => (simulator = await startMailchimpSimulator({ apiKeys: [API_KEY], autoCreateLists: true })));

  it('listens on 127.0.0.1 and answers /3.0/ping', async () => {
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ping = await call('GET', '/3.0/ping');
    expect(ping).toMatchObject({ status: 200, body: { health_status: "Everything's Chimpy!" } });
    expect((await call('GET', '/2.0/ping')).status).toBe(404);
  });

  it('takes the key as the Basic password (any user name) or as a bearer token; refuses others with a 401 problem', async () => {
    expect((await call('GET', '/3.0/ping', undefined, { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
    for (const headers of [
      {},
      basic('ffffffffffffffffffffffffffffffff-us14'),
      { authorization: `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}` },
    ]) {
      const answer = await call('GET', '/3.0/ping', undefined, headers);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.body).toEqual({
        type: 'https://mailchimp.com/developer/marketing/docs/errors/',
        title: 'API Key Invalid',
        status: 401,
        detail: expect.stringContaining('API key may be invalid'),
        instance: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
    }
    expect(simulator.state.counters.unauthorized).toBe(3);
  });

  it('accepts any key with a data center when no keys are configured, and checks the data center when one is', async () => {
    const open = await startMailchimpSimulator({ dataCenter: 'us14', autoCreateLists: true });
    try {
      expect((await request(open.url, 'GET', '/3.0/ping', undefined, basic('anything-us14'))).status).toBe(200);
      expect((await request(open.url, 'GET', '/3.0/ping', undefined, basic('anything'))).status).toBe(401);
      const wrong = await request(open.url, 'GET', '/3.0/ping', undefined, basic('anything-us2'));
      expect(wrong).toMatchObject({ status: 401, body: { detail: "Invalid API key. You've attempted to access the wrong datacenter." } });
    } finally {
      await open.stop();
    }
  });

  it('admits 10 requests in flight per key; the 11th gets 429 TooManyRequests at once', async () => {
    simulator.setFaults({ latencyMs: 200 });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 12 }, () => call('GET', '/3.0/ping')));
    const refused = answers.filter((answer) => answer.status === 429);
    expect(refused).toHaveLength(2);
    expect(refused[0]!.body).toMatchObject({
      title: 'TooManyRequests',
      status: 429,
      detail: 'You have exceeded the limit of 10 simultaneous connections.',
    });
    expect(refused[0]!.headers.get('retry-after')).toBeNull();
    expect(simulator.state.counters).toMatchObject({ concurrencyRejections: 2, tooManyRequests: 2, maxInFlight: 10 });
    expect(Date.now() - started).toBeLessThan(2000);
    // Once they finish, the connections are free again.
    simulator.setFaults({});
    expect((await call('GET', '/3.0/ping')).status).toBe(200);
  });

  it('frees a connection whose socket was reset', async () => {
    const capped = await startMailchimpSimulator({
      apiKeys: [API_KEY],
      maxConnections: 1,
      faults: { connectionResetRate: 1 },
      autoCreateLists: true,
    });
    try {
      await expect(request(capped.url, 'GET', '/3.0/ping')).rejects.toThrow();
      capped.setFaults({});
      expect((await request(capped.url, 'GET', '/3.0/ping')).status).toBe(200);
      expect(capped.state.counters.concurrencyRejections).toBe(0);
    } finally {
      await capped.stop();
    }
  });

  it('batch subscribe: creates, updates, counts and reports per member in a 200', async () => {
    simulator.seedMember('aud', { email: 'old@lovelace.dev', status: 'subscribed', mergeFields: { FNAME: 'Old', LNAME: 'Keep' } });
    const answer = await call('POST', '/3.0/lists/aud', {
      members: [
        { email_address: 'New@Lovelace.dev', status_if_new: 'subscribed', merge_fields: { FNAME: 'New' } },
        { email_address: 'old@lovelace.dev', status_if_new: 'subscribed', merge_fields: { FNAME: 'Updated' } },
        { email_address: 'not-an-email', status_if_new: 'subscribed' },
      ],
      update_existing: true,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      total_created: 1,
      total_updated: 1,
      error_count: 1,
      errors: [{ email_address: 'not-an-email', error: 'Please provide a valid email address.', error_code: 'ERROR_GENERIC' }],
      new_members: [
        {
          email_address: 'New@Lovelace.dev',
          status: 'subscribed',
          merge_fields: { FNAME: 'New' },
          list_id: 'aud',
          id: expect.stringMatching(/^[0-9a-f]{32}$/),
        },
      ],
      updated_members: [{ email_address: 'old@lovelace.dev', merge_fields: { FNAME: 'Updated', LNAME: 'Keep' } }],
    });
    expect(simulator.inspectList('aud')).toMatchObject({ memberCount: 2, deliveries: 2, duplicates: 0, statuses: { subscribed: 2 } });
  });

  it('batch subscribe: the vendor per-member errors', async () => {
    simulator.seedMember('aud', { email: 'exists@lovelace.dev', status: 'subscribed' });
    simulator.seedMember('aud', { email: 'gone@lovelace.dev', status: 'unsubscribed' });
    const noUpdate = await call('POST', '/3.0/lists/aud', batch(['exists@lovelace.dev'], {}, false));
    expect(noUpdate.body.errors).toEqual([
      {
        email_address: 'exists@lovelace.dev',
        error: 'exists@lovelace.dev is already a list member. Use PUT to insert or update list members.',
        error_code: 'ERROR_CONTACT_EXISTS',
      },
    ]);

    const resubscribe = await call('POST', '/3.0/lists/aud', {
      members: [{ email_address: 'gone@lovelace.dev', status: 'subscribed' }],
      update_existing: true,
    });
    expect(resubscribe.body.errors[0].error).toContain('is in a compliance state');

    const kept = await call('POST', '/3.0/lists/aud', batch(['gone@lovelace.dev']));
    expect(kept.body).toMatchObject({ total_updated: 1, error_count: 0, updated_members: [{ status: 'unsubscribed' }] });

    const various = await call('POST', '/3.0/lists/aud', {
      members: [
        { email_address: 'jane@example.com', status_if_new: 'subscribed' },
        { email_address: 'nostatus@lovelace.dev' },
        { email_address: 'badstatus@lovelace.dev', status_if_new: 'maybe' },
        { email_address: 'unknown@lovelace.dev', status_if_new: 'subscribed', merge_fields: { NOPE: 'x' } },
        { email_address: 'twice@lovelace.dev', status_if_new: 'subscribed' },
        { email_address: 'TWICE@lovelace.dev', status_if_new: 'subscribed' },
      ],
      update_existing: true,
    });
    expect(
      various.body.errors.map((error: { email_address: string; error: string; field?: string }) => [
        error.email_address,
        error.error,
        error.field,
      ]),
    ).toEqual([
      ['jane@example.com', 'jane@example.com looks fake or invalid, please enter a real email address.', undefined],
      ['nostatus@lovelace.dev', 'A status is required for new contacts: send status or status_if_new.', 'status'],
      ['badstatus@lovelace.dev', 'Invalid status: choose subscribed, unsubscribed, cleaned, pending or transactional.', 'status'],
      ['unknown@lovelace.dev', 'Your merge fields were invalid.', 'NOPE'],
      ['TWICE@lovelace.dev', 'TWICE@lovelace.dev appears more than once in this request.', undefined],
    ]);
    expect(various.body.total_created).toBe(1);
    const skipped = await call('POST', '/3.0/lists/aud?skip_duplicate_check=true', batch(['dup@lovelace.dev', 'dup@lovelace.dev']));
    expect(skipped.body).toMatchObject({ total_created: 1, total_updated: 1, error_count: 0 });
    expect(simulator.state.counters.memberErrors).toBe(7);
  });

  it('batch subscribe: required merge fields unless skip_merge_validation, text cut to 255 bytes', async () => {
    const field = await call('POST', '/3.0/lists/aud/merge-fields', { name: 'Company', type: 'text', tag: 'COMPANY', required: true });
    expect(field.status).toBe(200);
    const refused = await call('POST', '/3.0/lists/aud', batch(['a@lovelace.dev']));
    expect(refused.body.errors).toEqual([
      {
        email_address: 'a@lovelace.dev',
        error: 'Your merge fields were invalid.',
        error_code: 'ERROR_GENERIC',
        field: 'COMPANY',
        field_message: 'Please enter a value',
      },
    ]);
    const accepted = await call(
      'POST',
      '/3.0/lists/aud?skip_merge_validation=true',
      batch(['a@lovelace.dev'], { merge_fields: { FNAME: 'æ'.repeat(200) } }),
    );
    expect(accepted.body.total_created).toBe(1);
    expect(Buffer.byteLength(simulator.state.lists.get('aud')!.members.get('a@lovelace.dev')!.merge_fields.FNAME!)).toBe(254);
  });

  it('refuses more than 500 members, a body without members and bad JSON with 400 problems', async () => {
    const emails = Array.from({ length: 501 }, (_, index) => `m${index}@lovelace.dev`);
    const tooMany = await call('POST', '/3.0/lists/aud', batch(emails));
    expect(tooMany).toMatchObject({
      status: 400,
      body: { title: 'Invalid Resource', errors: [{ field: 'members', message: 'Schema describes array, maximum 500 items.' }] },
    });
    expect((await call('POST', '/3.0/lists/aud', batch(emails.slice(0, 500)))).body.total_created).toBe(500);
    expect((await call('POST', '/3.0/lists/aud', { update_existing: true })).status).toBe(400);
    const response = await fetch(`${simulator.url}/3.0/lists/aud`, {
      method: 'POST',
      headers: { ...basic(API_KEY), 'content-type': 'application/json' },
      body: '{"members": [',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ title: 'JSON Parse Exception' });
  });

  it('merge fields: defaults, pages of 10 by default, tags of at most 10 characters, duplicates and the cap refused', async () => {
    const first = await call('GET', '/3.0/lists/aud/merge-fields');
    expect(first.body).toMatchObject({ list_id: 'aud', total_items: 5 });
    expect(first.body.merge_fields.map((field: { tag: string }) => field.tag)).toEqual(['FNAME', 'LNAME', 'ADDRESS', 'PHONE', 'BIRTHDAY']);
    for (let index = 0; index < 7; index++)
      expect((await call('POST', '/3.0/lists/aud/merge-fields', { name: `Field ${index}`, type: 'text' })).body.tag).toBe(
        `MMERGE${index + 6}`,
      );
    expect((await call('GET', '/3.0/lists/aud/merge-fields')).body.merge_fields).toHaveLength(10);
    expect((await call('GET', '/3.0/lists/aud/merge-fields?count=1000')).body.merge_fields).toHaveLength(12);
    expect((await call('GET', '/3.0/lists/aud/merge-fields?offset=10')).body.merge_fields).toHaveLength(2);

    const created = await call('POST', '/3.0/lists/aud/merge-fields', {
      name: 'Postal code',
      type: 'text',
      tag: 'postcode',
      public: false,
    });
    expect(created).toMatchObject({
      status: 200,
      body: { tag: 'POSTCODE', name: 'Postal code', type: 'text', required: false, public: false, list_id: 'aud' },
    });
    expect((await call('POST', '/3.0/lists/aud/merge-fields', { name: 'Again', type: 'text', tag: 'POSTCODE' })).body).toMatchObject({
      status: 400,
      title: 'Invalid Resource',
      detail: 'A Merge Field with the tag "POSTCODE" already exists for this list.',
    });
    expect((await call('POST', '/3.0/lists/aud/merge-fields', { name: 'Long', type: 'text', tag: 'ELEVENCHARS' })).status).toBe(400);
    expect((await call('POST', '/3.0/lists/aud/merge-fields', { name: 'Kind', type: 'colour' })).body.errors).toEqual([
      { field: 'type', message: 'Value is not one of the allowed values.' },
    ]);
    expect(simulator.state.counters.mergeFieldsCreated).toBe(8);

    const capped = await startMailchimpSimulator({ apiKeys: [API_KEY], maxMergeFields: 5, autoCreateLists: true });
    try {
      const full = await request(capped.url, 'POST', '/3.0/lists/aud/merge-fields', { name: 'Gender', type: 'text', tag: 'GENDER' });
      expect(full).toMatchObject({ status: 400, body: { detail: 'This audience already has the maximum of 5 audience fields.' } });
    } finally {
      await capped.stop();
    }
  });

  it('audiences: created on first use by default, 404 Resource Not Found otherwise', async () => {
    expect((await call('GET', '/3.0/lists/fresh')).body).toMatchObject({ id: 'fresh', double_optin: false, stats: { member_count: 0 } });
    const strict = await startMailchimpSimulator({ apiKeys: [API_KEY], autoCreateLists: false });
    try {
      const missing = await request(strict.url, 'GET', '/3.0/lists/nope');
      expect(missing).toMatchObject({ status: 404, body: { title: 'Resource Not Found', status: 404 } });
      expect((await request(strict.url, 'POST', '/3.0/lists/nope', batch(['a@lovelace.dev']))).status).toBe(404);
    } finally {
      await strict.stop();
    }
  });

  it('an optional rate limit answers 429 once its bucket is empty', async () => {
    const limited = await startMailchimpSimulator({
      apiKeys: [API_KEY],
      rateLimit: { requestsPerSecond: 1, burst: 2 },
      autoCreateLists: true,
    });
    try {
      const statuses = [];
      for (let index = 0; index < 3; index++) statuses.push((await request(limited.url, 'GET', '/3.0/ping')).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(limited.state.counters).toMatchObject({ tooManyRequests: 1, concurrencyRejections: 0 });
    } finally {
      await limited.stop();
    }
  });

  it('replays the same faults for the same seed, set over HTTP', async () => {
    const faults: Faults = { serverErrorRate: 0.3, tooManyRequestsBursts: { every: 4, length: 1 }, seed: 42 };
    const sequence = async () => {
      const control = await fetch(`${simulator.url}/_simulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      expect(control.status).toBe(200);
      const statuses: number[] = [];
      for (let index = 0; index < 20; index++) statuses.push((await call('GET', '/3.0/ping')).status);
      return statuses;
    };
    const once = await sequence();
    expect(await sequence()).toEqual(once);
    expect(once).toContain(500);
    expect(once).toContain(429);
    const answer = await fetch(`${simulator.url}/_simulator/faults`);
    expect(await answer.json()).toEqual({ faults });
  });

  it('inspection over HTTP: members, deliveries, duplicates and merge fields of an audience', async () => {
    await call('POST', '/3.0/lists/news', batch(['a@lovelace.dev', 'b@lovelace.dev']));
    await call('POST', '/3.0/lists/news', batch(['a@lovelace.dev']));
    const inspection = await fetch(`${simulator.url}/_simulator/lists/news`);
    expect(await inspection.json()).toMatchObject({
      listId: 'news',
      memberCount: 2,
      deliveries: 3,
      duplicates: 1,
      duplicateEmails: ['a@lovelace.dev'],
      mergeFields: expect.arrayContaining([{ tag: 'FNAME', name: 'First Name', type: 'text' }]),
      statuses: { subscribed: 2 },
    });
    expect((await fetch(`${simulator.url}/_simulator/lists/none`)).status).toBe(404);
    const state = (await (await fetch(`${simulator.url}/_simulator/state`)).json()) as { counters: Record<string, number> };
    expect(state.counters).toMatchObject({ batches: 2, membersReceived: 3 });
    await fetch(`${simulator.url}/_simulator/reset`, { method: 'POST' });
    expect(simulator.inspectList('news')).toBeUndefined();
    expect(simulator.state.counters.requests).toBe(0);
  });
});
