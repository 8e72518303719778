// Table of Campaign Monitor cases: mapped member → subscriber JSON, and vendor answer → BatchResult.
// Vendor answers are the official clients' fixtures (createsend-ruby test/fixtures) or built from them.
import type { BatchResult, MappedMember } from '../../shared/destinations/destination.js';
import type { CampaignMonitorSubscriber, ToSubscriberOptions } from '../../shared/destinations/campaignMonitor.js';

export interface SubscriberCase {
  name: string;
  member: MappedMember;
  options?: ToSubscriberOptions;
  expected: CampaignMonitorSubscriber;
}

export interface ImportResultCase {
  name: string;
  body: unknown;
  expected: BatchResult;
}

export const subscriberCases: SubscriberCase[] = [
  {
    name: 'email only: no Name, no custom fields, consent left unchanged',
    member: { email: 'ada@example.com', fields: {} },
    expected: { EmailAddress: 'ada@example.com', CustomFields: [], ConsentToTrack: 'Unchanged' },
  },
  {
    name: 'first and last name make Name',
    member: { email: 'ada@example.com', fields: { firstName: 'Ada', lastName: 'Lovelace' } },
    expected: { EmailAddress: 'ada@example.com', Name: 'Ada Lovelace', CustomFields: [], ConsentToTrack: 'Unchanged' },
  },
  {
    name: 'full name wins over first and last name',
    member: { email: 'ada@example.com', fields: { fullName: 'Augusta Ada King', firstName: 'Ada', lastName: 'Lovelace' } },
    expected: { EmailAddress: 'ada@example.com', Name: 'Augusta Ada King', CustomFields: [], ConsentToTrack: 'Unchanged' },
  },
  {
    name: 'only a last name',
    member: { email: 'ada@example.com', fields: { lastName: ' Lovelace ' } },
    expected: { EmailAddress: 'ada@example.com', Name: 'Lovelace', CustomFields: [], ConsentToTrack: 'Unchanged' },
  },
  {
    name: 'custom fields use default tags, in a fixed order; empty values are left out',
    member: {
      email: 'ada@example.com',
      fields: { phone: '+44 20 7946 0000', city: 'London', gender: 'female', postalCode: 'W1', country: '  ' },
    },
    expected: {
      EmailAddress: 'ada@example.com',
      CustomFields: [
        { Key: '[Gender]', Value: 'female' },
        { Key: '[PostalCode]', Value: 'W1' },
        { Key: '[City]', Value: 'London' },
        { Key: '[Phone]', Value: '+44 20 7946 0000' },
      ],
      ConsentToTrack: 'Unchanged',
    },
  },
  {
    name: 'tags found by prepareRun are used, and the export consent setting is sent',
    member: { email: 'ada@example.com', fields: { postalCode: 'W1', country: 'GB' } },
    options: { customFieldKeys: { postalCode: '[Postcode]' }, consentToTrack: 'Yes' },
    expected: {
      EmailAddress: 'ada@example.com',
      CustomFields: [
        { Key: '[Postcode]', Value: 'W1' },
        { Key: '[Country]', Value: 'GB' },
      ],
      ConsentToTrack: 'Yes',
    },
  },
  {
    name: 'values over 250 characters are cut to 250',
    member: { email: 'ada@example.com', fields: { city: 'x'.repeat(300) } },
    expected: { EmailAddress: 'ada@example.com', CustomFields: [{ Key: '[City]', Value: 'x'.repeat(250) }], ConsentToTrack: 'Unchanged' },
  },
  {
    name: 'cutting never splits a surrogate pair',
    member: { email: 'ada@example.com', fields: { city: `${'x'.repeat(249)}😀tail` } },
    expected: { EmailAddress: 'ada@example.com', CustomFields: [{ Key: '[City]', Value: 'x'.repeat(249) }], ConsentToTrack: 'Unchanged' },
  },
  {
    name: 'fields that are not data-matching fields are not sent',
    member: { email: 'ada@example.com', fields: { loyaltyTier: 'gold' } },
    expected: { EmailAddress: 'ada@example.com', CustomFields: [], ConsentToTrack: 'Unchanged' },
  },
];

