// The Campaign Monitor adapter: its pure converters against the table of cases, and the adapter
// itself over real HTTP against the local simulator (which the last block holds to the vendor's
// behaviour: rate-limit headers, repeatable faults, upsert by email).
import { describe, expect, it } from 'vitest';
import {
  campaignMonitor,
  campaignMonitorImportBody,
  CUSTOM_FIELD_NAMES,
  customFieldKey,
  fromImportResult,
  subscriberEncoder,
  type CampaignMonitorSubscriber,
  truncateValue,
  type ToSubscriberOptions,
  type CampaignMonitorDetails,
  type CampaignMonitorSecrets,
  type CampaignMonitorSettings,
} from '../../shared/destinations/campaignMonitor.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import { startCampaignMonitorSimulator, type CampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { importResultCases, notImportResults, subscriberCases } from './campaignMonitor.cases.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const API_KEY = 'test-api-key';

/** One mapped member as the import body holds it, read back as an object. */
function toCampaignMonitorSubscriber(member: MappedMember, options: ToSubscriberOptions = {}): CampaignMonitorSubscriber {
  return JSON.parse(subscriberEncoder(options)(member)) as CampaignMonitorSubscriber;
}

describe('toCampaignMonitorSubscriber', () => {
  it.each(subscriberCases)('$name', ({ member, options, expected }) => {
    expect(toCampaignMonitorSubscriber(member, options)).toEqual(expected);
  });
});

/** The import body as objects and JSON.stringify make it: the reference the adapter's JSON text must equal byte for byte. */
function referenceBody(members: MappedMember[], options: ToSubscriberOptions = {}): string {
  const subscribers = members.map((member) => {
    const fields = member.fields;
    const name = fields.fullName?.trim() || [fields.firstName?.trim(), fields.lastName?.trim()].filter(Boolean).join(' ');
    const customFields: { Key: string; Value: string }[] = [];
    for (const field of Object.keys(CUSTOM_FIELD_NAMES) as (keyof typeof CUSTOM_FIELD_NAMES)[]) {
      const value = fields[field]?.trim();
      if (value)
        customFields.push({
          Key: options.customFieldKeys?.[field] ?? customFieldKey(CUSTOM_FIELD_NAMES[field]),
          Value: truncateValue(value),
        });
    }
    const subscriber: Record<string, unknown> = {
      EmailAddress: member.email,
      CustomFields: customFields,
      ConsentToTrack: options.consentToTrack ?? 'Unchanged',
    };
    if (name) subscriber.Name = name;
    return subscriber;
  });
  return JSON.stringify({
    Subscribers: subscribers,
    Resubscribe: false,
    QueueSubscriptionBasedAutoResponders: false,
    RestartSubscriptionBasedAutoresponders: false,
  });
}

/** Values JSON must escape or may pass through: quotes, backslashes, every control character, non-Latin text, surrogate pairs and lone surrogates, U+2028/2029. */
const TRICKY_TEXT = [
  'O"Brien',
  'back\\slash\\',
  'tab\there',
  'line\nbreak\r\n',
  Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join(''),
  '\u007f\u0080\u00ff',
  'Ærøskøbing Møller Nygård',
  'Łódź Πειραιάς 東京 서울',
  'emoji 😀 pair',
  'lone \ud800 high',
  'lone \udc00 low',
  'reversed \udc00\ud800',
  '\u2028 and \u2029',
  '"',
  '',
  '</script>',
];

