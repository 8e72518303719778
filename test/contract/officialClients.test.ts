// Each simulator driven by its vendor's own official npm client: what the vendor's client sends
// must be understood, and what the simulator answers must be what that client parses (the Iterable
// client validates every answer with its own zod schemas; the LinkedIn client reads created ids
// from the x-restli-id header; the Mailchimp and createsend clients parse JSON and map errors).
// A simulator that drifted from the vendor's wire format fails here even when the adapter, written
// from the same reading, agrees with it.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IterableClient } from '@iterable/api';
import { RestliClient } from 'linkedin-api-client';
import { startMailchimpSimulator, type MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { startIterableSimulator, type IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { startLinkedinSimulator, type LinkedinSimulator } from '../../local/simulators/linkedinSimulator.js';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';

const require = createRequire(import.meta.url);

describe('Mailchimp simulator × @mailchimp/mailchimp_marketing', () => {
  const apiKey = '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d-us6';
  let simulator: MailchimpSimulator;
  let client: any;
  beforeAll(async () => {
    simulator = await startMailchimpSimulator({ apiKeys: [apiKey], lists: ['aud-client'] });
    client = require('@mailchimp/mailchimp_marketing');
    client.setConfig({ apiKey, server: 'us6' });
    // The client's base is https://server.api.mailchimp.com/3.0 with `server` replaced; point it here.
    client.basePath = `${simulator.url}/3.0`;
  });
  afterAll(async () => simulator?.stop());

  it('ping, audience, merge fields and batch subscribe answer what the client parses', async () => {
    expect(await client.ping.get()).toEqual({ health_status: "Everything's Chimpy!" });
    expect(await client.lists.getList('aud-client')).toMatchObject({ id: 'aud-client', double_optin: false });
    const created = await client.lists.addListMergeField('aud-client', {
      name: 'City',
      tag: 'CITY',
      type: 'text',
      required: false,
      public: false,
    });
    expect(created).toMatchObject({ tag: 'CITY', type: 'text' });
    const fields = await client.lists.getListMergeFields('aud-client', { count: 1000 });
    expect(fields.merge_fields.map((field: { tag: string }) => field.tag)).toContain('CITY');
    const batch = await client.lists.batchListMembers('aud-client', {
      members: [
        { email_address: 'grace@outflow.dev', status_if_new: 'subscribed', merge_fields: { FNAME: 'Grace', CITY: 'Arlington' } },
        { email_address: 'fake@example.com', status_if_new: 'subscribed' },
      ],
      update_existing: true,
    });
    expect(batch).toMatchObject({ total_created: 1, total_updated: 0, error_count: 1 });
    expect(batch.errors[0]).toMatchObject({ email_address: 'fake@example.com', error_code: 'ERROR_GENERIC' });
  });

  it("an unknown audience is the vendor's 404 problem document, and a bodiless throttle reaches the client as 403 without one", async () => {
    const missing = await client.lists.getList('no-such-audience').catch((error: any) => error);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.response.text)).toMatchObject({ title: 'Resource Not Found', status: 404 });
    simulator.setFaults({ bodilessThrottle: { every: 1, status: 403 } });
    const throttled = await client.lists
      .batchListMembers('aud-client', { members: [{ email_address: 'x@outflow.dev', status_if_new: 'subscribed' }] })
      .catch((error: any) => error);
    simulator.setFaults({});
    expect(throttled.status).toBe(403);
    expect(throttled.response.text).toBe('');
  });
});

describe('Iterable simulator × @iterable/api', () => {
  let simulator: IterableSimulator;
  let client: IterableClient;
  beforeAll(async () => {
    simulator = await startIterableSimulator({ apiKeys: ['official-key'], rateLimit: false });
    client = new IterableClient({ apiKey: 'official-key', baseUrl: simulator.url, timeout: 10_000 });
  });
  afterAll(async () => simulator?.stop());

  it("lists, list creation and subscribe answers pass the client's own response schemas", async () => {
    const { listId } = await client.createList({ name: 'Official client' });
    expect(typeof listId).toBe('number');
    const { lists } = await client.getLists();
    expect(lists.find((list) => list.id === listId)).toMatchObject({ name: 'Official client', listType: 'Standard' });
    const subscribed = await client.subscribeUserToList({
      listId,
      subscribers: [{ email: 'katherine@outflow.dev', dataFields: { firstName: 'Katherine' } }, { email: 'not-an-email' }],
    });
    expect(subscribed.successCount).toBe(1);
    expect(subscribed.failCount).toBe(1);
    expect(subscribed.failedUpdates?.invalidEmails).toEqual(['not-an-email']);
  });

  it("a bad key is the error the client maps from the vendor's {msg, code}", async () => {
    const wrong = new IterableClient({ apiKey: 'wrong-key', baseUrl: simulator.url, timeout: 10_000 });
    const error = (await wrong.getLists().catch((caught: unknown) => caught)) as { statusCode?: number; apiResponse?: { code?: string } };
    expect(error).toMatchObject({ statusCode: 401 });
    expect(error.apiResponse?.code).toBe('BadApiKey');
  });
});

