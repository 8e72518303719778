// Campaign Monitor (createsend) API v3.3 adapter: segment members are upserted into one subscriber
// list with `POST /api/v3.3/subscribers/{listId}/import.json`, up to 1,000 per call.
//
// Confirmed from primary sources:
// - Base URL https://api.createsend.com/api/v3.3; HTTP Basic auth with the API key as user name and
//   an ignored password (createsend-ruby lib/createsend/createsend.rb sends `api_key:x`,
//   createsend-php class/transport.php sends `api_key:nopass`).
// - Import body {Subscribers: [{EmailAddress, Name, CustomFields: [{Key, Value, Clear?}],
//   ConsentToTrack}], Resubscribe, QueueSubscriptionBasedAutoResponders,
//   RestartSubscriptionBasedAutoresponders} (createsend-ruby lib/createsend/subscriber.rb,
//   createsend-php csrest_subscribers.php). Success answer {FailureDetails, TotalUniqueEmailsSubmitted,
//   TotalExistingSubscribers, TotalNewSubscribers, DuplicateEmailsInSubmission}; when some records
//   fail the answer is HTTP 400 {Code: 210, Message: "Subscriber Import had some failures",
//   ResultData: {same totals, FailureDetails: [{EmailAddress, Code, Message}]}} and the others were
//   imported; invalid emails fail with Code 1 "Invalid Email Address" and still count in
//   TotalUniqueEmailsSubmitted (createsend-ruby test/fixtures/import_subscribers*.json and
//   test/subscriber_test.rb; createsend-php samples/subscriber/import.php).
// - Error 209 "Too many subscribers in this batch. You can only add 1000 subscribers in one call",
//   212 "No subscribers were provided in this batch", 100 "Invalid API Key" (401), 250 is
//   "Duplicate list title" (not "list not found"), 255 "The Field Name already exists in this list"
//   (campaignmonitor.com/api/v3-3 error reference, as transcribed in api-evangelist/campaignmonitor
//   errors/campaignmonitor-error-codes.yml). 101 "Invalid ListID" (older API docs quoted in public
//   integrations).
// - Custom fields: `GET/POST /lists/{listId}/customfields.json`; POST {FieldName, DataType, Options,
//   VisibleInPreferenceCenter} answers the new personalisation tag as a JSON string; tags are the
//   field name without spaces in brackets ("new date field" → "[newdatefield]") (createsend-ruby
//   lib/createsend/list.rb, test/list_test.rb, test/fixtures/custom_fields.json). Each value holds
//   at most 250 characters; existing values are kept when a field is not sent
//   (campaignmonitor.com/api/v3-3/subscribers). Keys the list does not define are dropped without an
//   error (createsend-php issue #59, createsend-ruby issue #4, createsend-dotnet issue #43) —
//   which is why prepareRun creates the fields first.
// - Rate limiting: X-RateLimit-Limit/-Remaining/-Reset (reset in seconds), 429
//   {"Code":429,"Message":"Rate limit exceeded"}; documented for /transactional only, but users report
//   429s from subscriber endpoints too (createsend-dotnet issue #67, createsend-java issue #35).
// - Removal: `POST /subscribers/{listId}/unsubscribe.json {EmailAddress}`, one subscriber per call
//   — the API has no bulk unsubscribe (createsend-node lib/interface/subscriber.js `unsubscribe`,
//   createsend-ruby lib/createsend/subscriber.rb `unsubscribe`; the bulk import only adds). A
//   subscriber the list does not hold answers 400 {Code: 203, Message: "Subscriber not in list or
//   has already been removed."} (createsend-ruby users rescue Code 203 from the same answer; the Go
//   client's tests, e.g. TestGetSubscriber_NotInList, carry the body), read as already removed.
//   Unsubscribing rather than deleting (`DELETE /subscribers/{listId}.json?email=`, equally one per
//   call) keeps the subscriber's history; either way the import (Resubscribe: false) does not bring
//   the person back if they rejoin the segment, which the run reports as a skip.
// - `GET /systemdate.json` → {SystemDate}; `GET /clients.json` → [{ClientID, Name}].
//
// Not confirmed (decisions below say how the adapter copes): the request rate allowed on list
// endpoints; what the vendor does with values over 250 characters (we truncate); whether an unknown
// list answers 400 or 401 with Code 101 (both map to `config`); the HTTP status of a fully
// successful import (any 2xx is read).
import { z } from 'zod';
import type { BatchResult, DestinationAdapter, DestinationCall, MappedMember, RecordFailure } from './destination.js';
import { DestinationError } from './destinationError.js';
import { withoutDuplicatesInBatch } from './duplicatesInBatch.js';
import { personFields } from './personFields.js';
import { callVendor, withApiOrigin, type VendorResponse } from './vendorHttp.js';
import { jsonString } from './jsonText.js';

