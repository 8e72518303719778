// Table of LinkedIn cases: mapped member → users/companies element JSON, and the batch answer →
// BatchResult. Answer shapes follow Rest.li BATCH_CREATE as Segment's linkedin-audiences integration
// reads them ({elements: [{status, id?, error?: {message, status}}]}, one per element, in order).
import type { BatchResult, MappedMember } from '../../shared/destinations/destination.js';
import type { LinkedinCompanyElement, LinkedinUserElement } from '../../shared/destinations/linkedin.js';

/** sha256('ada@example.com'), computed independently (`printf %s ada@example.com | sha256sum`). */
export const ADA_SHA256 = 'b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72';

export interface UserElementCase {
  name: string;
  member: MappedMember;
  expected: LinkedinUserElement;
}

export interface CompanyElementCase {
  name: string;
  member: MappedMember;
  expected: LinkedinCompanyElement | undefined;
}

export interface BatchResultCase {
  name: string;
  body: unknown;
  identities: string[];
  expected: BatchResult;
}

const ada = (idValue = ADA_SHA256) => [{ idType: 'SHA256_EMAIL' as const, idValue }];

export const userElementCases: UserElementCase[] = [
  {
    name: 'email only: the SHA-256 of the email, nothing else',
    member: { email: 'ada@example.com', fields: {} },
    expected: { action: 'ADD', userIds: ada() },
  },
  {
    name: 'the email is trimmed and lower-cased before hashing',
    member: { email: '  Ada@Example.COM ', fields: {} },
    expected: { action: 'ADD', userIds: ada() },
  },
  {
    name: 'names, title, employer and a two-letter country are sent as they are (trimmed)',
    member: {
      email: 'ada@example.com',
      fields: { firstName: ' Ada ', lastName: 'Lovelace', title: 'Analyst', company: 'Analytical Engines Ltd', country: 'gb' },
    },
    expected: {
      action: 'ADD',
      userIds: ada(),
      firstName: 'Ada',
      lastName: 'Lovelace',
      title: 'Analyst',
      company: 'Analytical Engines Ltd',
      country: 'GB',
    },
  },
  {
    name: 'an English country name becomes its ISO code',
    member: { email: 'ada@example.com', fields: { country: 'Norway' } },
    expected: { action: 'ADD', userIds: ada(), country: 'NO' },
  },
  {
    name: 'UK, a reserved code, becomes GB',
    member: { email: 'ada@example.com', fields: { country: 'uk' } },
    expected: { action: 'ADD', userIds: ada(), country: 'GB' },
  },
  {
    name: 'a country LinkedIn could not read is left out, not sent',
    member: { email: 'ada@example.com', fields: { country: 'Middle-earth' } },
    expected: { action: 'ADD', userIds: ada() },
  },
  {
    name: 'values over the documented lengths are cut (35 for names, 50 for title and company)',
    member: {
      email: 'ada@example.com',
      fields: { firstName: 'A'.repeat(40), lastName: 'L'.repeat(36), title: 'T'.repeat(60), company: 'C'.repeat(51) },
    },
    expected: {
      action: 'ADD',
      userIds: ada(),
      firstName: 'A'.repeat(35),
      lastName: 'L'.repeat(35),
      title: 'T'.repeat(50),
      company: 'C'.repeat(50),
    },
  },
  {
    name: 'cutting never splits a surrogate pair',
    member: { email: 'ada@example.com', fields: { firstName: `${'x'.repeat(34)}😀` } },
    expected: { action: 'ADD', userIds: ada(), firstName: 'x'.repeat(34) },
  },
  {
    name: 'empty values and fields of company lists are not sent',
    member: { email: 'ada@example.com', fields: { firstName: '  ', companyName: 'Acme', companyWebsiteDomain: 'acme.com' } },
    expected: { action: 'ADD', userIds: ada() },
  },
];

