// Iterable adapter: each segment of an export goes to a static list named exactly like the
// segment (the seeds' rule), found by name or created when a run starts, and members are added
// with `POST /api/lists/subscribe`, up to 1,000 per call.
//
// Confirmed from primary sources:
// - Base URLs: US https://api.iterable.com/api, EU https://api.eu.iterable.com/api (official SDKs:
//   Iterable/iterable-android-sdk IterableDataRegion.java; Iterable/mcp-server and Iterable/cli
//   src/utils/endpoint-prompt.ts). A key works only in its own data center, hence the region setting.
// - Auth: header `Api-Key: <key>` (securityDefinitions of Iterable's OpenAPI document, api-docs.json
//   in Iterable/api-client; the certified connector microsoft/PowerPlatformConnectors
//   certified-connectors/Iterable/apiDefinition.swagger.json). 401 answers
//   {"msg":"Invalid API key","code":"BadApiKey","params":{…}} (Iterable/api-client
//   tests/unit/error-handling.test.ts).
// - `GET /api/lists` → {lists: [{id, name, listType: Standard|Dynamic|Suppression|Internal,
//   createdAt, description?}]}, rate limit 100 requests/s per project; `POST /api/lists {name,
//   description?}` creates a *static* list → {listId}; `DELETE /api/lists/{listId}` (api-docs.json;
//   Iterable/api-client src/types/lists.ts, src/client/lists.ts).
// - `POST /api/lists/subscribe {listId, subscribers: [{email | userId, dataFields?,
//   mergeNestedObjects?, preferUserId?}], updateExistingUsersOnly?}` → 200
//   {successCount, failCount, createdFields?, filteredOutFields?, failedUpdates?: {invalidEmails,
//   invalidUserIds, notFoundEmails, notFoundUserIds, forgottenEmails, forgottenUserIds,
//   conflictEmails, conflictUserIds, invalidDataEmails, invalidDataUserIds}, invalidEmails?,
//   invalidUserIds?} — the top-level invalidEmails/invalidUserIds are deprecated in favour of
//   failedUpdates (api-docs.json definitions SubscribeRequest, OptionalApiUser,
//   UserBulkUpdateListResponse, FailedUserUpdates; the official client @iterable/api adds
//   failedEmails/failedUserIds to failedUpdates, src/types/lists.ts). failCount is the total;
//   failures it counts but names nowhere are reported unnamed. updateExistingUsersOnly defaults to false and
//   is only respected in userID-based and hybrid projects.
// - Error bodies are {msg, code, params}; codes include BadParams, BadJsonBody, BatchTooLarge,
//   RateLimitExceeded, RequestFieldsTypesMismatched (api-docs.json IterableApiResponse). 429 answers
//   {"msg":"Exceeded rate limit.","code":"RateLimitExceeded"} (Iterable/api-client
//   tests/unit/error-handling.test.ts). A data field keeps the type it was first sent with;
//   a request with another type is refused as a whole with RequestFieldsTypesMismatched and
//   params.validationErrors keyed "<project>:::<field>" (api-docs.json users/update; block/iterable-go
//   parsers/mismatched_fields_parser_test.go). An unknown list answers a message containing
//   "error.lists.invalidListId" (block/iterable-go errors/errors.go, batch/list_subscribe.go).
// - Removal: `POST /api/lists/unsubscribe {listId, subscribers: [{email | userId}], campaignId?,
//   channelUnsubscribe?}` → 200 UserBulkUpdateListResponse, the subscribe answer's shape ("Remove
//   users from a list": api-docs.json path /api/lists/unsubscribe, definitions UnsubscribeRequest and
//   Unsubscriber; @iterable/api src/client/lists.ts unsubscribeUserFromList). channelUnsubscribe is
//   "essentially a global unsubscribe" (default false) and is never sent: leaving a segment takes a
//   user off that segment's list, not off the channel. Its cap and rate are not published either:
//   the adapter uses subscribe's 1,000 and the simulator the same bucket size.
// - Documented rates of bulk user writes: users/bulkUpdate 5 requests/s per project (4 MB body
//   cap), events/trackBulk 10 requests/s per project (api-docs.json).
//
// Not confirmed (decisions below say how the adapter copes):
// - The cap of subscribers per lists/subscribe call: not in the API reference. 1,000 is what
//   public integrations use (rudderlabs/rudder-transformer iterable_audience MAX_BATCH_SIZE, noted
//   there as unverified); batchSize is 1,000, and a BatchTooLarge answer is invalidRecord, which the
//   engine's sender answers by halving the batch until it is taken.
// - The rate limit of lists/subscribe: the reference gives none. The adapter declares 5 requests/s
//   per project, the documented limit of the comparable bulk write (users/bulkUpdate); 1M members
//   then take ≥ 200 s, far inside the seeds' 30 minutes. 429s are honoured either way.
// - Whether 429 answers carry Retry-After (the client test fixture has one; the engine waits 1 s,
//   doubling to a minute, when absent); whether list names must be unique (assumed not: prepareRun deduplicates itself);
//   the HTTP status of BatchTooLarge and of an unknown list (any non-200 is read by its code).
// - How the API treats a phoneNumber that is not E.164 (Iterable's SMS field requires E.164): the
//   adapter sends only E.164-shaped numbers, so a malformed phone never costs a list membership.
import { z } from 'zod';
import type { BatchResult, DestinationAdapter, DestinationCall, MappedMember, RecordFailure, SegmentRef } from './destination.js';
import { DestinationError } from './destinationError.js';
import { withoutDuplicatesInBatch } from './duplicatesInBatch.js';
import { personFields } from './personFields.js';
import { callVendor, withApiOrigin, type VendorResponse } from './vendorHttp.js';