const API_BASE = 'https://api.createsend.com/api/v3.3';
export const CAMPAIGN_MONITOR_BATCH_LIMIT = 1000;
export const CUSTOM_FIELD_VALUE_LIMIT = 250;

/** Data-matching fields stored as list custom fields, with the field name we create for each. */
export const CUSTOM_FIELD_NAMES = {
  gender: 'Gender',
  postalCode: 'PostalCode',
  city: 'City',
  country: 'Country',
  phone: 'Phone',
} as const satisfies Record<string, string>;
type CustomFieldName = keyof typeof CUSTOM_FIELD_NAMES;

const consentToTrack = z.enum(['Yes', 'No', 'Unchanged']);
type ConsentToTrack = z.infer<typeof consentToTrack>;

const settingsSchema = z.object({
  clientId: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe('Agency accounts: the client whose lists are used. The connection test checks that the key can see it.'),
});
const secretsSchema = z.object({
  apiKey: z.string().trim().min(1).describe('API key (Account settings → API keys). Sent as the HTTP Basic user name.'),
});
const detailsSchema = z.object({
  listId: z.string().trim().min(1).describe('ID of the subscriber list (List settings → API ID).'),
  consentToTrack: consentToTrack
    .optional()
    .describe('ConsentToTrack sent with every subscriber. Default Unchanged: never records a consent the platform did not collect.'),
  customFieldKeys: z
    .record(z.string(), z.string())
    .optional()
    .describe('Filled in when a run starts: the personalisation tag of each mapped custom field. Leave empty.'),
});

export type CampaignMonitorSettings = z.infer<typeof settingsSchema>;
export type CampaignMonitorSecrets = z.infer<typeof secretsSchema>;
export type CampaignMonitorDetails = z.infer<typeof detailsSchema>;
type Call = DestinationCall<CampaignMonitorSettings, CampaignMonitorSecrets, CampaignMonitorDetails>;

const dataMatching = personFields({
  email: 'EmailAddress: identifies the subscriber; re-sending it updates the same subscriber.',
  fullName: 'Name. When absent, Name is built from first and last name.',
  firstName: 'Part of Name ([firstname] personalisation is derived from Name by the vendor).',
  lastName: 'Part of Name.',
  gender: 'Text custom field [Gender], created when a run starts.',
  postalCode: 'Text custom field [PostalCode], created when a run starts.',
  city: 'Text custom field [City], created when a run starts.',
  country: 'Text custom field [Country], created when a run starts.',
  phone: 'Text custom field [Phone], created when a run starts.',
});

export interface CampaignMonitorSubscriber {
  EmailAddress: string;
  Name?: string;
  CustomFields: { Key: string; Value: string }[];
  ConsentToTrack: ConsentToTrack;
}

export interface ToSubscriberOptions {
  /** Personalisation tag per data-matching field; defaults to `[FieldName]`. */
  customFieldKeys?: Record<string, string>;
  consentToTrack?: ConsentToTrack;
}

/** The personalisation tag the vendor gives a field name: spaces dropped, in brackets. */
export function customFieldKey(fieldName: string): string {
  return `[${fieldName.replace(/\s+/g, '')}]`;
}

/** Cuts a value to the vendor's 250-character limit without splitting a surrogate pair. */
export function truncateValue(value: string, limit = CUSTOM_FIELD_VALUE_LIMIT): string {
  if (value.length <= limit) return value;
  const codePoints = Array.from(value);
  let result = '';
  for (const point of codePoints) {
    if (result.length + point.length > limit) break;
    result += point;
  }
  return result;
}

const CUSTOM_FIELDS = Object.keys(CUSTOM_FIELD_NAMES) as CustomFieldName[];

/** Name: the full name, or first and last name joined; '' when the member has neither. */
function subscriberName(fields: Record<string, string>): string {
  const full = fields.fullName?.trim();
  if (full) return full;
  const first = fields.firstName?.trim();
  const last = fields.lastName?.trim();
  return first ? (last ? `${first} ${last}` : first) : (last ?? '');
}

