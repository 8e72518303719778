// Mailchimp Marketing API 3.0 adapter: segment members are upserted into one audience (list) with
// the batch subscribe call `POST /3.0/lists/{list_id}`, up to 500 members per call, at most 10 calls
// in flight per Mailchimp user across every run (the engine's shared concurrency slots).
//
// Confirmed from primary sources:
// - Base URL https://{dc}.api.mailchimp.com/3.0, where dc is the API key's suffix after '-': the
//   official clients start from https://server.api.mailchimp.com/3.0 and replace `server`
//   (mailchimp/mailchimp-marketing-node src/ApiClient.js); the Python client takes the server from
//   `api_key.split('-')` when the key splits in exactly two (mailchimp/mailchimp-marketing-python
//   mailchimp_marketing/api_client.py `get_server_from_api_key`).
// - Auth: HTTP Basic with any user name and the key as password, or Bearer (developer docs source,
//   mailchimp/fern-marketing-api-docs fern/docs/pages/api-concepts/authentication.mdx; the node
//   client sends `request.auth('user', apiKey)`, the Python one `('user', api_key)`).
// - `GET /ping` is an authenticated health check without account data (node src/api/PingApi.js).
// - Batch subscribe: `POST /lists/{list_id}` with `{members, update_existing, sync_tags}` and query
//   `skip_merge_validation`, `skip_duplicate_check`; "Up to 500 members may be added or updated
//   with each API call" (node src/api/ListsApi.js `batchListMembers`;
//   mailchimp/mailchimp-marketing-typescript-sdk src/api/resources/lists/client/requests/
//   BatchSubscribeOrUnsubscribeListsRequest.ts). A member may carry `status_if_new` (subscribed,
//   unsubscribed, cleaned, pending, transactional: …/types/BatchSubscribeOrUnsubscribeListsRequest
//   MembersItemStatusIfNew.ts). The answer: {new_members, updated_members, errors: [{email_address,
//   error, error_code: ERROR_CONTACT_EXISTS | ERROR_GENERIC, field, field_message}], total_created,
//   total_updated, error_count} (…/types/BatchSubscribeOrUnsubscribeListsResponse.ts); rejected
//   members come back as 200 with error_count > 0 (HHS/simpler-grants-gov issue #11084), e.g.
//   "x looks fake or invalid, please enter a real email address." (mailchimp/mc-magento2 #476).
// - Merge fields: `GET/POST /lists/{list_id}/merge-fields`; create takes name and type (text,
//   number, address, phone, date, url, imageurl, radio, dropdown, birthday, zip), optional tag,
//   required, public (…/client/requests/CreateMergeFieldListsRequest.ts). Values can only be set
//   for fields the audience defines; FNAME, LNAME, ADDRESS, PHONE exist by default but may have
//   been edited away; text values are truncated to 255 bytes; required fields can be bypassed with
//   skip_merge_validation=true (fern docs pages/concepts/audiences/merge-fields.mdx). Collection
//   reads default to 10 items, at most 1,000 per page (pages/building/quickstarts/
//   import-and-export-contacts.mdx). Merge tags hold at most 10 characters (Mailchimp's own
//   Magento plugin: mailchimp/mc-magento issue #1140, PR #1150).
// - Limits: "a limit of 10 simultaneous connections. The limit is per user, not per API key or per
//   client"; over it, 429 "TooManyRequests: You have exceeded the limit of 10 simultaneous
//   connections"; a 120-second timeout on calls; requests that time out on the client may still
//   run at the vendor and hold a connection (pages/api-concepts/rate-limits-and-timeouts.mdx,
//   pages/api-concepts/errors.mdx). Errors are problem JSON {type, title, status, detail, instance}
//   (errors.mdx). No request-rate limit and no per-export cap is published.
// - Which status: `status_if_new` applies only when the contact does not exist yet, so an upsert
//   never overwrites a choice the person already made (an unsubscribe); `status` overwrites
//   unconditionally. On single opt-in audiences send `subscribed`, on double opt-in ones `pending`;
//   `transactional` is for people who gave no marketing consent and receive no campaigns
//   (fern/.well-known/agent-skills/set-consent-correctly/SKILL.md, import-and-export-contacts.mdx).
//   An export of a segment to an email-marketing audience is for marketing, made under the
//   connection's privacy consent, so the default is `subscribed` — or `pending` when the audience
//   asks for double opt-in — and an export can choose `transactional` instead. `status` is never
//   sent, so nobody who unsubscribed, bounced or was cleaned is re-subscribed.
//
// - Removal: the same batch call, "Batch subscribe or unsubscribe list members" (node src/api/
//   ListsApi.js `batchListMembers`), with `status: 'unsubscribed'` per member and update_existing,
//   500 per call. The other way, archiving, is `DELETE /lists/{list_id}/members/{subscriber_hash}`
//   ("Archive list member", ListsApi.js `deleteListMember`), one call per member with no bulk form
//   outside the asynchronous /batches endpoint. Unsubscribing is chosen: 500 members per call
//   against 1 under a 10-connection cap, and the contact keeps its history while no campaign
//   reaches them. What it costs, stated for users: Mailchimp keeps an unsubscribe as the person's
//   consent state, so someone who rejoins the segment later is updated but not re-subscribed
//   (status_if_new applies to new contacts only); and a removed email the audience never held is
//   recorded as an unsubscribed contact (the batch upserts; it has no update-only switch).
// - Throttling: "At exceptionally high volumes, you may receive an HTTP 429 or 403 without a JSON
//   body" (pages/api-concepts/rate-limits-and-timeouts.mdx): see `refusal` below.
// - The batch body against Mailchimp's own document: marketing.json 3.0.55 (sources in
//   test/contract/README.md) gives members `status`; the current API definition adds `status_if_new`
//   (mailchimp-marketing-typescript-sdk BatchSubscribeOrUnsubscribeListsRequestMembersItemStatusIfNew).
//
// Not confirmed (decisions below say how the adapter copes): that a batch member with only
// `status_if_new` (no `status`) is accepted — the current definition models it, no official example shows it;
// whether unknown merge tags in a batch are dropped or rejected (prepareRun creates the fields first,
// so it does not matter); the exact answer to creating a merge field whose tag exists (any refused
// creation is followed by a re-read, which makes concurrent runs safe whatever the answer); the
// merge-field count cap (plan dependent: 30 reported); Retry-After on 429 (none documented: the
// engine then waits 1 s, doubling to a minute); how long a 500-member call takes, which with the 10-connection cap
// sets the real throughput.
import { z } from 'zod';
import type { BatchResult, DestinationAdapter, DestinationCall, MappedMember, RecordFailure } from './destination.js';
import { DestinationError } from './destinationError.js';
import { withoutDuplicatesInBatch } from './duplicatesInBatch.js';
import { personFields } from './personFields.js';
import { callVendor, retryAfterMs, withApiOrigin, type VendorResponse } from './vendorHttp.js';