export const companyElementCases: CompanyElementCase[] = [
  {
    name: 'a name alone',
    member: { email: 'acct-1', fields: { companyName: 'Nordlys Energy AS' } },
    expected: { action: 'ADD', companyName: 'Nordlys Energy AS' },
  },
  {
    name: 'a website URL is reduced to its lower-cased host without www',
    member: { email: 'acct-2', fields: { companyName: 'Acme', companyWebsiteDomain: 'https://www.Acme.com/about?x=1' } },
    expected: { action: 'ADD', companyName: 'Acme', companyWebsiteDomain: 'acme.com' },
  },
  {
    name: 'an email address gives the email domain; a numeric ID becomes an organization URN',
    member: { email: 'acct-3', fields: { companyName: 'Acme', companyEmailDomain: 'sales@acme.co.uk', organizationUrn: '1035' } },
    expected: { action: 'ADD', companyName: 'Acme', companyEmailDomain: 'acme.co.uk', organizationUrn: 'urn:li:organization:1035' },
  },
  {
    name: 'an organization URN in another case is normalised; a page URL is kept',
    member: {
      email: 'acct-4',
      fields: { companyName: 'Acme', organizationUrn: 'URN:LI:ORGANIZATION:1035', companyPageUrl: 'https://www.linkedin.com/company/acme' },
    },
    expected: {
      action: 'ADD',
      companyName: 'Acme',
      organizationUrn: 'urn:li:organization:1035',
      companyPageUrl: 'https://www.linkedin.com/company/acme',
    },
  },
  {
    name: 'values LinkedIn could not read are left out',
    member: {
      email: 'acct-5',
      fields: {
        companyName: 'Acme',
        companyWebsiteDomain: 'not a domain',
        organizationUrn: 'acme',
        companyPageUrl: 'linkedin.com/company/acme',
      },
    },
    expected: { action: 'ADD', companyName: 'Acme' },
  },
  {
    name: "a page URL over the company schema's 100 characters is left out",
    member: {
      email: 'acct-7',
      fields: {
        companyName: 'Acme',
        companyPageUrl: `https://www.linkedin.com/company/${'a'.repeat(101 - 'https://www.linkedin.com/company/'.length)}`,
      },
    },
    expected: { action: 'ADD', companyName: 'Acme' },
  },
  {
    name: 'a page URL of exactly 100 characters is kept',
    member: {
      email: 'acct-8',
      fields: {
        companyName: 'Acme',
        companyPageUrl: `https://www.linkedin.com/company/${'a'.repeat(100 - 'https://www.linkedin.com/company/'.length)}`,
      },
    },
    expected: {
      action: 'ADD',
      companyName: 'Acme',
      companyPageUrl: `https://www.linkedin.com/company/${'a'.repeat(100 - 'https://www.linkedin.com/company/'.length)}`,
    },
  },
  {
    name: 'without a company name there is no element',
    member: { email: 'acct-6', fields: { companyName: ' ', companyWebsiteDomain: 'acme.com' } },
    expected: undefined,
  },
];

export const batchResultCases: BatchResultCase[] = [
  {
    name: 'every element created',
    body: { elements: [{ status: 201 }, { status: 201 }, { status: 201 }, { status: 201 }] },
    identities: ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io'],
    expected: { succeeded: 4, failures: [] },
  },
  {
    name: 'a refused element inside a 200 becomes a per-record failure with the vendor message',
    body: {
      elements: [
        { status: 201 },
        { status: 400, error: { status: 400, message: 'SHA256_EMAIL must be a hex encoded SHA-256 hash (64 characters)' } },
        { status: 201 },
      ],
    },
    identities: ['a@x.io', 'b@x.io', 'c@x.io'],
    expected: {
      succeeded: 2,
      failures: [
        {
          email: 'b@x.io',
          status: 'failed',
          category: 'invalidRecord',
          code: '400',
          message: 'SHA256_EMAIL must be a hex encoded SHA-256 hash (64 characters)',
        },
      ],
    },
  },
  {
    name: 'the vendor code is kept when the error has one; a bare status gets a plain message',
    body: {
      elements: [
        { status: 422, error: { code: 'INVALID_VALUE', message: 'country must be an ISO 3166 two-letter code' } },
        { status: 400 },
      ],
    },
    identities: ['a@x.io', 'b@x.io'],
    expected: {
      succeeded: 0,
      failures: [
        {
          email: 'a@x.io',
          status: 'failed',
          category: 'invalidRecord',
          code: 'INVALID_VALUE',
          message: 'country must be an ISO 3166 two-letter code',
        },
        { email: 'b@x.io', status: 'failed', category: 'invalidRecord', code: '400', message: 'LinkedIn refused the element (status 400)' },
      ],
    },
  },
  {
    name: "an element failing on LinkedIn's side is reported as vendorUnavailable, not as bad data",
    body: {
      elements: [
        { status: 201, id: 'x' },
        { status: 500, error: { message: 'Internal error' } },
      ],
    },
    identities: ['acct-1', 'acct-2'],
    expected: {
      succeeded: 1,
      failures: [{ email: 'acct-2', status: 'failed', category: 'vendorUnavailable', code: '500', message: 'Internal error' }],
    },
  },
];

export const notBatchResults: { name: string; body: unknown; identities: string[] }[] = [
  { name: 'a body without elements', body: { status: 200 }, identities: ['a@x.io'] },
  { name: 'fewer results than elements sent', body: { elements: [{ status: 201 }] }, identities: ['a@x.io', 'b@x.io'] },
  { name: 'a text body', body: 'OK', identities: ['a@x.io'] },
];