/**
 * Writes one subscriber of the import body as JSON text, without an object per subscriber: the
 * custom field tags and the consent are encoded once per batch. The text is what JSON.stringify
 * writes for the subscriber {EmailAddress, CustomFields, ConsentToTrack, Name?}, keys in that order.
 */
export function subscriberEncoder(options: ToSubscriberOptions = {}): (member: MappedMember) => string {
  const customFields = CUSTOM_FIELDS.map((field) => ({
    field,
    prefix: `{"Key":${jsonString(options.customFieldKeys?.[field] ?? customFieldKey(CUSTOM_FIELD_NAMES[field]))},"Value":`,
  }));
  const consent = `],"ConsentToTrack":${jsonString(options.consentToTrack ?? 'Unchanged')}`;
  return (member) => {
    const fields = member.fields;
    let text = `{"EmailAddress":${jsonString(member.email)},"CustomFields":[`;
    let first = true;
    for (const { field, prefix } of customFields) {
      const value = fields[field]?.trim();
      // Empty values are left out: sending one could blank data the list already holds.
      if (!value) continue;
      text += `${first ? '' : ','}${prefix}${jsonString(truncateValue(value))}}`;
      first = false;
    }
    text += consent;
    // Without a name the field is left out, so an existing subscriber keeps theirs.
    const name = subscriberName(fields);
    if (name) text += `,"Name":${jsonString(name)}`;
    return `${text}}`;
  };
}

/**
 * The import call's body as JSON text. Resubscribe false: an import must never re-add people who
 * unsubscribed, bounced or are suppressed (active and new subscribers are still upserted by
 * email, so a re-sent member is updated). No autoresponder is queued or restarted: a data sync
 * must not start emails. Built with `+=`: V8 joins the pieces once, when fetch encodes the body.
 */
export function campaignMonitorImportBody(members: MappedMember[], options: ToSubscriberOptions = {}): string {
  const encode = subscriberEncoder(options);
  let body = '{"Subscribers":[';
  for (let index = 0; index < members.length; index++) body += `${index > 0 ? ',' : ''}${encode(members[index]!)}`;
  return `${body}],"Resubscribe":false,"QueueSubscriptionBasedAutoResponders":false,"RestartSubscriptionBasedAutoresponders":false}`;
}

const importTotals = z.object({
  TotalUniqueEmailsSubmitted: z.number().int().nonnegative(),
  TotalExistingSubscribers: z.number().int().nonnegative(),
  TotalNewSubscribers: z.number().int().nonnegative(),
  DuplicateEmailsInSubmission: z.array(z.string()).nullish(),
  FailureDetails: z
    .array(z.object({ EmailAddress: z.string().nullish(), Code: z.number().int(), Message: z.string().nullish() }))
    .nullish(),
});
const importAnswer = z.union([importTotals, z.object({ Code: z.literal(210), Message: z.string().optional(), ResultData: importTotals })]);

// Existing subscribers the vendor would not re-add (suppressed, deleted, unsubscribed, bounced,
// unconfirmed): consent outcomes to report as skipped, not data errors.
const CONSENT_CODES = new Set([204, 205, 206, 207, 208]);

/** The import answer (success, or the 400/210 partial failure) → counts and per-record failures. */
export function fromImportResult(body: unknown): BatchResult {
  const parsed = importAnswer.safeParse(body);
  if (!parsed.success) {
    throw new DestinationError('vendorUnavailable', 'Campaign Monitor answered the import with an unexpected body');
  }
  const totals = 'ResultData' in parsed.data ? parsed.data.ResultData : parsed.data;
  const failures: RecordFailure[] = (totals.FailureDetails ?? []).map((failure) => ({
    email: (failure.EmailAddress ?? '').toLowerCase(),
    status: CONSENT_CODES.has(failure.Code) ? 'skipped' : 'failed',
    category: 'invalidRecord',
    code: String(failure.Code),
    message: failure.Message ?? `Campaign Monitor error ${failure.Code}`,
  }));
  return { succeeded: totals.TotalNewSubscribers + totals.TotalExistingSubscribers, failures };
}

function vendorUrl(call: Call, path: string): string {
  return withApiOrigin(`${API_BASE}${path}`, call.apiOrigin);
}

function authorization(call: Call): Record<string, string> {
  // The password part is ignored by the vendor; the official clients send a placeholder.
  return { authorization: `Basic ${Buffer.from(`${call.secrets.apiKey}:x`).toString('base64')}` };
}