export const MAILCHIMP_BATCH_LIMIT = 500;
/** The vendor's documented call timeout is 120 s; waiting a little longer lets its own answer arrive. */
const CALL_TIMEOUT_MS = 125_000;
/** Largest page the vendor serves on collection reads. */
const PAGE_SIZE = 1000;

/** Data-matching fields stored as audience merge fields: the tag and name we use when creating one. */
export const MERGE_FIELDS = {
  firstName: { tag: 'FNAME', name: 'First Name' },
  lastName: { tag: 'LNAME', name: 'Last Name' },
  fullName: { tag: 'FULLNAME', name: 'Full Name' },
  gender: { tag: 'GENDER', name: 'Gender' },
  postalCode: { tag: 'POSTCODE', name: 'Postal Code' },
  city: { tag: 'CITY', name: 'City' },
  country: { tag: 'COUNTRY', name: 'Country' },
  phone: { tag: 'PHONE', name: 'Phone Number' },
} as const satisfies Record<string, { tag: string; name: string }>;
type MergeFieldName = keyof typeof MERGE_FIELDS;

export const STATUSES_IF_NEW = ['subscribed', 'pending', 'transactional'] as const;
export type StatusIfNew = (typeof STATUSES_IF_NEW)[number];

/** The data center a key belongs to ("…-us6" → "us6"), as the official clients derive it. */
export function dataCenterOf(apiKey: string): string | undefined {
  const parts = apiKey.trim().split('-');
  if (parts.length !== 2 || !parts[0] || !/^[a-z]{2,}\d+$/i.test(parts[1]!)) return undefined;
  return parts[1]!.toLowerCase();
}