export const ITERABLE_BASE_URLS = {
  US: 'https://api.iterable.com/api',
  EU: 'https://api.eu.iterable.com/api',
} as const;
export type IterableRegion = keyof typeof ITERABLE_BASE_URLS;
export const ITERABLE_BATCH_LIMIT = 1000;

/** Data-matching field → the user-profile data field it is stored in (Iterable's camelCase names). */
export const DATA_FIELD_NAMES = {
  firstName: 'firstName',
  lastName: 'lastName',
  fullName: 'fullName',
  gender: 'gender',
  postalCode: 'postalCode',
  city: 'city',
  country: 'country',
  // Iterable's own SMS field.
  phone: 'phoneNumber',
} as const satisfies Record<string, string>;
type DataFieldSource = keyof typeof DATA_FIELD_NAMES;

const settingsSchema = z.object({
  region: z
    .enum(['US', 'EU'])
    .default('US')
    .describe(
      'Data center of the Iterable project: US (api.iterable.com) or EU (api.eu.iterable.com). An API key works only in its own data center.',
    ),
});
const secretsSchema = z.object({
  apiKey: z.string().trim().min(1).describe('Server-side API key of the project (Integrations → API keys). Sent in the Api-Key header.'),
});
const detailsSchema = z.object({
  listIds: z
    .record(z.string(), z.number().int().positive())
    .optional()
    .describe('Filled in when a run starts: the Iterable list of each segment (a static list named like the segment). Leave empty.'),
});

export type IterableSettings = z.input<typeof settingsSchema>;
export type IterableSecrets = z.infer<typeof secretsSchema>;
export type IterableDetails = z.infer<typeof detailsSchema>;
type Call = DestinationCall<IterableSettings, IterableSecrets, IterableDetails>;

const dataMatching = personFields({
  email: 'email: identifies the user in the project; re-sending it updates the same user.',
  firstName: 'Data field firstName.',
  lastName: 'Data field lastName.',
  fullName: 'Data field fullName.',
  gender: 'Data field gender.',
  postalCode: 'Data field postalCode (text).',
  city: 'Data field city.',
  country: 'Data field country.',
  phone:
    "Data field phoneNumber (Iterable's SMS field), sent only when it is an E.164 number such as +4791234567 (spaces, dashes, dots and brackets are ignored).",
});

export interface IterableSubscriber {
  email: string;
  dataFields?: Record<string, string>;
}

/** "+47 912 34 567" → "+4791234567"; undefined when the number is not E.164. */
export function toE164(phone: string): string | undefined {
  const compact = phone.replace(/[\s\-.()]/g, '');
  return /^\+[1-9]\d{6,14}$/.test(compact) ? compact : undefined;
}

/** One mapped member → one subscriber of the subscribe body. */
export function toIterableSubscriber(member: MappedMember): IterableSubscriber {
  const dataFields: Record<string, string> = {};
  for (const source of Object.keys(DATA_FIELD_NAMES) as DataFieldSource[]) {
    const raw = member.fields[source]?.trim();
    // Empty values are left out: sending one would blank what the profile already holds.
    if (!raw) continue;
    const value = source === 'phone' ? toE164(raw) : raw;
    if (value) dataFields[DATA_FIELD_NAMES[source]] = value;
  }
  return Object.keys(dataFields).length > 0 ? { email: member.email, dataFields } : { email: member.email };
}