describe('campaignMonitorImportBody', () => {
  it('is byte for byte what JSON.stringify makes of the subscribers, whatever the text', () => {
    const batch: MappedMember[] = TRICKY_TEXT.map((text, index) => ({
      email: `m${index}${text.replace(/@/g, '')}@example.com`,
      fields: { firstName: text, lastName: index % 2 ? text : '', postalCode: text, city: ` ${text} `, phone: index % 3 ? '' : text },
    }));
    const options = { customFieldKeys: { postalCode: '[Post"code\\]', city: '[City]' }, consentToTrack: 'Yes' as const };
    expect(campaignMonitorImportBody(batch, options)).toBe(referenceBody(batch, options));
    expect(campaignMonitorImportBody(batch)).toBe(referenceBody(batch));
    expect(JSON.parse(campaignMonitorImportBody(batch, options)).Subscribers[0].CustomFields[0].Value).toBe('O"Brien');
  });

  it('every code unit on its own, alone and inside text, encodes as JSON.stringify does', () => {
    const batch: MappedMember[] = [];
    for (let code = 0; code <= 0xffff; code += 1) {
      const char = String.fromCharCode(code);
      batch.push({ email: `${char}@example.com`, fields: { fullName: `a${char}b`, gender: char } });
      if (batch.length === 1000) {
        expect(campaignMonitorImportBody(batch)).toBe(referenceBody(batch));
        batch.length = 0;
      }
    }
    expect(campaignMonitorImportBody(batch)).toBe(referenceBody(batch));
  });

  it('custom field values over 250 characters are cut without splitting a surrogate pair; names are not cut', () => {
    const long = `${'x'.repeat(249)}😀${'y'.repeat(10)}`;
    const batch = [{ email: 'long@example.com', fields: { city: long, country: 'z'.repeat(300), fullName: long } }];
    expect(campaignMonitorImportBody(batch)).toBe(referenceBody(batch));
    const subscriber = JSON.parse(campaignMonitorImportBody(batch)).Subscribers[0];
    expect(subscriber.CustomFields).toEqual([
      { Key: '[City]', Value: 'x'.repeat(249) },
      { Key: '[Country]', Value: 'z'.repeat(250) },
    ]);
    expect(subscriber.Name).toBe(long);
  });

  it('an empty batch and the members of the case table', () => {
    expect(campaignMonitorImportBody([])).toBe(referenceBody([]));
    for (const { member, options } of subscriberCases)
      expect(campaignMonitorImportBody([member], options)).toBe(referenceBody([member], options));
  });
});

describe('fromImportResult', () => {
  it.each(importResultCases)('$name', ({ body, expected }) => {
    expect(fromImportResult(body)).toEqual(expected);
  });

  it.each(notImportResults)('refuses $name', ({ body }) => {
    expect(() => fromImportResult(body)).toThrow(DestinationError);
  });
});