const MISSING_DATA_CENTER =
  "The API key must end with its data center, e.g. '0123456789abcdef0123456789abcdef-us6' (Profile → Extras → API keys shows the whole key).";

const settingsSchema = z.object({});
const secretsSchema = z.object({
  apiKey: z
    .string()
    .trim()
    .min(1)
    .refine((key) => dataCenterOf(key) !== undefined, { message: MISSING_DATA_CENTER })
    .describe('API key, including its data-center suffix (…-us6). Sent as the HTTP Basic password.'),
});
const detailsSchema = z.object({
  listId: z.string().trim().min(1).describe('Audience ID (Audience → Settings → Audience name and defaults).'),
  statusIfNew: z
    .enum(STATUSES_IF_NEW)
    .optional()
    .describe(
      'Status given to people new to the audience: subscribed (default; pending when the audience uses double opt-in) or transactional (no campaigns). People already in the audience keep their status.',
    ),
  mergeTags: z
    .record(z.string(), z.string())
    .optional()
    .describe('Filled in when a run starts: the merge tag of each mapped field. Leave empty.'),
});

export type MailchimpSettings = z.infer<typeof settingsSchema>;
export type MailchimpSecrets = z.infer<typeof secretsSchema>;
export type MailchimpDetails = z.infer<typeof detailsSchema>;
type Call = DestinationCall<MailchimpSettings, MailchimpSecrets, MailchimpDetails>;

const dataMatching = personFields({
  email: 'email_address: identifies the contact; re-sending it updates the same contact.',
  firstName: 'Merge field FNAME.',
  lastName: 'Merge field LNAME.',
  fullName: 'Text merge field FULLNAME, created when a run starts.',
  gender: 'Text merge field GENDER, created when a run starts.',
  postalCode: 'Text merge field POSTCODE, created when a run starts.',
  city: 'Text merge field CITY, created when a run starts.',
  country: 'Text merge field COUNTRY, created when a run starts.',
  phone: 'Merge field PHONE (the audience default), created when missing.',
});

export interface MailchimpMember {
  email_address: string;
  status_if_new: StatusIfNew;
  merge_fields?: Record<string, string>;
}

export interface ToMemberOptions {
  /** Merge tag per data-matching field, as prepareRun found or created them. */
  mergeTags?: Record<string, string>;
  statusIfNew?: StatusIfNew;
}

/** One mapped member → one member of the batch body. */
export function toMailchimpMember(member: MappedMember, options: ToMemberOptions = {}): MailchimpMember {
  const mergeFields: Record<string, string> = {};
  for (const field of Object.keys(MERGE_FIELDS) as MergeFieldName[]) {
    const value = member.fields[field]?.trim();
    // Empty values are left out: sending one would blank data the audience already holds.
    if (!value) continue;
    mergeFields[options.mergeTags?.[field] ?? MERGE_FIELDS[field].tag] = value;
  }
  const result: MailchimpMember = { email_address: member.email, status_if_new: options.statusIfNew ?? 'subscribed' };
  if (Object.keys(mergeFields).length > 0) result.merge_fields = mergeFields;
  return result;
}