export const importResultCases: ImportResultCase[] = [
  {
    name: 'full success (createsend-ruby import_subscribers.json)',
    body: {
      FailureDetails: [],
      TotalUniqueEmailsSubmitted: 3,
      TotalExistingSubscribers: 0,
      TotalNewSubscribers: 3,
      DuplicateEmailsInSubmission: [],
    },
    expected: { succeeded: 3, failures: [] },
  },
  {
    name: 'partial failure, 400 Code 210 (createsend-ruby import_subscribers_partial_success.json)',
    body: {
      ResultData: {
        TotalUniqueEmailsSubmitted: 3,
        TotalExistingSubscribers: 2,
        TotalNewSubscribers: 0,
        DuplicateEmailsInSubmission: [],
        FailureDetails: [{ EmailAddress: 'example+1@example', Code: 1, Message: 'Invalid Email Address' }],
      },
      Code: 210,
      Message: 'Subscriber Import had some failures',
    },
    expected: {
      succeeded: 2,
      failures: [{ email: 'example+1@example', status: 'failed', category: 'invalidRecord', code: '1', message: 'Invalid Email Address' }],
    },
  },
  {
    name: 'existing and new subscribers both count as succeeded',
    body: {
      FailureDetails: null,
      TotalUniqueEmailsSubmitted: 5,
      TotalExistingSubscribers: 2,
      TotalNewSubscribers: 3,
      DuplicateEmailsInSubmission: null,
    },
    expected: { succeeded: 5, failures: [] },
  },
  {
    name: 'suppressed or unsubscribed addresses are skipped, not failed; emails are lower-cased',
    body: {
      ResultData: {
        TotalUniqueEmailsSubmitted: 3,
        TotalExistingSubscribers: 0,
        TotalNewSubscribers: 1,
        DuplicateEmailsInSubmission: [],
        FailureDetails: [
          { EmailAddress: 'Gone@Example.com', Code: 206, Message: 'Is Unsubscribed' },
          { EmailAddress: 'blocked@example.com', Code: 204, Message: 'In Suppression List' },
        ],
      },
      Code: 210,
      Message: 'Subscriber Import had some failures',
    },
    expected: {
      succeeded: 1,
      failures: [
        { email: 'gone@example.com', status: 'skipped', category: 'invalidRecord', code: '206', message: 'Is Unsubscribed' },
        { email: 'blocked@example.com', status: 'skipped', category: 'invalidRecord', code: '204', message: 'In Suppression List' },
      ],
    },
  },
  {
    name: 'a failure without a message gets one from its code',
    body: {
      ResultData: {
        TotalUniqueEmailsSubmitted: 1,
        TotalExistingSubscribers: 0,
        TotalNewSubscribers: 0,
        FailureDetails: [{ EmailAddress: 'x@example.com', Code: 215 }],
      },
      Code: 210,
      Message: 'Subscriber Import had some failures',
    },
    expected: {
      succeeded: 0,
      failures: [
        { email: 'x@example.com', status: 'failed', category: 'invalidRecord', code: '215', message: 'Campaign Monitor error 215' },
      ],
    },
  },
];

/** Bodies fromImportResult must refuse: whole-call errors are not results. */
export const notImportResults: { name: string; body: unknown }[] = [
  {
    name: 'too many subscribers (209)',
    body: { Code: 209, Message: 'Too many subscribers in this batch. You can only add 1000 subscribers in one call' },
  },
  { name: 'a custom API error (createsend-ruby custom_api_error.json)', body: { Code: 98798, Message: 'A crazy API error' } },
  { name: 'an HTML error page', body: '<html>Bad gateway</html>' },
];
