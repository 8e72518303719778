// Table of Iterable cases: mapped member → subscriber JSON, and vendor answer → BatchResult.
// Answer shapes follow Iterable's OpenAPI document (UserBulkUpdateListResponse, FailedUserUpdates in
// Iterable/api-client api-docs.json) and answers recorded from the live API by public integrations.
import type { BatchResult, MappedMember } from '../../shared/destinations/destination.js';
import type { IterableSubscriber } from '../../shared/destinations/iterable.js';

export interface SubscriberCase {
  name: string;
  member: MappedMember;
  expected: IterableSubscriber;
}

export interface SubscribeResultCase {
  name: string;
  body: unknown;
  expected: BatchResult;
}

const noFailedUpdates = {
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
};

export const subscriberCases: SubscriberCase[] = [
  {
    name: 'email only: no dataFields at all',
    member: { email: 'ada@example.com', fields: {} },
    expected: { email: 'ada@example.com' },
  },
  {
    name: 'names go to firstName, lastName and fullName',
    member: { email: 'ada@example.com', fields: { firstName: 'Ada', lastName: 'Lovelace', fullName: 'Ada Lovelace' } },
    expected: { email: 'ada@example.com', dataFields: { firstName: 'Ada', lastName: 'Lovelace', fullName: 'Ada Lovelace' } },
  },
  {
    name: 'every mapped field in a fixed order, values trimmed, empty values left out',
    member: {
      email: 'ada@example.com',
      fields: { country: ' GB ', city: 'London', postalCode: 'W1 1AA', gender: 'Female', lastName: '  ' },
    },
    expected: { email: 'ada@example.com', dataFields: { gender: 'Female', postalCode: 'W1 1AA', city: 'London', country: 'GB' } },
  },
  {
    name: 'postal codes stay text even when they look like numbers',
    member: { email: 'ada@example.com', fields: { postalCode: '0150' } },
    expected: { email: 'ada@example.com', dataFields: { postalCode: '0150' } },
  },
  {
    name: 'a phone with spaces becomes an E.164 phoneNumber',
    member: { email: 'ola@example.no', fields: { phone: '+47 912 34 567' } },
    expected: { email: 'ola@example.no', dataFields: { phoneNumber: '+4791234567' } },
  },
  {
    name: 'dashes, dots and brackets are ignored in a phone',
    member: { email: 'ada@example.com', fields: { phone: '+1 (415) 555-26.71' } },
    expected: { email: 'ada@example.com', dataFields: { phoneNumber: '+14155552671' } },
  },
  {
    name: 'a phone that is not E.164 is left out rather than risk the user',
    member: { email: 'ada@example.com', fields: { phone: '020 7946 0000', city: 'London' } },
    expected: { email: 'ada@example.com', dataFields: { city: 'London' } },
  },
  {
    name: 'fields that are not data-matching fields are not sent',
    member: { email: 'ada@example.com', fields: { loyaltyTier: 'Gold' } },
    expected: { email: 'ada@example.com' },
  },
];

