// Every request the adapters send to dotdigital, Iterable and Mailchimp, checked against what the
// vendor itself publishes: Iterable's request schemas from its official npm client (@iterable/api
// exports the zod schemas its client validates request parameters with); dotdigital's and
// Mailchimp's API documents, which are not part of this repository: they are read from the steering
// repository's shared folder (../shared/vendor-api-docs/, sources in test/contract/README.md), and
// where a document is absent its tests are skipped, saying which file and where it comes from. The
// adapters run their real calls (testConnection, prepareRun, sendBatch) against the simulators while
// every fetch is recorded; each recorded request must conform, and a request shape outside must not.
// The checker itself is tested on a small document of our own (openApiContract.test.ts); Mailchimp's
// paths, methods and queries are also held, always, against its official client (mailchimpClientRequests.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateListParamsSchema, GetListsParamsSchema, SubscribeToListParamsSchema } from '@iterable/api';
import { ContractDocument, loadVendorDocument, recordRequests, type RecordedRequest } from './openApiContract.js';
import { createDotdigitalAdapter } from '../../shared/destinations/dotdigital.js';
import { toFileMedia } from '../../shared/destinations/dotdigitalImportFile.js';
import { iterable } from '../../shared/destinations/iterable.js';
import type { DestinationCall, MappedMember, SegmentRef } from '../../shared/destinations/destination.js';
import { startDotdigitalSimulator, type DotdigitalSimulator } from '../../local/simulators/dotdigitalSimulator.js';
import { startIterableSimulator, type IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { startMailchimpSimulator, type MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { mailchimpAdapterRequests } from './mailchimpAdapterRequests.js';

const members: MappedMember[] = [
  {
    email: 'ada@outflow.dev',
    fields: {
      firstName: 'Ada',
      lastName: 'Lovelace',
      fullName: 'Ada Lovelace',
      gender: 'F',
      postalCode: 'W1',
      city: 'London',
      country: 'GB',
      phone: '+447700900123',
    },
  },
  { email: 'alan@outflow.dev', fields: { firstName: 'Alan', lastName: 'Turing' } },
];
const segment: SegmentRef = { id: 'seg-1', name: 'Newsletter', type: 'Profile' };

/** A vendor document from the shared folder, and the note a skipped test carries when it is absent. */
function vendorDocument(fileName: string, source: string): { document: ContractDocument | undefined; absent: string } {
  const doc = loadVendorDocument(fileName);
  return {
    document: doc && new ContractDocument(doc),
    absent: doc ? '' : ` (skipped: no ../shared/vendor-api-docs/${fileName}; it comes from ${source}, see test/contract/README.md)`,
  };
}

/** The departures from the document of each request, by "METHOD url"; {} when every one conforms. */
function departures(document: ContractDocument, requests: RecordedRequest[]): Record<string, string[]> {
  return Object.fromEntries(
    requests.map((request) => [`${request.method} ${request.url}`, document.check(request)]).filter(([, errors]) => errors!.length > 0),
  );
}

describe('dotdigital v2 OpenAPI', () => {
  const { document, absent } = vendorDocument(
    'dotdigital-v2.openapi.json',
    'api-evangelist/dotdigital openapi/_original/dotdigital-v2-api-swagger.json at 24e60ad',
  );
  let simulator: DotdigitalSimulator;
  beforeAll(async () => {
    if (!document) return;
    simulator = await startDotdigitalSimulator({
      apiUsers: { 'apiuser@apiconnector.com': 'pw' },
      rateLimit: false,
      importDelayMs: 10,
      autoCreateAddressBooks: true,
    });
  });
  afterAll(async () => simulator?.stop());

  it.skipIf(!document)(
    `the adapter's account-info, address-book, import, status and report-faults calls all conform${absent}`,
    async () => {
      const adapter = createDotdigitalAdapter({ polling: { firstDelayMs: 10, maxDelayMs: 20 } });
      const call = {
        settings: { region: 'auto' },
        secrets: { username: 'apiuser@apiconnector.com', password: 'pw' },
        details: { addressBookId: 12 },
        apiOrigin: simulator.url,
      } as DestinationCall<any, any, any>;
      const { requests } = await recordRequests(async () => {
        expect(await adapter.testConnection(call)).toEqual({ ok: true });
        const details = await adapter.prepareRun!(call, {
          segments: [segment],
          segmentNames: [segment.name],
          mappedFields: ['email', 'firstName'],
        });
        expect(await adapter.sendBatch({ ...call, details }, members)).toEqual({ succeeded: 2, failures: [] });
      });
      const routes = new Set(
        requests.map((request) => `${request.method} ${new URL(request.url).pathname.replace(/\/[0-9a-f-]{36}/, '/{importId}')}`),
      );
      expect(routes).toEqual(
        new Set([
          'GET /v2/account-info',
          'GET /v2/address-books/12',
          'POST /v2/address-books/12/contacts/import/with-merge-option/OnlyOverwriteIfNotEmpty',
          'GET /v2/contacts/import/{importId}',
          'GET /v2/contacts/import/{importId}/report-faults',
        ]),
      );
      expect(departures(document!, requests)).toEqual({});
    },
  );

  it.skipIf(!document)(
    `refuses shapes outside the document: a multipart upload, an extra body field, an unknown merge option, a text address book id${absent}`,
    () => {
      const document_ = document!;
      const url = 'https://r1-api.dotdigital.com/v2/address-books/12/contacts/import/with-merge-option/OnlyOverwriteIfNotEmpty';
      const media = toFileMedia(Buffer.from('Email\r\na@outflow.dev\r\n'), 'a.csv');
      expect(document_.check({ method: 'POST', url, contentType: 'application/json', body: media })).toEqual([]);
      expect(document_.check({ method: 'POST', url, contentType: 'multipart/form-data; boundary=x', body: '--x\r\n' }).join()).toContain(
        "content type 'multipart/form-data'",
      );
      expect(
        document_.check({ method: 'POST', url, contentType: 'application/json', body: { ...media, mergeOption: 'Overwrite' } }).join(),
      ).toContain("'mergeOption'");
      expect(
        document_
          .check({ method: 'POST', url: url.replace('OnlyOverwriteIfNotEmpty', 'Sometimes'), contentType: 'application/json', body: media })
          .join(),
      ).toContain('mergeOption must be one of');
      expect(document_.check({ method: 'GET', url: 'https://r1-api.dotdigital.com/v2/address-books/newsletter' }).join()).toContain(
        'must be an integer',
      );
      expect(document_.check({ method: 'DELETE', url: 'https://r1-api.dotdigital.com/v2/account-info' }).join()).toContain(
        'is not an operation',
      );
    },
  );
});

/** The request schemas Iterable's official client publishes, by "METHOD path": the body's, or the
 *  query's for a GET. Zod objects drop keys they do not name, so a request conforms only when
 *  parsing it gives back exactly what was sent. */
// Typed by what is used: @iterable/api brings its own copy of zod.
interface RequestSchema {
  safeParse(
    value: unknown,
  ): { success: true; data: unknown } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}
const iterableRequestSchemas: Record<string, RequestSchema> = {
  'GET /api/lists': GetListsParamsSchema,
  'POST /api/lists': CreateListParamsSchema,
  'POST /api/lists/subscribe': SubscribeToListParamsSchema,
};

function iterableDepartures(request: RecordedRequest): string[] {
  const url = new URL(request.url);
  const schema = iterableRequestSchemas[`${request.method} ${url.pathname}`];
  if (!schema) return [`${request.method} ${url.pathname} is not an operation @iterable/api describes here`];
  const sent = request.method === 'GET' ? Object.fromEntries(url.searchParams) : request.body;
  const parsed = schema.safeParse(sent);
  if (!parsed.success) return parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`);
  return JSON.stringify(parsed.data) === JSON.stringify(sent)
    ? []
    : [`fields @iterable/api does not name: sent ${JSON.stringify(sent)}, it knows ${JSON.stringify(parsed.data)}`];
}

describe("Iterable's request schemas (@iterable/api)", () => {
  let simulator: IterableSimulator;
  beforeAll(async () => {
    simulator = await startIterableSimulator({ apiKeys: ['it-key'], rateLimit: false });
  });
  afterAll(async () => simulator?.stop());

  it("the adapter's list read, list creation and subscribe calls all conform", async () => {
    const call = { settings: { region: 'US' }, secrets: { apiKey: 'it-key' }, details: {}, apiOrigin: simulator.url } as DestinationCall<
      any,
      any,
      any
    >;
    const { requests } = await recordRequests(async () => {
      expect(await iterable.testConnection(call)).toEqual({ ok: true });
      const details = await iterable.prepareRun!(call, {
        segments: [segment],
        segmentNames: [segment.name],
        mappedFields: Object.keys(members[0]!.fields),
      });
      expect(await iterable.sendBatch({ ...call, details, segment }, members)).toEqual({ succeeded: 2, failures: [] });
    });
    expect(new Set(requests.map((request) => `${request.method} ${new URL(request.url).pathname}`))).toEqual(
      new Set(['GET /api/lists', 'POST /api/lists', 'POST /api/lists/subscribe']),
    );
    expect(
      Object.fromEntries(
        requests
          .map((request) => [`${request.method} ${request.url}`, iterableDepartures(request)])
          .filter(([, errors]) => errors!.length > 0),
      ),
    ).toEqual({});
  });

  it('refuses shapes outside the schemas: a subscriber field they do not name, a text list id, no list id, a bad email, an unknown route', () => {
    const url = 'https://api.iterable.com/api/lists/subscribe';
    const check = (body: unknown, at = url) =>
      iterableDepartures({ method: 'POST', url: at, contentType: 'application/json', body }).join();
    expect(check({ listId: 1, subscribers: [{ email: 'a@outflow.dev', dataFields: { firstName: 'A' } }] })).toBe('');
    expect(check({ listId: 1, subscribers: [{ email: 'a@outflow.dev', fields: {} }] })).toContain('fields @iterable/api does not name');
    expect(check({ listId: '1', subscribers: [] })).toContain('listId');
    expect(check({ subscribers: [] })).toContain('listId');
    expect(check({ listId: 1, subscribers: [{ email: 'not-an-email' }] })).toContain('subscribers.0.email');
    expect(check({ listId: 1, subscribers: [] }, 'https://api.iterable.com/api/subscribers')).toContain('is not an operation');
  });
});

describe("Mailchimp's Marketing API document (marketing.json)", () => {
  const { document, absent } = vendorDocument(
    'mailchimp-marketing.json',
    'iimrudy/mailchimp api/swagger.yaml at df56c16 (as JSON, with status_if_new added to batch members)',
  );
  const apiKey = '0123456789abcdef0123456789abcdef-us6';
  let simulator: MailchimpSimulator;
  beforeAll(async () => {
    if (!document) return;
    simulator = await startMailchimpSimulator({ apiKeys: [apiKey], lists: ['aud-contract'] });
  });
  afterAll(async () => simulator?.stop());

  it.skipIf(!document)(
    `the adapter's ping, audience read, merge-field read and creation, and batch subscribe all conform${absent}`,
    async () => {
      const requests = await mailchimpAdapterRequests(simulator.url, apiKey, segment, members);
      expect(departures(document!, requests)).toEqual({});
    },
  );

  it.skipIf(!document)(
    `refuses shapes outside the document: an unknown status, a member field it does not name, a query it does not declare, PUT on the audience${absent}`,
    () => {
      const document_ = document!;
      const url = 'https://us6.api.mailchimp.com/3.0/lists/aud1?skip_merge_validation=true';
      const member = { email_address: 'a@outflow.dev', status_if_new: 'subscribed', merge_fields: { FNAME: 'A' } };
      expect(
        document_.check({ method: 'POST', url, contentType: 'application/json', body: { members: [member], update_existing: true } }),
      ).toEqual([]);
      expect(
        document_
          .check({ method: 'POST', url, contentType: 'application/json', body: { members: [{ ...member, status_if_new: 'active' }] } })
          .join(),
      ).toContain('must be equal to one of the allowed values');
      expect(
        document_
          .check({ method: 'POST', url, contentType: 'application/json', body: { members: [{ ...member, tags_to_add: ['x'] }] } })
          .join(),
      ).toContain("'tags_to_add'");
      expect(
        document_
          .check({ method: 'POST', url: `${url}&dry_run=true`, contentType: 'application/json', body: { members: [member] } })
          .join(),
      ).toContain("query parameter 'dry_run'");
      expect(document_.check({ method: 'PUT', url, contentType: 'application/json', body: { members: [member] } }).join()).toContain(
        'is not an operation',
      );
    },
  );
});