describe('LinkedIn simulator × linkedin-api-client', () => {
  const token = 'official-li-token';
  const account = 'urn:li:sponsoredAccount:5123';
  let simulator: LinkedinSimulator;
  let client: RestliClient;
  beforeAll(async () => {
    simulator = await startLinkedinSimulator({
      accessTokens: [token],
      adAccounts: ['5123'],
      rateLimit: false,
      sourcePlatforms: ['OUTFLOW_OFFICIAL'],
    });
    client = new RestliClient();
    // The client builds https://api.linkedin.com/rest/… itself; only the origin is swapped.
    (
      client as unknown as { axiosInstance: { interceptors: { request: { use(fn: (config: { url?: string }) => unknown): void } } } }
    ).axiosInstance.interceptors.request.use((config) => {
      config.url = config.url?.replace('https://api.linkedin.com', simulator.url);
      return config;
    });
  });
  afterAll(async () => simulator?.stop());

  it('create (id from x-restli-id), finder and BATCH_CREATE of users answer what the client reads', async () => {
    const created = await client.create({
      resourcePath: '/dmpSegments',
      entity: {
        name: 'Official',
        account,
        type: 'USER',
        sourcePlatform: 'OUTFLOW_OFFICIAL',
        sourceSegmentId: 'seg-official',
        accessPolicy: 'PRIVATE',
        destinations: [{ destination: 'LINKEDIN' }],
      },
      accessToken: token,
      versionString: '202604',
    });
    expect(created.createdEntityId).toBeTruthy();
    const found = await client.finder({
      resourcePath: '/dmpSegments',
      finderName: 'account',
      queryParams: { account, sourcePlatform: 'OUTFLOW_OFFICIAL' },
      accessToken: token,
      versionString: '202604',
    });
    expect(found.data.elements.map((element: { id?: unknown }) => String(element.id))).toContain(String(created.createdEntityId));
    const added = await client.batchCreate({
      resourcePath: '/dmpSegments/{id}/users',
      pathKeys: { id: created.createdEntityId },
      entities: [{ action: 'ADD', userIds: [{ idType: 'SHA256_EMAIL', idValue: 'a'.repeat(64) }] }],
      accessToken: token,
      versionString: '202604',
    });
    expect(added.data.elements).toHaveLength(1);
    expect(added.data.elements[0]).toMatchObject({ status: 201 });
  });

  it('a sourcePlatform LinkedIn did not grant is refused 400', async () => {
    const refused = await client
      .finder({
        resourcePath: '/dmpSegments',
        finderName: 'account',
        queryParams: { account, sourcePlatform: 'SOMEONE_ELSE' },
        accessToken: token,
        versionString: '202604',
      })
      .catch((error: { response?: { status?: number } }) => error);
    expect((refused as { response?: { status?: number } }).response?.status).toBe(400);
  });
});

describe('Campaign Monitor simulator × createsend-node', () => {
  const apiKey = 'cm-official-key';
  let simulator: CampaignMonitorSimulator;
  let client: any;
  beforeAll(async () => {
    simulator = await startCampaignMonitorSimulator({ apiKeys: [apiKey], rateLimit: false, autoCreateLists: true });
    const CreateSend = require('createsend-node');
    client = new CreateSend({ apiKey }, { secure: false, baseUri: simulator.url.replace(/^http:\/\//, '') });
    // The wrapper still defaults to v3; Outflow and the simulator speak v3.3.
    client.version = 'v3.3';
  });
  afterAll(async () => simulator?.stop());

  const callback = <T>(work: (done: (error: unknown, result: T) => void) => void) =>
    new Promise<T>((resolve, reject) => work((error, result) => (error ? reject(error as Error) : resolve(result))));

  it('list details, custom fields and a subscriber import answer what the client parses', async () => {
    const details = await callback<any>((done) => client.lists.getListDetails('list-official', done));
    expect(details).toMatchObject({ ListID: 'list-official' });
    const fields = await callback<any[]>((done) => client.lists.getCustomFields('list-official', done));
    expect(Array.isArray(fields)).toBe(true);
    const imported = await callback<any>((done) =>
      client.subscribers.import(
        'list-official',
        {
          Subscribers: [{ EmailAddress: 'mary@outflow.dev', Name: 'Mary', ConsentToTrack: 'Yes' }],
          Resubscribe: false,
          QueueSubscriptionBasedAutoResponders: false,
          RestartSubscriptionBasedAutoresponders: false,
        },
        done,
      ),
    );
    expect(imported).toMatchObject({ TotalNewSubscribers: 1 });
  });
});