export const subscribeResultCases: SubscribeResultCase[] = [
  {
    name: 'full success, older answer shape (recorded: grouparoo iterable plugin fixtures)',
    body: { successCount: 1, failCount: 0, invalidEmails: [], invalidUserIds: [] },
    expected: { succeeded: 1, failures: [] },
  },
  {
    name: 'full success with an empty failedUpdates',
    body: { successCount: 2, failCount: 0, failedUpdates: noFailedUpdates, createdFields: ['firstName'], filteredOutFields: [] },
    expected: { succeeded: 2, failures: [] },
  },
  {
    name: 'an invalid email in failedUpdates is a failed record',
    body: { successCount: 1, failCount: 1, failedUpdates: { ...noFailedUpdates, invalidEmails: ['bad@example'] } },
    expected: {
      succeeded: 1,
      failures: [
        {
          email: 'bad@example',
          status: 'failed',
          category: 'invalidRecord',
          code: 'invalidEmail',
          message: 'Iterable refused the email address as malformed.',
        },
      ],
    },
  },
  {
    name: 'the deprecated top-level invalidEmails alone is read too, lower-cased',
    body: { successCount: 0, failCount: 1, invalidEmails: ['Bad@Example'], invalidUserIds: [] },
    expected: {
      succeeded: 0,
      failures: [
        {
          email: 'bad@example',
          status: 'failed',
          category: 'invalidRecord',
          code: 'invalidEmail',
          message: 'Iterable refused the email address as malformed.',
        },
      ],
    },
  },
  {
    name: 'an email in both the deprecated and the new list is reported once',
    body: {
      successCount: 3,
      failCount: 1,
      invalidEmails: ['bad@example'],
      failedUpdates: { ...noFailedUpdates, invalidEmails: ['bad@example'] },
    },
    expected: {
      succeeded: 3,
      failures: [
        {
          email: 'bad@example',
          status: 'failed',
          category: 'invalidRecord',
          code: 'invalidEmail',
          message: 'Iterable refused the email address as malformed.',
        },
      ],
    },
  },
  {
    name: 'every failedUpdates kind: data errors fail, forgotten and unknown users are skipped',
    body: {
      successCount: 2,
      failCount: 5,
      failedUpdates: {
        ...noFailedUpdates,
        forgottenEmails: ['gone@example.com'],
        notFoundEmails: ['new@example.com'],
        conflictEmails: ['taken@example.com'],
        invalidDataEmails: ['baddata@example.com'],
        invalidEmails: ['invalid@example'],
        conflictUserIds: ['user-1'],
      },
    },
    expected: {
      succeeded: 2,
      failures: [
        {
          email: 'invalid@example',
          status: 'failed',
          category: 'invalidRecord',
          code: 'invalidEmail',
          message: 'Iterable refused the email address as malformed.',
        },
        {
          email: 'baddata@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'invalidData',
          message: "Iterable refused the user's data fields as invalid.",
        },
        {
          email: 'taken@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'conflictEmail',
          message: 'Another Iterable user already holds this email address.',
        },
        {
          email: 'gone@example.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'forgottenUser',
          message: 'The user was forgotten (GDPR) in the Iterable project, so Iterable does not add them again.',
        },
        {
          email: 'new@example.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'userNotFound',
          message: 'The user does not exist in the Iterable project, which only updates existing users.',
        },
      ],
    },
  },
  {
    name: 'failedEmails (modelled by the official client) are failures',
    body: { successCount: 1, failCount: 1, failedUpdates: { ...noFailedUpdates, failedEmails: ['Stuck@Example.com'], failedUserIds: [] } },
    expected: {
      succeeded: 1,
      failures: [
        {
          email: 'stuck@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'failedUpdate',
          message: 'Iterable could not add the user to the list.',
        },
      ],
    },
  },
  {
    name: 'failures counted in failCount but named in no list do not vanish: reported without an email',
    body: {
      successCount: 7,
      failCount: 3,
      failedUpdates: { ...noFailedUpdates, invalidEmails: ['bad@example'], failedUserIds: ['user-9', 'user-10'] },
    },
    expected: {
      succeeded: 7,
      failures: [
        {
          email: 'bad@example',
          status: 'failed',
          category: 'invalidRecord',
          code: 'invalidEmail',
          message: 'Iterable refused the email address as malformed.',
        },
        ...[1, 2].map(() => ({
          email: '',
          status: 'failed' as const,
          category: 'invalidRecord' as const,
          code: 'unnamedFailure',
          message: 'Iterable counted 3 failed users in this call (failCount) but named only 1; the others cannot be told apart.',
        })),
      ],
    },
  },
  {
    name: 'null lists are read as empty',
    body: { successCount: 4, failCount: 0, invalidEmails: null, failedUpdates: null },
    expected: { succeeded: 4, failures: [] },
  },
];

/** Bodies fromSubscribeResult must refuse: whole-call errors are not results. */
export const notSubscribeResults: { name: string; body: unknown }[] = [
  { name: 'a rate-limit answer', body: { msg: 'Exceeded rate limit.', code: 'RateLimitExceeded' } },
  { name: 'a bad-parameters answer', body: { msg: 'Invalid parameters', code: 'BadParams', params: null } },
  { name: 'an HTML error page', body: '<html>Bad gateway</html>' },
];