const emailList = z.array(z.string()).nullish();
const subscribeAnswer = z.object({
  successCount: z.number().int().nonnegative(),
  failCount: z.number().int().nonnegative(),
  invalidEmails: emailList,
  invalidUserIds: emailList,
  createdFields: emailList,
  filteredOutFields: emailList,
  failedUpdates: z
    .object({
      invalidEmails: emailList,
      invalidDataEmails: emailList,
      conflictEmails: emailList,
      forgottenEmails: emailList,
      notFoundEmails: emailList,
      // Modelled by the official client (@iterable/api src/types/lists.ts FailedUserUpdatesSchema).
      failedEmails: emailList,
      failedUserIds: emailList,
    })
    .nullish(),
});

/**
 * Per-record outcome of each failedUpdates list that names emails, in the order an email is
 * classified when it shows up in several. Users who cannot be added by design (forgotten under
 * GDPR, unknown in a userID-based project) are skipped; data errors fail.
 */
const FAILED_UPDATE_OUTCOMES = [
  { key: 'invalidEmails', status: 'failed', code: 'invalidEmail', message: 'Iterable refused the email address as malformed.' },
  { key: 'invalidDataEmails', status: 'failed', code: 'invalidData', message: "Iterable refused the user's data fields as invalid." },
  { key: 'conflictEmails', status: 'failed', code: 'conflictEmail', message: 'Another Iterable user already holds this email address.' },
  {
    key: 'forgottenEmails',
    status: 'skipped',
    code: 'forgottenUser',
    message: 'The user was forgotten (GDPR) in the Iterable project, so Iterable does not add them again.',
  },
  {
    key: 'notFoundEmails',
    status: 'skipped',
    code: 'userNotFound',
    message: 'The user does not exist in the Iterable project, which only updates existing users.',
  },
  { key: 'failedEmails', status: 'failed', code: 'failedUpdate', message: 'Iterable could not add the user to the list.' },
] as const;

/** Code of the failures Iterable counted in failCount without naming the user. */
export const UNNAMED_FAILURE = 'unnamedFailure';

/** The lists/subscribe answer → counts and per-record failures (emails lower-cased, each once). */
export function fromSubscribeResult(body: unknown, endpoint = 'lists/subscribe'): BatchResult {
  const parsed = subscribeAnswer.safeParse(body);
  if (!parsed.success) throw new DestinationError('vendorUnavailable', `Iterable answered ${endpoint} with an unexpected body`);
  const answer = parsed.data;
  const failures: RecordFailure[] = [];
  const seen = new Set<string>();
  const add = (emails: readonly string[] | null | undefined, outcome: (typeof FAILED_UPDATE_OUTCOMES)[number]) => {
    for (const raw of emails ?? []) {
      const email = raw.trim().toLowerCase();
      if (seen.has(email)) continue;
      seen.add(email);
      failures.push({ email, status: outcome.status, category: 'invalidRecord', code: outcome.code, message: outcome.message });
    }
  };
  for (const outcome of FAILED_UPDATE_OUTCOMES) {
    add(answer.failedUpdates?.[outcome.key], outcome);
    // The deprecated top-level list, for answers that only carry it.
    if (outcome.key === 'invalidEmails') add(answer.invalidEmails, outcome);
  }
  // failCount is the vendor's own total. Users it counted but named in no list (by user ID only,
  // or in a list this adapter does not know) still failed: they are reported without an email
  // rather than vanishing from the run's counts.
  const named = failures.length;
  for (let index = named; index < answer.failCount; index++) {
    failures.push({
      email: '',
      status: 'failed',
      category: 'invalidRecord',
      code: UNNAMED_FAILURE,
      message: `Iterable counted ${answer.failCount} failed users in this call (failCount) but named only ${named}; the others cannot be told apart.`,
    });
  }
  return { succeeded: answer.successCount, failures };
}

/**
 * The lists/unsubscribe answer (same shape as subscribe's) → removal counts. A user the project
 * does not hold, or forgot under GDPR, is on no list: already absent, so removed as asked.
 */
export function fromUnsubscribeResult(body: unknown): BatchResult {
  const result = fromSubscribeResult(body, 'lists/unsubscribe');
  const absent = result.failures.filter((failure) => failure.code === 'userNotFound' || failure.code === 'forgottenUser');
  if (absent.length === 0) return result;
  return { succeeded: result.succeeded + absent.length, failures: result.failures.filter((failure) => !absent.includes(failure)) };
}