const batchAnswer = z
  .object({
    new_members: z.array(z.unknown()).nullish(),
    updated_members: z.array(z.unknown()).nullish(),
    errors: z
      .array(
        z.object({
          email_address: z.string().nullish(),
          error: z.string().nullish(),
          error_code: z.string().nullish(),
          field: z.string().nullish(),
          field_message: z.string().nullish(),
        }),
      )
      .nullish(),
    total_created: z.number().int().nonnegative().nullish(),
    total_updated: z.number().int().nonnegative().nullish(),
    error_count: z.number().int().nonnegative().nullish(),
  })
  .refine((body) => body.total_created != null || body.new_members != null || body.errors != null, { message: 'not a batch answer' });

// Consent outcomes, not data errors: the vendor will not (re-)add these people, by their choice.
const CONSENT_ERRORS = /compliance state|permanently deleted/i;

/** The batch answer → counts and per-member failures. */
export function fromBatchResult(body: unknown): BatchResult {
  const parsed = batchAnswer.safeParse(body);
  if (!parsed.success) throw new DestinationError('vendorUnavailable', 'Mailchimp answered the batch subscribe with an unexpected body');
  const answer = parsed.data;
  const created = answer.total_created ?? answer.new_members?.length ?? 0;
  const updated = answer.total_updated ?? answer.updated_members?.length ?? 0;
  const failures: RecordFailure[] = (answer.errors ?? []).map((failure) => {
    const base = failure.error?.trim() || `Mailchimp rejected the member (${failure.error_code ?? 'no code'})`;
    const field = failure.field ? ` (${failure.field}${failure.field_message ? `: ${failure.field_message}` : ''})` : '';
    return {
      email: (failure.email_address ?? '').trim().toLowerCase(),
      status: CONSENT_ERRORS.test(base) ? 'skipped' : 'failed',
      category: 'invalidRecord',
      code: failure.error_code ?? 'ERROR_GENERIC',
      message: `${base}${field}`,
    };
  });
  return { succeeded: created + updated, failures };
}

function vendorUrl(call: Call, path: string): string {
  const dataCenter = dataCenterOf(call.secrets.apiKey);
  if (!dataCenter) throw new DestinationError('config', MISSING_DATA_CENTER);
  return withApiOrigin(`https://${dataCenter}.api.mailchimp.com/3.0${path}`, call.apiOrigin);
}

function authorization(call: Call): Record<string, string> {
  // Any user name works; the official clients send "user".
  return { authorization: `Basic ${Buffer.from(`user:${call.secrets.apiKey.trim()}`).toString('base64')}` };
}

async function send(call: Call, method: string, path: string, json?: unknown): Promise<VendorResponse> {
  const response = await callVendor({
    method,
    url: vendorUrl(call, path),
    headers: authorization(call),
    json,
    signal: call.signal,
    timeoutMs: CALL_TIMEOUT_MS,
    passStatuses: [403, 429],
  });
  if (response.status === 403 || response.status === 429) throw refusal(response, path);
  return response;
}

/** True when the answer carries no problem document (empty, or not JSON). */
function isBodiless(body: unknown): boolean {
  return !body || typeof body !== 'object';
}

/**
 * 429 and 403 answers. "At exceptionally high volumes, you may receive an HTTP 429 or 403 without
 * a JSON body" (fern-marketing-api-docs pages/api-concepts/rate-limits-and-timeouts.mdx): a 403
 * without a problem document is that throttle, retried like a 429; a 403 with one is a refusal of
 * the key (wrong role, disabled account) and stays an auth failure. No Retry-After is documented,
 * so the engine's own backoff applies when none comes.
 */
export function refusal(response: VendorResponse, path: string): DestinationError {
  const wait = retryAfterMs(response.headers);
  if (response.status === 429) {
    return new DestinationError(
      'rateLimited',
      `Mailchimp throttled ${path} (429${isBodiless(response.body) ? ' without a body' : `: ${describeProblem(response)}`})`,
      {
        status: 429,
        code: 'TooManyRequests',
        retryAfterMs: wait,
      },
    );
  }
  if (isBodiless(response.body)) {
    return new DestinationError('rateLimited', `Mailchimp throttled ${path} (403 without a body, its high-volume throttle)`, {
      status: 403,
      code: 'BodilessForbidden',
      retryAfterMs: wait,
    });
  }
  return new DestinationError('auth', `The destination refused the credentials (403: ${describeProblem(response)})`, {
    status: 403,
    code: problemOf(response.body).title,
  });
}

