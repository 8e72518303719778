// Table of dotdigital cases: mapped members → import CSV, report-faults CSV → BatchResult, account
// info → endpoint, import status → outcome. Vendor texts are the reference samples (email-contacts
// reference "Get contact import report faults") and the reasons the vendor's Magento connector reads.
import type { BatchResult, MappedMember } from '../../shared/destinations/destination.js';
import type { ImportOutcome } from '../../shared/destinations/dotdigital.js';

export interface CsvCase {
  name: string;
  members: MappedMember[];
  expected: string;
}

export interface FaultsCase {
  name: string;
  csv: string;
  memberCount: number;
  expected: BatchResult;
}

export const csvCases: CsvCase[] = [
  {
    name: 'email only: just the Email column',
    members: [{ email: 'ada@example.com', fields: {} }],
    expected: 'Email\r\nada@example.com\r\n',
  },
  {
    name: 'every data field, in the fixed column order',
    members: [
      {
        email: 'ada@example.com',
        fields: { postalCode: 'W1 2AB', gender: 'Female', fullName: 'Ada Lovelace', lastName: 'Lovelace', firstName: 'Ada' },
      },
    ],
    expected: 'Email,FIRSTNAME,LASTNAME,FULLNAME,GENDER,POSTCODE\r\nada@example.com,Ada,Lovelace,Ada Lovelace,Female,W1 2AB\r\n',
  },
  {
    name: 'a column appears when any member fills it; the others leave the cell empty',
    members: [
      { email: 'ada@example.com', fields: { firstName: 'Ada' } },
      { email: 'alan@example.com', fields: { postalCode: 'M13' } },
    ],
    expected: 'Email,FIRSTNAME,POSTCODE\r\nada@example.com,Ada,\r\nalan@example.com,,M13\r\n',
  },
  {
    name: 'RFC 4180 quoting: commas, quotes and line breaks',
    members: [{ email: 'ada@example.com', fields: { fullName: 'Lovelace, Ada "Countess"', lastName: 'Line\nBreak' } }],
    expected: 'Email,LASTNAME,FULLNAME\r\nada@example.com,"Line\nBreak","Lovelace, Ada ""Countess"""\r\n',
  },
  {
    name: 'non-ASCII stays as UTF-8 text; fields that are not data fields are not sent',
    members: [{ email: 'soren@example.dk', fields: { firstName: 'Søren', lastName: 'Ærø', city: 'Odense' } }],
    expected: 'Email,FIRSTNAME,LASTNAME\r\nsoren@example.dk,Søren,Ærø\r\n',
  },
  {
    name: 'blank values count as absent',
    members: [{ email: 'ada@example.com', fields: { firstName: '', gender: 'Female' } }],
    expected: 'Email,GENDER\r\nada@example.com,Female\r\n',
  },
];

export const faultsCases: FaultsCase[] = [
  {
    name: 'header only: every member succeeded',
    csv: 'Reason,email\r\n',
    memberCount: 3,
    expected: { succeeded: 3, failures: [] },
  },
  {
    name: 'empty body: every member succeeded',
    csv: '',
    memberCount: 2,
    expected: { succeeded: 2, failures: [] },
  },
  {
    name: "the vendor's sample: Unsubscribed and Duplicate are skipped, not failed",
    csv: 'Reason,email,firstname,fullname,gender,lastname,postcode\nUnsubscribed,karina.plain@example.com,Karina,Karina Plain,Female,Plain,123456\nDuplicate,demo@apiconnector.com,Demo,Demo,Male,Demo,123456',
    memberCount: 10,
    expected: {
      succeeded: 8,
      failures: [
        {
          email: 'karina.plain@example.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'Unsubscribed',
          message: 'The contact unsubscribed from this account; an import does not resubscribe them.',
        },
        {
          email: 'demo@apiconnector.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'Duplicate',
          message: 'The same email appeared more than once in the import file; one row was imported.',
        },
      ],
    },
  },
  {
    name: 'invalid entries and failures are failed; suppressions skipped; emails lower-cased; BOM ignored',
    csv: '\uFEFFReason,email,firstname\r\nInvalid Entries,Bad@Example.com,Ada\r\nGlobally Suppressed,gone@example.com,\r\nFailures,x@example.com,\r\nSuppressed by you,own@example.com,\r\n',
    memberCount: 4,
    expected: {
      succeeded: 0,
      failures: [
        {
          email: 'bad@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'Invalid Entries',
          message: 'dotdigital rejected the row as invalid (the email address or a data field value).',
        },
        {
          email: 'gone@example.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'Globally Suppressed',
          message: "The address is on dotdigital's global suppression list; it was not added.",
        },
        {
          email: 'x@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'Failures',
          message: 'dotdigital could not import this row.',
        },
        {
          email: 'own@example.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'Suppressed by you',
          message: "The address is on this account's own suppression list; it was not added.",
        },
      ],
    },
  },
  {
    name: 'an unknown reason is failed with the vendor text; the email column is found by name',
    csv: 'email,Reason\r\nnew@example.com,Quarantined\r\n',
    memberCount: 1,
    expected: {
      succeeded: 0,
      failures: [
        {
          email: 'new@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'Quarantined',
          message: 'dotdigital did not import this contact (Quarantined).',
        },
      ],
    },
  },
  {
    name: 'reasons match whatever the spacing and casing',
    csv: 'Reason,email\r\nHARD BOUNCED,hb@example.com\r\nIspComplaints,isp@example.com\r\n',
    memberCount: 5,
    expected: {
      succeeded: 3,
      failures: [
        {
          email: 'hb@example.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'HARD BOUNCED',
          message: 'The address hard-bounced before and is suppressed; it was not added.',
        },
        {
          email: 'isp@example.com',
          status: 'skipped',
          category: 'invalidRecord',
          code: 'IspComplaints',
          message: 'The contact complained to their mailbox provider and is suppressed; it was not added.',
        },
      ],
    },
  },
];

export const accountInfoCases: { name: string; body: unknown; expected: string | undefined }[] = [
  {
    name: 'the documented shape',
    body: {
      id: 12345,
      properties: [
        { name: 'Name', type: 'String', value: 'Acme' },
        { name: 'ApiEndpoint', type: 'String', value: 'https://r2-api.dotdigital.com' },
      ],
    },
    expected: 'https://r2-api.dotdigital.com',
  },
  {
    name: 'Pascal-cased keys and a trailing slash',
    body: { Id: 1, Properties: [{ Name: 'ApiEndpoint', Value: 'https://r3-api.dotdigital.com/' }] },
    expected: 'https://r3-api.dotdigital.com',
  },
  { name: 'no ApiEndpoint property', body: { id: 1, properties: [{ name: 'Name', value: 'Acme' }] }, expected: undefined },
  { name: 'not an object', body: 'Authorization has been denied for this request.', expected: undefined },
];

export const statusCases: { status: string; expected: ImportOutcome['state']; category?: string }[] = [
  { status: 'NotFinished', expected: 'pending' },
  { status: 'Finished', expected: 'finished' },
  { status: 'RejectedByWatchdog', expected: 'failed', category: 'config' },
  { status: 'InvalidFileFormat', expected: 'failed', category: 'config' },
  { status: 'ExceedsAllowedContactLimit', expected: 'failed', category: 'config' },
  { status: 'NotAvailableInThisVersion', expected: 'failed', category: 'config' },
  { status: 'Failed', expected: 'failed', category: 'vendorUnavailable' },
  { status: 'Unknown', expected: 'failed', category: 'vendorUnavailable' },
  { status: '', expected: 'failed', category: 'vendorUnavailable' },
];