function vendorUrl(call: Call, path: string): string {
  const region: IterableRegion = call.settings.region ?? 'US';
  return withApiOrigin(`${ITERABLE_BASE_URLS[region]}${path}`, call.apiOrigin);
}

async function send(call: Call, method: string, path: string, json?: unknown): Promise<VendorResponse> {
  return callVendor({ method, url: vendorUrl(call, path), headers: { 'Api-Key': call.secrets.apiKey }, json, signal: call.signal });
}

interface VendorErrorBody {
  code?: string;
  msg?: string;
  params?: Record<string, unknown>;
}

function errorBody(body: unknown): VendorErrorBody {
  if (!body || typeof body !== 'object') return {};
  const record = body as Record<string, unknown>;
  return {
    code: typeof record.code === 'string' ? record.code : undefined,
    msg: typeof record.msg === 'string' ? record.msg : undefined,
    params: record.params && typeof record.params === 'object' ? (record.params as Record<string, unknown>) : undefined,
  };
}

/** Names of the data fields a RequestFieldsTypesMismatched answer complains about. */
export function mismatchedFields(body: unknown): string[] {
  const errors = errorBody(body).params?.validationErrors;
  if (!errors || typeof errors !== 'object') return [];
  // Keys look like "<project>:::<field>".
  return Object.keys(errors).map((key) => (key.includes(':::') ? key.slice(key.lastIndexOf(':::') + 3) : key));
}

/** Any answer the adapter does not read as a result: a whole-call failure. */
function callFailed(response: VendorResponse, what: string): DestinationError {
  const { code, msg } = errorBody(response.body);
  const detail = msg ? `${msg}${code ? ` (${code})` : ''}` : code ? code : `HTTP ${response.status}`;
  const options = { status: response.status, code };
  if (msg?.includes('error.lists.invalidListId')) {
    return new DestinationError('config', `${what}: the list no longer exists in the Iterable project (${detail})`, options);
  }
  if (code === 'RequestFieldsTypesMismatched') {
    const fields = mismatchedFields(response.body);
    return new DestinationError(
      'config',
      `${what}: the Iterable project holds ${fields.length ? fields.join(', ') : 'a mapped data field'} with another data type than text; map another attribute or change the field in Iterable (${detail})`,
      options,
    );
  }
  // Iterable publishes no cap per call (VENDOR_FACTS.iterable.subscribersPerCall is an assumption):
  // invalidRecord makes the engine's sender halve the batch until it is taken, each half with its
  // own 429 handling, so a real cap below the guess costs calls, not the run.
  if (code === 'BatchTooLarge')
    return new DestinationError('invalidRecord', `${what}: Iterable refused the batch as too large (${detail})`, options);
  return new DestinationError('config', `${what} was refused: ${detail}`, options);
}

const listsAnswer = z.object({
  lists: z.array(z.object({ id: z.number().int(), name: z.string(), listType: z.string().nullish() })),
});
type ListSummary = z.infer<typeof listsAnswer>['lists'][number];

async function readLists(call: Call): Promise<ListSummary[]> {
  const response = await send(call, 'GET', '/lists');
  if (response.status !== 200) throw callFailed(response, 'Reading the Iterable lists');
  const parsed = listsAnswer.safeParse(response.body);
  if (!parsed.success) throw new DestinationError('vendorUnavailable', 'Iterable answered GET /lists with an unexpected body');
  return parsed.data.lists;
}

/** Lowest id first: every run picking the first of the same-named static lists picks the same one. */
function staticListsNamed(lists: ListSummary[], name: string): number[] {
  // Only static lists take subscribers; a dynamic list of the same name is not ours to fill.
  return lists
    .filter((list) => list.name === name && (list.listType === 'Standard' || list.listType == null))
    .map((list) => list.id)
    .sort((a, b) => a - b);
}

/** The segment's list id: found by name, or created; concurrent creators converge on one. */
async function ensureList(call: Call, name: string, known: { lists: ListSummary[] }): Promise<number> {
  const existing = staticListsNamed(known.lists, name);
  if (existing.length > 0) return existing[0]!;
  const response = await send(call, 'POST', '/lists', { name });
  const created = (response.body as { listId?: unknown } | undefined)?.listId;
  if (response.status !== 200 || typeof created !== 'number') throw callFailed(response, `Creating the Iterable list '${name}'`);
  // Another run may have created the same list meanwhile: read again and keep the oldest.
  known.lists = await readLists(call);
  const candidates = staticListsNamed(known.lists, name);
  const chosen = Math.min(created, ...candidates);
  if (chosen !== created) {
    // Ours lost the race and nobody sends to it: remove it so the project keeps one list per name.
    await send(call, 'DELETE', `/lists/${created}`).catch(() => undefined);
    known.lists = known.lists.filter((list) => list.id !== created);
  }
  return chosen;
}

