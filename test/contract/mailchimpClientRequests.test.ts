// Every request the Mailchimp adapter sends, held against the operations of Mailchimp's official
// npm client (@mailchimp/mailchimp_marketing, a devDependency): method, path, path parameters,
// query parameters and body presence (mailchimpClientOperations.ts reads them from the client).
// Unlike the API-document test beside it, this one needs nothing outside the repository and always
// runs. The adapter makes its real calls against the simulator while every fetch is recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientDepartures, mailchimpClientOperations } from './mailchimpClientOperations.js';
import type { RecordedRequest } from './openApiContract.js';
import type { MappedMember, SegmentRef } from '../../shared/destinations/destination.js';
import { startMailchimpSimulator, type MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { mailchimpAdapterRequests } from './mailchimpAdapterRequests.js';

const apiKey = '0123456789abcdef0123456789abcdef-us6';
const members: MappedMember[] = [
  { email: 'ada@outflow.dev', fields: { firstName: 'Ada', lastName: 'Lovelace', postalCode: 'W1', phone: '+447700900123' } },
  { email: 'alan@outflow.dev', fields: { firstName: 'Alan', lastName: 'Turing' } },
];
const segment: SegmentRef = { id: 'seg-1', name: 'Newsletter', type: 'Profile' };
const operations = mailchimpClientOperations();
const departures = (requests: RecordedRequest[]) =>
  Object.fromEntries(
    requests
      .map((request) => [`${request.method} ${request.url}`, clientDepartures(operations, request)])
      .filter(([, errors]) => errors!.length > 0),
  );

describe("Mailchimp's official client (@mailchimp/mailchimp_marketing) as the contract", () => {
  let simulator: MailchimpSimulator;
  beforeAll(async () => {
    simulator = await startMailchimpSimulator({ apiKeys: [apiKey], lists: ['aud-contract'] });
  });
  afterAll(async () => simulator?.stop());

  it('reads the operations the adapter relies on from the client', () => {
    const find = (method: string, template: string) =>
      operations.find((operation) => operation.method === method && operation.template === template);
    expect(operations.length).toBeGreaterThan(200);
    expect(find('GET', '/ping')).toMatchObject({ takesBody: false, source: 'PingApi.get' });
    expect(find('POST', '/lists/{list_id}')).toMatchObject({
      pathParams: ['list_id'],
      queryParams: new Set(['skip_merge_validation', 'skip_duplicate_check']),
      takesBody: true,
      contentTypes: ['application/json'],
      source: 'ListsApi.batchListMembers',
    });
    expect(find('GET', '/lists/{list_id}/merge-fields')?.queryParams).toEqual(
      new Set(['fields', 'exclude_fields', 'count', 'offset', 'type', 'required']),
    );
    expect(find('POST', '/lists/{list_id}/merge-fields')).toMatchObject({ takesBody: true });
  });

  it("the adapter's ping, audience read, merge-field read and creation, and batch subscribe all conform", async () => {
    const requests = await mailchimpAdapterRequests(simulator.url, apiKey, segment, members);
    expect(departures(requests)).toEqual({});
  });

  it('refuses shapes outside the client: a query it does not take, PUT on the audience, no body, a form body, an unknown path, an empty id', () => {
    const url = 'https://us6.api.mailchimp.com/3.0/lists/aud1?skip_merge_validation=true';
    const body = { members: [{ email_address: 'a@outflow.dev', status_if_new: 'subscribed' }], update_existing: true };
    const check = (request: Partial<RecordedRequest>) =>
      clientDepartures(operations, { method: 'POST', url, contentType: 'application/json', body, ...request }).join('\n');
    expect(check({})).toBe('');
    expect(check({ url: `${url}&dry_run=true` })).toContain("query parameter 'dry_run' is not one ListsApi.batchListMembers takes");
    expect(check({ method: 'PUT' })).toContain('PUT /lists/aud1 is not an operation of the official client');
    expect(check({ body: undefined })).toContain('requires a body');
    expect(check({ contentType: 'application/x-www-form-urlencoded' })).toContain("content type 'application/x-www-form-urlencoded'");
    expect(check({ url: 'https://us6.api.mailchimp.com/3.0/lists/aud1/subscribers' })).toContain('is no path of the official client');
    expect(check({ method: 'GET', url: 'https://us6.api.mailchimp.com/3.0/ping', body: undefined })).toBe('');
    expect(check({ method: 'GET', url: 'https://us6.api.mailchimp.com/3.0/ping' })).toContain('takes no body');
    expect(check({ method: 'GET', url: 'https://us6.api.mailchimp.com/3.0/lists/%20/merge-fields', body: undefined })).toContain(
      'path parameter list_id of ListsApi.getListMergeFields is empty',
    );
  });
});