function vendorCode(body: unknown): { code?: number; message?: string } {
  if (!body || typeof body !== 'object') return {};
  const record = body as Record<string, unknown>;
  return {
    code: typeof record.Code === 'number' ? record.Code : undefined,
    message: typeof record.Message === 'string' ? record.Message : undefined,
  };
}

/** Any answer the adapter does not read as a result: a whole-call failure. */
function callFailed(response: VendorResponse, what: string): DestinationError {
  const { code, message } = vendorCode(response.body);
  const detail = message ? `${message}${code !== undefined ? ` (code ${code})` : ''}` : `HTTP ${response.status}`;
  const options = { status: response.status, code: code !== undefined ? String(code) : undefined };
  if (code === 101) return new DestinationError('config', `${what}: the list ID is not valid for this account (${detail})`, options);
  if (code === 209) return new DestinationError('config', `${what}: more than 1,000 subscribers in one call (${detail})`, options);
  return new DestinationError('config', `${what} was refused: ${detail}`, options);
}

/** One call; the body is `json` as an object, or `jsonText` already encoded. */
async function send(call: Call, method: string, path: string, json?: unknown, jsonText?: string): Promise<VendorResponse> {
  try {
    return await callVendor({ method, url: vendorUrl(call, path), headers: authorization(call), json, jsonText, signal: call.signal });
  } catch (error) {
    // An unknown list may come back as 401 with Code 101: a wrong list ID, not a wrong key.
    if (error instanceof DestinationError && error.category === 'auth' && /invalid listid/i.test(error.message)) {
      throw new DestinationError('config', 'The list ID is not valid for this account (Invalid ListID)', {
        status: error.options.status,
        code: '101',
      });
    }
    throw error;
  }
}

const customFieldList = z.array(z.object({ FieldName: z.string(), Key: z.string() }));
type ExistingField = z.infer<typeof customFieldList>[number];

function normalizeFieldName(name: string): string {
  return name.replace(/[\s[\]]+/g, '').toLowerCase();
}

function findField(fields: ExistingField[], fieldName: string): ExistingField | undefined {
  const wanted = normalizeFieldName(fieldName);
  return fields.find((field) => normalizeFieldName(field.FieldName) === wanted || normalizeFieldName(field.Key) === wanted);
}

async function readCustomFields(call: Call, listPath: string): Promise<ExistingField[]> {
  const response = await send(call, 'GET', `${listPath}/customfields.json`);
  if (response.status !== 200) throw callFailed(response, 'Reading the list custom fields');
  const parsed = customFieldList.safeParse(response.body);
  if (!parsed.success)
    throw new DestinationError('vendorUnavailable', 'Campaign Monitor answered the custom fields with an unexpected body');
  return parsed.data;
}

/** Creates the custom fields the export maps and the list lacks; returns each field's tag. */
async function ensureCustomFields(call: Call, wanted: CustomFieldName[]): Promise<Record<string, string>> {
  const listPath = `/lists/${encodeURIComponent(call.details.listId)}`;
  let existing = await readCustomFields(call, listPath);
  const keys: Record<string, string> = {};
  for (const field of wanted) {
    const fieldName = CUSTOM_FIELD_NAMES[field];
    const found = findField(existing, fieldName);
    if (found) {
      keys[field] = found.Key;
      continue;
    }
    const response = await send(call, 'POST', `${listPath}/customfields.json`, {
      FieldName: fieldName,
      DataType: 'Text',
      Options: [],
      // Synced from the platform, so subscribers should not edit it (the next run overwrites it).
      VisibleInPreferenceCenter: false,
    });
    if (response.status >= 200 && response.status < 300 && typeof response.body === 'string') {
      keys[field] = response.body;
      continue;
    }
    // 255: another run created it between our read and our write — read it back.
    if (response.status === 400 && vendorCode(response.body).code === 255) {
      existing = await readCustomFields(call, listPath);
      const created = findField(existing, fieldName);
      if (created) {
        keys[field] = created.Key;
        continue;
      }
    }
    throw callFailed(response, `Creating the custom field ${fieldName}`);
  }
  return keys;
}