function listIdFor(call: Call, segment: SegmentRef | undefined): number {
  const listId = segment ? call.details.listIds?.[segment.id] : undefined;
  if (listId === undefined) {
    throw new DestinationError(
      'config',
      `No Iterable list was prepared for segment '${segment?.name ?? 'unknown'}'; the run must start with prepareRun.`,
    );
  }
  return listId;
}

export const iterable: DestinationAdapter<IterableSettings, IterableSecrets, IterableDetails> = {
  type: 'iterable',
  displayName: 'Iterable',
  connectionSettings: settingsSchema,
  connectionSecrets: secretsSchema,
  exportDetails: detailsSchema,
  dataMatching,
  batchSize: ITERABLE_BATCH_LIMIT,
  removalBatchSize: ITERABLE_BATCH_LIMIT,
  listPerSegment: true,
  limits: {
    maxMembersPerExport: 1_000_000,
    // Per project. lists/subscribe has no published rate; 5/s is the documented rate of the
    // comparable bulk write (users/bulkUpdate). 1M members = 1,000 calls ≥ 200 s.
    requestsPerSecond: 5,
    // Iterable limits with a leaky bucket; one second's worth at once is what it absorbs.
    burst: 5,
  },
  eligibleSegmentTypes: ['Profile', 'Contact'],
  exportKinds: ['segment'],
  apiUrlSetting: 'ITERABLE_API_URL',

  async testConnection(call) {
    try {
      // Authenticated, 100 requests/s per project, and the call every run starts with.
      const response = await send(call, 'GET', '/lists');
      if (response.status !== 200) return { ok: false, reason: callFailed(response, 'GET /api/lists').message };
      return { ok: true };
    } catch (error) {
      if (error instanceof DestinationError) return { ok: false, reason: error.message };
      throw error;
    }
  },

  async prepareRun(call, run) {
    const known = { lists: await readLists(call) };
    const listIds: Record<string, number> = {};
    for (const segment of run.segments) listIds[segment.id] = await ensureList(call, segment.name, known);
    return { ...call.details, listIds };
  },

  async sendBatch(call, members) {
    if (members.length === 0) return { succeeded: 0, failures: [] };
    const listId = listIdFor(call, call.segment);
    const { unique, skipped } = withoutDuplicatesInBatch(members, 'duplicateInBatch');
    if (unique.length > ITERABLE_BATCH_LIMIT) {
      throw new DestinationError(
        'config',
        `A batch holds ${unique.length} subscribers; Iterable takes at most ${ITERABLE_BATCH_LIMIT} per call.`,
      );
    }
    const body = {
      listId,
      subscribers: unique.map(toIterableSubscriber),
      // A segment export adds the people the project lacks (only userID-based projects read this).
      updateExistingUsersOnly: false,
    };
    const response = await send(call, 'POST', '/lists/subscribe', body);
    if (response.status !== 200) throw callFailed(response, 'Adding subscribers to the Iterable list');
    const result = fromSubscribeResult(response.body);
    return { succeeded: result.succeeded, failures: [...result.failures, ...skipped] };
  },
  // call.segment names the segment the members left: each segment has its own list.
  async removeBatch(call, members) {
    if (members.length === 0) return { succeeded: 0, failures: [] };
    const listId = listIdFor(call, call.segment);
    const { unique, skipped } = withoutDuplicatesInBatch(members, 'duplicateInBatch');
    if (unique.length > ITERABLE_BATCH_LIMIT) {
      throw new DestinationError(
        'config',
        `A removal batch holds ${unique.length} subscribers; Iterable takes at most ${ITERABLE_BATCH_LIMIT} per call.`,
      );
    }
    const body = { listId, subscribers: unique.map((member) => ({ email: member.email })) };
    const response = await send(call, 'POST', '/lists/unsubscribe', body);
    if (response.status !== 200) throw callFailed(response, 'Removing subscribers from the Iterable list');
    const result = fromUnsubscribeResult(response.body);
    return { succeeded: result.succeeded, failures: [...result.failures, ...skipped] };
  },
};
