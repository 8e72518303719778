// Table of Mailchimp cases: mapped member → batch member JSON, and vendor answer → BatchResult.
// Answer shapes follow the official SDK's BatchSubscribeOrUnsubscribeListsResponse; the error
// texts are the vendor's as quoted in public issues (see shared/destinations/mailchimp.ts).
import type { BatchResult, MappedMember } from '../../shared/destinations/destination.js';
import type { MailchimpMember, ToMemberOptions } from '../../shared/destinations/mailchimp.js';

export interface MemberCase {
  name: string;
  member: MappedMember;
  options?: ToMemberOptions;
  expected: MailchimpMember;
}

export interface BatchResultCase {
  name: string;
  body: unknown;
  expected: BatchResult;
}

export const memberCases: MemberCase[] = [
  {
    name: 'email only: no merge_fields at all, subscribed if new',
    member: { email: 'ada@lovelace.dev', fields: {} },
    expected: { email_address: 'ada@lovelace.dev', status_if_new: 'subscribed' },
  },
  {
    name: 'first and last name go to FNAME and LNAME',
    member: { email: 'ada@lovelace.dev', fields: { firstName: 'Ada', lastName: 'Lovelace' } },
    expected: { email_address: 'ada@lovelace.dev', status_if_new: 'subscribed', merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' } },
  },
  {
    name: 'every mapped field has its default tag; values are trimmed',
    member: {
      email: 'ada@lovelace.dev',
      fields: {
        fullName: ' Augusta Ada King ',
        gender: 'Female',
        postalCode: 'W1 1AA',
        city: 'London',
        country: 'GB',
        phone: '+44 20 7946 0000',
      },
    },
    expected: {
      email_address: 'ada@lovelace.dev',
      status_if_new: 'subscribed',
      merge_fields: {
        FULLNAME: 'Augusta Ada King',
        GENDER: 'Female',
        POSTCODE: 'W1 1AA',
        CITY: 'London',
        COUNTRY: 'GB',
        PHONE: '+44 20 7946 0000',
      },
    },
  },
  {
    name: 'empty values are left out so existing data is not blanked',
    member: { email: 'ada@lovelace.dev', fields: { firstName: 'Ada', lastName: '  ', city: '' } },
    expected: { email_address: 'ada@lovelace.dev', status_if_new: 'subscribed', merge_fields: { FNAME: 'Ada' } },
  },
  {
    name: 'tags found by prepareRun are used, and the export status for new people',
    member: { email: 'ada@lovelace.dev', fields: { city: 'London', postalCode: 'W1' } },
    options: { mergeTags: { city: 'MMERGE7', postalCode: 'POSTCODE' }, statusIfNew: 'transactional' },
    expected: { email_address: 'ada@lovelace.dev', status_if_new: 'transactional', merge_fields: { POSTCODE: 'W1', MMERGE7: 'London' } },
  },
  {
    name: 'pending for double opt-in audiences',
    member: { email: 'ada@lovelace.dev', fields: {} },
    options: { statusIfNew: 'pending' },
    expected: { email_address: 'ada@lovelace.dev', status_if_new: 'pending' },
  },
  {
    name: 'fields that are not data-matching fields are not sent',
    member: { email: 'ada@lovelace.dev', fields: { loyaltyTier: 'gold' } },
    expected: { email_address: 'ada@lovelace.dev', status_if_new: 'subscribed' },
  },
];

export const batchResultCases: BatchResultCase[] = [
  {
    name: 'all created',
    body: { new_members: [{}, {}, {}], updated_members: [], errors: [], total_created: 3, total_updated: 0, error_count: 0, _links: [] },
    expected: { succeeded: 3, failures: [] },
  },
  {
    name: 'created and updated both count as succeeded',
    body: { new_members: [{}, {}], updated_members: [{}, {}, {}], errors: [], total_created: 2, total_updated: 3, error_count: 0 },
    expected: { succeeded: 5, failures: [] },
  },
  {
    name: 'totals missing: the member arrays are counted',
    body: { new_members: [{}], updated_members: [{}, {}], errors: [] },
    expected: { succeeded: 3, failures: [] },
  },
  {
    name: 'per-member errors become failures with the vendor code and message; emails lower-cased',
    body: {
      new_members: [{}],
      updated_members: [],
      errors: [
        {
          email_address: 'Fake@Example.com',
          error: 'Fake@Example.com looks fake or invalid, please enter a real email address.',
          error_code: 'ERROR_GENERIC',
        },
        {
          email_address: 'ada@lovelace.dev',
          error: 'ada@lovelace.dev is already a list member. Use PUT to insert or update list members.',
          error_code: 'ERROR_CONTACT_EXISTS',
        },
      ],
      total_created: 1,
      total_updated: 0,
      error_count: 2,
    },
    expected: {
      succeeded: 1,
      failures: [
        {
          email: 'fake@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'ERROR_GENERIC',
          message: 'Fake@Example.com looks fake or invalid, please enter a real email address.',
        },
        {
          email: 'ada@lovelace.dev',
          status: 'failed',
          category: 'invalidRecord',
          code: 'ERROR_CONTACT_EXISTS',
          message: 'ada@lovelace.dev is already a list member. Use PUT to insert or update list members.',
        },
      ],
    },
  },
  {
    name: 'field details are added to the message',
    body: {
      errors: [
        {
          email_address: 'ada@lovelace.dev',
          error: 'Your merge fields were invalid.',
          error_code: 'ERROR_GENERIC',
          field: 'ADDRESS',
          field_message: 'Please enter a complete address',
        },
      ],
      total_created: 0,
      total_updated: 0,
      error_count: 1,
    },
    expected: {
      succeeded: 0,
      failures: [
        {
          email: 'ada@lovelace.dev',
          status: 'failed',
          category: 'invalidRecord',
          code: 'ERROR_GENERIC',
          message: 'Your merge fields were invalid. (ADDRESS: Please enter a complete address)',
        },
      ],
    },
  },
  {
    name: 'people the vendor will not add by their own choice are skipped, not failed',
    body: {
      errors: [
        {
          email_address: 'gone@lovelace.dev',
          error: 'gone@lovelace.dev is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.',
          error_code: 'ERROR_GENERIC',
        },
        {
          email_address: 'deleted@lovelace.dev',
          error:
            'deleted@lovelace.dev was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.',
          error_code: 'ERROR_GENERIC',
        },
      ],
      total_created: 0,
      total_updated: 0,
      error_count: 2,
    },
    expected: {
      succeeded: 0,
      failures: [
        {
          email: 'gone@lovelace.dev',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'ERROR_GENERIC',
          message: 'gone@lovelace.dev is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.',
        },
        {
          email: 'deleted@lovelace.dev',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'ERROR_GENERIC',
          message:
            'deleted@lovelace.dev was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.',
        },
      ],
    },
  },
  {
    name: 'an error without text or code still names the member',
    body: { errors: [{ email_address: 'x@lovelace.dev' }], total_created: 0, total_updated: 0, error_count: 1 },
    expected: {
      succeeded: 0,
      failures: [
        {
          email: 'x@lovelace.dev',
          status: 'failed',
          category: 'invalidRecord',
          code: 'ERROR_GENERIC',
          message: 'Mailchimp rejected the member (no code)',
        },
      ],
    },
  },
];

/** Bodies fromBatchResult must refuse: whole-call errors are not results. */
export const notBatchResults: { name: string; body: unknown }[] = [
  {
    name: 'a problem document (429 TooManyRequests)',
    body: {
      type: 'https://mailchimp.com/developer/marketing/docs/errors/',
      title: 'TooManyRequests',
      status: 429,
      detail: 'You have exceeded the limit of 10 simultaneous connections.',
      instance: 'x',
    },
  },
  { name: 'an empty object', body: {} },
  { name: 'an HTML error page from the CDN', body: '<html>502 Bad Gateway</html>' },
];