interface Problem {
  title?: string;
  detail?: string;
  errors?: { field?: string; message?: string }[];
}

function problemOf(body: unknown): Problem {
  if (!body || typeof body !== 'object') return {};
  const record = body as Record<string, unknown>;
  return {
    title: typeof record.title === 'string' ? record.title : undefined,
    detail: typeof record.detail === 'string' ? record.detail : undefined,
    errors: Array.isArray(record.errors) ? (record.errors as Problem['errors']) : undefined,
  };
}

function describeProblem(response: VendorResponse): string {
  const problem = problemOf(response.body);
  const fields = (problem.errors ?? []).map((error) => `${error.field ?? '?'}: ${error.message ?? ''}`.trim()).join('; ');
  const text = [problem.title, problem.detail].filter(Boolean).join(': ') || `HTTP ${response.status}`;
  return fields ? `${text} (${fields})` : text;
}

/** Any answer the adapter does not read as a result: a whole-call failure. */
function callFailed(call: Call, response: VendorResponse, what: string): DestinationError {
  const options = { status: response.status, code: problemOf(response.body).title };
  if (response.status === 404) {
    return new DestinationError(
      'config',
      `${what}: the audience '${call.details.listId}' does not exist for this API key (${describeProblem(response)})`,
      options,
    );
  }
  // Schema errors naming a member ("members.3.…") are about that member's content: the engine
  // splits the batch to isolate it. Anything else is about the request or the account.
  if (response.status === 400 && (problemOf(response.body).errors ?? []).some((error) => /^members\.\d+/.test(error.field ?? ''))) {
    return new DestinationError('invalidRecord', `${what} was refused: ${describeProblem(response)}`, options);
  }
  return new DestinationError('config', `${what} was refused: ${describeProblem(response)}`, options);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Setup calls are few and idempotent: a transient failure is retried here rather than re-planning the run. */
async function withRetries<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof DestinationError) || !error.retryable || attempt >= attempts) throw error;
      await sleep(Math.min(5000, error.options.retryAfterMs ?? 200 * 2 ** (attempt - 1)));
    }
  }
}

const audienceAnswer = z.object({ id: z.string(), name: z.string().optional(), double_optin: z.boolean().optional() });

async function readAudience(call: Call): Promise<z.infer<typeof audienceAnswer>> {
  const response = await send(call, 'GET', `/lists/${encodeURIComponent(call.details.listId)}?fields=id,name,double_optin`);
  if (response.status !== 200) throw callFailed(call, response, 'Reading the audience');
  const parsed = audienceAnswer.safeParse(response.body);
  if (!parsed.success) throw new DestinationError('vendorUnavailable', 'Mailchimp answered the audience read with an unexpected body');
  return parsed.data;
}

const mergeFieldPage = z.object({
  merge_fields: z.array(z.object({ tag: z.string(), name: z.string().nullish(), type: z.string().nullish() })),
  total_items: z.number().int().nonnegative().optional(),
});
type ExistingField = z.infer<typeof mergeFieldPage>['merge_fields'][number];