export const campaignMonitor: DestinationAdapter<CampaignMonitorSettings, CampaignMonitorSecrets, CampaignMonitorDetails> = {
  type: 'campaign-monitor',
  displayName: 'Campaign Monitor',
  connectionSettings: settingsSchema,
  connectionSecrets: secretsSchema,
  exportDetails: detailsSchema,
  dataMatching,
  batchSize: CAMPAIGN_MONITOR_BATCH_LIMIT,
  // No bulk unsubscribe: one call per member.
  removalBatchSize: 1,
  limits: {
    maxMembersPerExport: 1_000_000,
    // The vendor publishes no rate for list endpoints (only that 429 exists). The promise is 1M
    // profiles in 20 minutes = 1,000 imports of 1,000 in 1,200 s ≈ 0.84 calls/s; 2 calls/s keeps
    // 2.4× headroom (1M in ~8.5 min) while staying gentle, and 429s are honoured via
    // X-RateLimit-Reset anyway.
    requestsPerSecond: 2,
    burst: 4,
    // Imports are processed synchronously (seconds per call); a few in flight sustain 2 calls/s.
    maxConcurrentRequests: 4,
  },
  eligibleSegmentTypes: ['Profile', 'Contact'],
  exportKinds: ['segment'],
  apiUrlSetting: 'CAMPAIGN_MONITOR_API_URL',

  async testConnection(call) {
    try {
      // The smallest authenticated answer the API has.
      const response = await send(call, 'GET', '/systemdate.json');
      if (response.status !== 200) return { ok: false, reason: callFailed(response, 'GET /systemdate.json').message };
      const clientId = call.settings.clientId;
      if (clientId) {
        const clients = await send(call, 'GET', '/clients.json');
        const visible =
          Array.isArray(clients.body) && clients.body.some((client) => (client as { ClientID?: unknown }).ClientID === clientId);
        if (clients.status !== 200 || !visible) return { ok: false, reason: `The API key cannot see client ${clientId}.` };
      }
      return { ok: true };
    } catch (error) {
      if (error instanceof DestinationError) return { ok: false, reason: error.message };
      throw error;
    }
  },

  async prepareRun(call, run) {
    const wanted = (Object.keys(CUSTOM_FIELD_NAMES) as CustomFieldName[]).filter((field) => run.mappedFields.includes(field));
    if (wanted.length === 0) return call.details;
    const customFieldKeys = await ensureCustomFields(call, wanted);
    return { ...call.details, customFieldKeys };
  },

  async sendBatch(call, members) {
    if (members.length === 0) return { succeeded: 0, failures: [] };
    const { unique, skipped } = withoutDuplicatesInBatch(members, 'DuplicateInBatch');
    if (unique.length > CAMPAIGN_MONITOR_BATCH_LIMIT) {
      throw new DestinationError(
        'config',
        `A batch holds ${unique.length} subscribers; Campaign Monitor takes at most ${CAMPAIGN_MONITOR_BATCH_LIMIT} per call.`,
      );
    }
    const body = campaignMonitorImportBody(unique, {
      customFieldKeys: call.details.customFieldKeys,
      consentToTrack: call.details.consentToTrack,
    });
    const response = await send(call, 'POST', `/subscribers/${encodeURIComponent(call.details.listId)}/import.json`, undefined, body);
    const partial = response.status === 400 && vendorCode(response.body).code === 210;
    if (!(response.status >= 200 && response.status < 300) && !partial) throw callFailed(response, 'The subscriber import');
    const result = fromImportResult(response.body);
    return { succeeded: result.succeeded, failures: [...result.failures, ...skipped] };
  },
  async removeBatch(call, members) {
    if (members.length === 0) return { succeeded: 0, failures: [] };
    if (members.length > 1) {
      throw new DestinationError(
        'config',
        `A removal batch holds ${members.length} subscribers; Campaign Monitor unsubscribes one per call.`,
      );
    }
    const email = members[0]!.email;
    const response = await send(call, 'POST', `/subscribers/${encodeURIComponent(call.details.listId)}/unsubscribe.json`, {
      EmailAddress: email,
    });
    if (response.status >= 200 && response.status < 300) return { succeeded: 1, failures: [] };
    const { code, message } = vendorCode(response.body);
    // 203: not in the list or already removed — absent, as asked.
    if (response.status === 400 && code === 203) return { succeeded: 1, failures: [] };
    if (response.status === 400 && code === 1) {
      return {
        succeeded: 0,
        failures: [{ email, status: 'failed', category: 'invalidRecord', code: '1', message: message ?? 'Invalid Email Address' }],
      };
    }
    throw callFailed(response, 'The unsubscribe');
  },
};