describe('declarations', () => {
  it('declares what the vendor documents', () => {
    expect(campaignMonitor.batchSize).toBe(1000);
    expect(campaignMonitor.limits.maxMembersPerExport).toBe(1_000_000);
    expect(campaignMonitor.eligibleSegmentTypes).toEqual(['Profile', 'Contact']);
    expect(campaignMonitor.exportKinds).toEqual(['segment']);
    expect(campaignMonitor.apiUrlSetting).toBe('CAMPAIGN_MONITOR_API_URL');
    expect(campaignMonitor.dataMatching.filter((field) => field.required).map((field) => field.name)).toEqual(['email']);
    // The limit must allow the promised 1M profiles in 20 minutes.
    expect((1_000_000 / campaignMonitor.batchSize / campaignMonitor.limits.requestsPerSecond) * 1000).toBeLessThan(20 * 60 * 1000);
  });

  it('validates connection secrets and export details', () => {
    expect(campaignMonitor.connectionSecrets.safeParse({ apiKey: '' }).success).toBe(false);
    expect(campaignMonitor.connectionSecrets.safeParse({ apiKey: 'k' }).success).toBe(true);
    expect(campaignMonitor.exportDetails.safeParse({}).success).toBe(false);
    expect(campaignMonitor.exportDetails.safeParse({ listId: 'abc', consentToTrack: 'Maybe' }).success).toBe(false);
    expect(campaignMonitor.exportDetails.safeParse({ listId: 'abc' }).success).toBe(true);
  });
});

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}${index}@example.com`,
    fields: { firstName: 'Member', lastName: String(index), city: 'Oslo' },
  }));
}

describe('adapter against the simulator', () => {
  let simulator: CampaignMonitorSimulator;
  let listSeq = 0;

  useSimulator(
    async () => (simulator = await startCampaignMonitorSimulator({ apiKeys: [API_KEY], rateLimit: false, autoCreateLists: true })),
  );

  function call(
    details: Partial<CampaignMonitorDetails> = {},
    apiKey = API_KEY,
  ): DestinationCall<CampaignMonitorSettings, CampaignMonitorSecrets, CampaignMonitorDetails> {
    listSeq += 1;
    return { settings: {}, secrets: { apiKey }, details: { listId: `list-${listSeq}`, ...details }, apiOrigin: simulator.url };
  }

  it('imports a batch and counts every member as succeeded', async () => {
    const target = call();
    const result = await campaignMonitor.sendBatch(target, members(250));
    expect(result).toEqual({ succeeded: 250, failures: [] });
    const list = simulator.state.lists.get(target.details.listId)!;
    expect(list.subscribers.size).toBe(250);
    expect(list.subscribers.get('member7@example.com')?.Name).toBe('Member 7');
  });

  it('reports invalid emails per record and imports the rest', async () => {
    const target = call();
    const batch = [...members(3), { email: 'broken@example', fields: {} }, { email: 'two@@example.com', fields: {} }];
    const result = await campaignMonitor.sendBatch(target, batch);
    expect(result.succeeded).toBe(3);
    expect(result.failures).toEqual([
      { email: 'broken@example', status: 'failed', category: 'invalidRecord', code: '1', message: 'Invalid Email Address' },
      { email: 'two@@example.com', status: 'failed', category: 'invalidRecord', code: '1', message: 'Invalid Email Address' },
    ]);
    expect(simulator.state.lists.get(target.details.listId)!.subscribers.size).toBe(3);
  });

  it('people the vendor will not re-add (suppressed, deleted, unsubscribed, bounced, unconfirmed: 204–208) are skipped, not failed', async () => {
    const strict = await startCampaignMonitorSimulator({
      apiKeys: [API_KEY],
      rateLimit: false,
      autoCreateLists: true,
      suppressedEmails: ['member0@example.com'],
    });
    try {
      const target = { ...call(), apiOrigin: strict.url };
      const states = ['Deleted', 'Unsubscribed', 'Bounced', 'Unconfirmed'] as const;
      states.forEach((state, index) => strict.seedSubscriber(target.details.listId, { email: `member${index + 1}@example.com`, state }));
      const result = await campaignMonitor.sendBatch(target, members(6));
      expect(result.succeeded).toBe(1);
      expect(result.failures.map((failure) => [failure.email, failure.status, failure.code])).toEqual([
        ['member0@example.com', 'skipped', '204'],
        ['member1@example.com', 'skipped', '205'],
        ['member2@example.com', 'skipped', '206'],
        ['member3@example.com', 'skipped', '207'],
        ['member4@example.com', 'skipped', '208'],
      ]);
      // Nobody who left was brought back: the import never resubscribes.
      expect(strict.state.lists.get(target.details.listId)!.subscribers.get('member2@example.com')!.State).toBe('Unsubscribed');
    } finally {
      await strict.stop();
    }
  });

  it('the simulator reads the JSON text as the values sent: quotes, backslashes, controls, any script', async () => {
    const target = call();
    const batch = TRICKY_TEXT.filter((text) => !/[\ud800-\udfff]/.test(text.replace(/\ud83d\ude00/g, ''))).map((text, index) => ({
      email: `tricky${index}@example.com`,
      fields: { fullName: `${text} ${index}`, city: `${text} ${index}` },
    }));
    const details = await campaignMonitor.prepareRun!(target, { segments: [], segmentNames: [], mappedFields: ['email', 'city'] });
    expect(await campaignMonitor.sendBatch({ ...target, details }, batch)).toEqual({ succeeded: batch.length, failures: [] });
    const list = simulator.state.lists.get(target.details.listId)!;
    for (const member of batch) {
      const subscriber = list.subscribers.get(member.email)!;
      expect(subscriber.Name).toBe(member.fields.fullName.trim());
      expect(subscriber.CustomFields['[City]']).toBe(member.fields.city.trim());
    }
  });

  it('sends a repeated email once and reports the earlier record as skipped', async () => {
    const target = call();
    const result = await campaignMonitor.sendBatch(target, [
      { email: 'same@example.com', fields: { city: 'Old' } },
      { email: 'same@example.com', fields: { city: 'New' } },
    ]);
    expect(result.succeeded).toBe(1);
    expect(result.failures).toEqual([expect.objectContaining({ email: 'same@example.com', status: 'skipped', code: 'DuplicateInBatch' })]);
    expect(simulator.inspectList(target.details.listId)).toMatchObject({ memberCount: 1, deliveries: 1, duplicates: 0 });
  });

  it('re-sending a batch updates the same subscribers instead of adding new ones', async () => {
    const target = call();
    await campaignMonitor.sendBatch(target, members(10));
    const again = await campaignMonitor.sendBatch(target, members(10));
    expect(again).toEqual({ succeeded: 10, failures: [] });
    expect(simulator.inspectList(target.details.listId)).toMatchObject({ memberCount: 10, deliveries: 20, duplicates: 10 });
  });

  it('the simulator refuses more than 1,000 subscribers with 209, thrown as a config error', async () => {
    const target = call();
    const response = await fetch(`${simulator.url}/api/v3.3/subscribers/${target.details.listId}/import.json`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${API_KEY}:x`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ Subscribers: members(1001).map((member) => toCampaignMonitorSubscriber(member)), Resubscribe: false }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      Code: 209,
      Message: 'Too many subscribers in this batch. You can only add 1000 subscribers in one call',
    });

    const error = await thrown(campaignMonitor.sendBatch(target, members(1001)));
    expect(error.category).toBe('config');
    expect(simulator.state.counters.imports).toBe(0);
  });

  it('a vendor 209 answer becomes a config DestinationError with the vendor code', async () => {
    const small = await startCampaignMonitorSimulator({
      apiKeys: [API_KEY],
      rateLimit: false,
      maxSubscribersPerImport: 5,
      autoCreateLists: true,
    });
    try {
      const error = await thrown(campaignMonitor.sendBatch({ ...call(), apiOrigin: small.url }, members(6)));
      expect(error).toMatchObject({ category: 'config', options: { status: 400, code: '209' } });
      expect(error.retryable).toBe(false);
    } finally {
      await small.stop();
    }
  });

  it('an unknown list is a config error when lists are not auto-created', async () => {
    const strict = await startCampaignMonitorSimulator({ apiKeys: [API_KEY], rateLimit: false, autoCreateLists: false });
    try {
      const error = await thrown(campaignMonitor.sendBatch({ ...call(), apiOrigin: strict.url }, members(1)));
      expect(error).toMatchObject({ category: 'config', options: { code: '101' } });
    } finally {
      await strict.stop();
    }
  });

  it('a bad API key is an auth error', async () => {
    const error = await thrown(campaignMonitor.sendBatch(call({}, 'wrong-key'), members(1)));
    expect(error.category).toBe('auth');
    expect(error.message).toContain('Invalid API Key');
    expect(simulator.state.counters.unauthorized).toBe(1);
  });

  it('429 is a rateLimited error carrying the wait', async () => {
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    const target = call();
    await campaignMonitor.sendBatch(target, members(1));
    const error = await thrown(campaignMonitor.sendBatch(target, members(1)));
    expect(error).toMatchObject({ category: 'rateLimited', options: { status: 429, retryAfterMs: 1000 } });
    expect(error.retryable).toBe(true);
  });

  it('429 from the token bucket without Retry-After still carries the wait from X-RateLimit-Reset', async () => {
    const limited = await startCampaignMonitorSimulator({
      apiKeys: [API_KEY],
      rateLimit: { requestsPerSecond: 0.5, burst: 1 },
      retryAfterHeader: false,
      autoCreateLists: true,
    });
    try {
      const target = { ...call(), apiOrigin: limited.url };
      await campaignMonitor.sendBatch(target, members(1));
      const error = await thrown(campaignMonitor.sendBatch(target, members(1)));
      expect(error.category).toBe('rateLimited');
      expect(error.options.retryAfterMs).toBe(2000);
      expect(limited.state.counters.tooManyRequests).toBe(1);
    } finally {
      await limited.stop();
    }
  });

  it('a 5xx is vendorUnavailable and a reset connection is network, both retryable', async () => {
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(campaignMonitor.sendBatch(call(), members(1)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
    simulator.setFaults({ connectionResetRate: 1 });
    expect(await thrown(campaignMonitor.sendBatch(call(), members(1)))).toMatchObject({ category: 'network', retryable: true });
    expect(simulator.state.counters).toMatchObject({ serverErrors: 1, connectionResets: 1 });
  });

  it('testConnection: ok with a good key, the vendor reason with a bad one', async () => {
    expect(await campaignMonitor.testConnection(call())).toEqual({ ok: true });
    const refused = await campaignMonitor.testConnection(call({}, 'wrong-key'));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/Invalid API Key/);
    expect(simulator.state.counters.byRoute['GET /systemdate.json']).toBe(1);
    expect(simulator.state.counters.requests).toBe(2);
  });

  it('testConnection checks the client when one is configured', async () => {
    const clientId = simulator.state.clients[0]!.ClientID;
    expect(await campaignMonitor.testConnection({ ...call(), settings: { clientId } })).toEqual({ ok: true });
    const missing = await campaignMonitor.testConnection({ ...call(), settings: { clientId: 'not-a-client' } });
    expect(missing).toEqual({ ok: false, reason: 'The API key cannot see client not-a-client.' });
  });

  it('prepareRun creates the mapped custom fields once, even when two runs prepare at the same time', async () => {
    const target = call();
    const run = { segments: [], segmentNames: ['All customers'], mappedFields: ['email', 'firstName', 'postalCode', 'city', 'gender'] };
    // A little latency so both runs read the (empty) field list before either creates a field.
    simulator.setFaults({ latencyMs: 15 });
    const [first, second] = await Promise.all([campaignMonitor.prepareRun!(target, run), campaignMonitor.prepareRun!(target, run)]);
    simulator.setFaults({});
    const expectedKeys = { postalCode: '[PostalCode]', city: '[City]', gender: '[Gender]' };
    expect(first.customFieldKeys).toEqual(expectedKeys);
    expect(second.customFieldKeys).toEqual(expectedKeys);
    expect(simulator.state.counters.customFieldsCreated).toBe(3);
    // The race happened: some of the second run's creations were refused (255) and read back.
    expect(simulator.state.counters.byRoute['POST /lists/{listId}/customfields.json']).toBeGreaterThan(3);
    const fields = simulator.inspectList(target.details.listId)!.customFields;
    expect(fields.map((field) => field.Key).sort()).toEqual(['[City]', '[Gender]', '[PostalCode]']);
    expect(fields.every((field) => field.DataType === 'Text' && !field.VisibleInPreferenceCenter)).toBe(true);

    // Prepared again later: nothing new is created.
    await campaignMonitor.prepareRun!(target, run);
    expect(simulator.state.counters.customFieldsCreated).toBe(3);
  });

  it('prepareRun reuses a field the list already has under another tag, and values land in it', async () => {
    const target = call();
    const auth = { authorization: `Basic ${Buffer.from(`${API_KEY}:x`).toString('base64')}`, 'content-type': 'application/json' };
    const created = await fetch(`${simulator.url}/api/v3.3/lists/${target.details.listId}/customfields.json`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ FieldName: 'Postal Code', DataType: 'Text', Options: [] }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toBe('[PostalCode]');

    const prepared = await campaignMonitor.prepareRun!(target, {
      segments: [],
      segmentNames: [],
      mappedFields: ['email', 'postalCode', 'country'],
    });
    expect(prepared.customFieldKeys).toEqual({ postalCode: '[PostalCode]', country: '[Country]' });
    expect(simulator.state.counters.customFieldsCreated).toBe(2);

    await campaignMonitor.sendBatch({ ...target, details: prepared }, [
      { email: 'ada@example.com', fields: { postalCode: 'W1', country: 'GB', city: 'London' } },
    ]);
    const list = simulator.inspectList(target.details.listId)!;
    const subscriber = simulator.state.lists.get(target.details.listId)!.subscribers.get('ada@example.com')!;
    expect({ ...subscriber.CustomFields }).toEqual({ '[PostalCode]': 'W1', '[Country]': 'GB' });
    // City was not prepared: the vendor drops unknown keys silently; the simulator counts them.
    expect(list.ignoredCustomFieldKeys).toEqual({ '[City]': 1 });
    expect(list.overlongValues).toBe(0);
  });

  it('prepareRun without custom fields mapped changes nothing', async () => {
    const target = call();
    expect(await campaignMonitor.prepareRun!(target, { segments: [], segmentNames: [], mappedFields: ['email', 'fullName'] })).toEqual(
      target.details,
    );
    expect(simulator.state.counters.requests).toBe(0);
  });
});