async function readMergeFields(call: Call): Promise<ExistingField[]> {
  const fields: ExistingField[] = [];
  // Audiences hold tens of fields at most; the bound only guards against a misbehaving answer.
  for (let offset = 0; offset < 100 * PAGE_SIZE; offset += PAGE_SIZE) {
    const response = await send(
      call,
      'GET',
      `/lists/${encodeURIComponent(call.details.listId)}/merge-fields?count=${PAGE_SIZE}&offset=${offset}`,
    );
    if (response.status !== 200) throw callFailed(call, response, 'Reading the audience fields');
    const parsed = mergeFieldPage.safeParse(response.body);
    if (!parsed.success) throw new DestinationError('vendorUnavailable', 'Mailchimp answered the merge-field read with an unexpected body');
    fields.push(...parsed.data.merge_fields);
    const total = parsed.data.total_items ?? fields.length;
    if (parsed.data.merge_fields.length < PAGE_SIZE || fields.length >= total) break;
  }
  return fields;
}

function normalizedName(name: string): string {
  return name.replace(/[^a-z0-9]+/gi, '').toLowerCase();
}

/** By tag first; else a field the audience owner created under the same name with another tag. */
function findField(fields: ExistingField[], field: MergeFieldName): ExistingField | undefined {
  const { tag, name } = MERGE_FIELDS[field];
  return (
    fields.find((existing) => existing.tag.toUpperCase() === tag) ??
    fields.find((existing) => existing.name && normalizedName(existing.name) === normalizedName(name))
  );
}

/** Finds or creates the merge field of every mapped field; safe when two runs do it at once. */
async function ensureMergeFields(call: Call, wanted: MergeFieldName[]): Promise<Record<string, string>> {
  const path = `/lists/${encodeURIComponent(call.details.listId)}/merge-fields`;
  let existing = await withRetries(() => readMergeFields(call));
  const tags: Record<string, string> = {};
  const refused: { tag: string; reason: string }[] = [];
  for (const field of wanted) {
    const found = findField(existing, field);
    if (found) {
      tags[field] = found.tag;
      continue;
    }
    const { tag, name } = MERGE_FIELDS[field];
    let reason: string;
    try {
      const response = await withRetries(() =>
        // Synced from the platform: not on the signup form, never required of subscribers.
        send(call, 'POST', path, { name, tag, type: 'text', required: false, public: false }),
      );
      if (response.status >= 200 && response.status < 300) {
        const created = (response.body as { tag?: unknown } | undefined)?.tag;
        tags[field] = typeof created === 'string' && created ? created : tag;
        continue;
      }
      reason = describeProblem(response);
    } catch (error) {
      // A key that may read but not change the audience (user role): 403.
      if (!(error instanceof DestinationError && error.category === 'auth' && error.options.status === 403)) throw error;
      reason = error.message;
    }
    // Refused: another run may have created it since our read (duplicate tag). Read again.
    existing = await withRetries(() => readMergeFields(call));
    const raced = findField(existing, field);
    if (raced) tags[field] = raced.tag;
    else refused.push({ tag, reason });
  }
  if (refused.length > 0) {
    const names = refused.map((item) => item.tag).join(', ');
    throw new DestinationError(
      'config',
      `Mailchimp refused to create the audience field${refused.length === 1 ? '' : 's'} ${names} in audience '${call.details.listId}' (${refused[0]!.reason}). ` +
        'Create them in Audience → Settings → Audience fields and merge tags, or remove them from the mapping.',
    );
  }
  return tags;
}

export const mailchimp: DestinationAdapter<MailchimpSettings, MailchimpSecrets, MailchimpDetails> = {
  type: 'mailchimp',
  displayName: 'Mailchimp',
  connectionSettings: settingsSchema,
  connectionSecrets: secretsSchema,
  exportDetails: detailsSchema,
  dataMatching,
  batchSize: MAILCHIMP_BATCH_LIMIT,
  removalBatchSize: MAILCHIMP_BATCH_LIMIT,
  limits: {
    // No per-export cap is published (audience size is a plan matter): 1,000,000, the seeds' scale.
    maxMembersPerExport: 1_000_000,
    // The vendor limits concurrency, not rate. A 500-member upsert takes on the order of a second
    // there, so 10 connections sustain about 10 calls/s; a bucket of 10/s (burst 10) never binds
    // before the connection cap does, yet stops fast-failing calls from hammering the API.
    // 1M members = 2,000 calls ≈ 200 s at that rate.
    requestsPerSecond: 10,
    burst: 10,
    // "10 simultaneous connections … per user": the engine's slots are shared by every run.
    maxConcurrentRequests: 10,
  },
  eligibleSegmentTypes: ['Profile', 'Contact'],
  exportKinds: ['segment'],
  apiUrlSetting: 'MAILCHIMP_API_URL',

  async testConnection(call) {
    if (!dataCenterOf(call.secrets.apiKey ?? '')) return { ok: false, reason: MISSING_DATA_CENTER };
    try {
      const response = await send(call, 'GET', '/ping');
      if (response.status !== 200) return { ok: false, reason: `GET /ping answered ${describeProblem(response)}` };
      return { ok: true };
    } catch (error) {
      if (error instanceof DestinationError) return { ok: false, reason: error.message };
      throw error;
    }
  },

  async prepareRun(call, run) {
    const audience = await withRetries(() => readAudience(call));
    const statusIfNew: StatusIfNew = call.details.statusIfNew ?? (audience.double_optin ? 'pending' : 'subscribed');
    const wanted = (Object.keys(MERGE_FIELDS) as MergeFieldName[]).filter((field) => run.mappedFields.includes(field));
    const mergeTags = wanted.length > 0 ? await ensureMergeFields(call, wanted) : {};
    return { ...call.details, statusIfNew, mergeTags };
  },

  async sendBatch(call, members) {
    if (members.length === 0) return { succeeded: 0, failures: [] };
    const { unique, skipped } = withoutDuplicatesInBatch(members, 'DuplicateInBatch');
    if (unique.length > MAILCHIMP_BATCH_LIMIT) {
      throw new DestinationError(
        'config',
        `A batch holds ${unique.length} members; Mailchimp takes at most ${MAILCHIMP_BATCH_LIMIT} per call.`,
      );
    }
    const options = { mergeTags: call.details.mergeTags, statusIfNew: call.details.statusIfNew };
    const body = {
      members: unique.map((member) => toMailchimpMember(member, options)),
      // Upsert: existing contacts get their fields updated; with only status_if_new sent, their
      // subscription status is left as it is.
      update_existing: true,
    };
    // Fields the audience owner marked required but the platform does not supply must not reject
    // every new contact of a sync (the vendor documents this bypass for such cases).
    const response = await send(call, 'POST', `/lists/${encodeURIComponent(call.details.listId)}?skip_merge_validation=true`, body);
    if (response.status !== 200) throw callFailed(call, response, 'The batch subscribe');
    const result = fromBatchResult(response.body);
    return { succeeded: result.succeeded, failures: [...result.failures, ...skipped] };
  },
  async removeBatch(call, members) {
    if (members.length === 0) return { succeeded: 0, failures: [] };
    const { unique, skipped } = withoutDuplicatesInBatch(members, 'DuplicateInBatch');
    if (unique.length > MAILCHIMP_BATCH_LIMIT) {
      throw new DestinationError(
        'config',
        `A removal batch holds ${unique.length} members; Mailchimp takes at most ${MAILCHIMP_BATCH_LIMIT} per call.`,
      );
    }
    // `status` (not status_if_new) so existing contacts change: the unsubscribe is the removal.
    const body = { members: unique.map((member) => ({ email_address: member.email, status: 'unsubscribed' })), update_existing: true };
    const response = await send(call, 'POST', `/lists/${encodeURIComponent(call.details.listId)}?skip_merge_validation=true`, body);
    if (response.status !== 200) throw callFailed(call, response, 'The batch unsubscribe');
    const result = fromBatchResult(response.body);
    // A contact permanently deleted from the audience, or held in a compliance state, is not
    // on the list: already absent, which is what was asked.
    const absent = result.failures.filter((failure) => failure.status === 'skipped');
    return {
      succeeded: result.succeeded + absent.length,
      failures: [...result.failures.filter((failure) => failure.status !== 'skipped'), ...skipped],
    };
  },
};
