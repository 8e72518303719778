// Klaviyo adapter: each engine batch becomes one bulk profile import job that upserts the profiles
// and adds them to the export's list, polled until it ends; the job's import errors come back as
// per-record failures. An import is an upsert by email, and list membership is a set, so a batch
// sent again never puts anyone in the list twice.
//
// Confirmed from primary sources (API revision 2026-07-15, the one the official Node client
// `klaviyo-api` 23.0.0 sends; its api/apis.ts, api/profilesApi.ts, api/listsApi.ts, model/*):
// - Base https://a.klaviyo.com; every call carries `Authorization: Klaviyo-API-Key <private key>`
//   and a `revision` header (required; ApiKeySession.applyToRequest). JSON:API bodies,
//   content type application/vnd.api+json.
// - `POST /api/profile-bulk-import-jobs` (Bulk Import Profiles, aliases spawn_bulk_profile_import_job):
//   {data: {type: 'profile-bulk-import-job', attributes: {profiles: {data: [{type: 'profile',
//   attributes: {email, phone_number, first_name, last_name, location: {city, country, zip}}}]}},
//   relationships: {lists: {data: [{type: 'list', id}]}}}}. "Accepts up to 10,000 profiles per
//   request. The maximum allowed payload size is 5MB. The maximum allowed payload size per-profile
//   is 100KB." Rate limits burst 10/s, steady 150/m; scopes lists:write profiles:write
//   (developers.klaviyo.com/en/reference/bulk_import_profiles). It is an upsert, optionally into a
//   list (developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api).
// - `GET /api/profile-bulk-import-jobs/{job_id}` → attributes {status: queued | processing |
//   complete | cancelled, total_count, completed_count, failed_count, created_at, started_at,
//   completed_at, expires_at}; same M tier (get_bulk_import_profiles_job).
// - `GET /api/profile-bulk-import-jobs/{id}/import-errors` → data: [{type: 'import-error', id,
//   attributes: {code, title, detail, source: {pointer}, original_payload}}], cursor pages
//   (page[size] default 20, max 100; links.next); same M tier (get_errors_for_bulk_import_profiles_job).
// - `GET /api/lists/{id}`: burst 75/s, steady 750/m (get_list). `GET /api/accounts` lists the
//   key's account (accountsApi.getAccounts): the connection test.
// - Rate limits are per account, fixed windows of 1 s (burst) and 1 min (steady), tiers XS 1/s
//   15/m, S 3/s 60/m, M 10/s 150/m, L 75/s 700/m, XL 350/s 3500/m; private keys of one account
//   share the quota; over it: HTTP 429 (developers.klaviyo.com/en/docs/rate_limits_and_error_handling).
//   The official client retries 429, 503, 504, 524 waiting at least the `Retry-After` seconds
//   (RetryWithExponentialBackoff in api/apis.ts).
// - Phone numbers are E.164 (model ProfileUpsertQueryResourceObjectAttributes).
//
// Not confirmed (how the adapter copes): the body of a 429 (read as JSON:API errors, else text);
// whether polls share the import call's quota (they have their own endpoint tier; polls are spaced
// and a 429 while polling waits instead of failing the batch); the error codes an import reports
// per profile (each becomes a failed record with Klaviyo's own code and detail); whether a
// cancelled job kept part of its profiles (the batch is handed back as retryable, which upserts).
// - Removal: `DELETE /api/lists/{id}/relationships/profiles` {data: [{type: 'profile', id}]}
//   ("Remove Profiles from List": no longer receives marketing from this list, consent and
//   subscription untouched; at most 1,000 profiles per call; burst 10/s, steady 150/m — listsApi
//   removeProfilesFromList). It takes profile ids: `GET /api/lists/{id}/relationships/profiles`
//   with `filter=any(email,[…])` ("Get Profile IDs for List", filter on email any/equals, page[size]
//   at most 100; burst 75/s, steady 750/m — listsApi getProfileIdsForList) gives the ids of the
//   list's members among the emails; an email it does not return is not in the list (already
//   absent). So a removal batch is 100 emails, one lookup and one delete: removalCallsPerBatch 2.
//   The Unsubscribe Profiles bulk job would take emails directly but changes consent, which a
//   member leaving a segment did not ask for.
import { z } from 'zod';
import type { BatchResult, DestinationAdapter, DestinationCall, MappedMember, RecordFailure } from './destination.js';
import { DestinationError } from './destinationError.js';
import { personFields } from './personFields.js';
import { withoutDuplicatesInBatch } from './duplicatesInBatch.js';
import { callVendor, sleep, withApiOrigin, type VendorResponse } from './vendorHttp.js';

export const KLAVIYO_BASE = 'https://a.klaviyo.com';
/** The revision the official client 23.0.0 sends. */
export const KLAVIYO_REVISION = '2026-07-15';
export const MAX_PROFILES_PER_JOB = 10_000;
/** Emails per removal: the largest page of "Get Profile IDs for List", so one lookup finds them all. */
export const REMOVAL_LOOKUP_PAGE = 100;
export const MAX_JOB_PAYLOAD_BYTES = 5 * 1024 * 1024;
export const MAX_PROFILE_BYTES = 100 * 1024;
/** Error pages: the documented maximum page size. */
const ERRORS_PAGE_SIZE = 100;

const settingsSchema = z.object({});
const secretsSchema = z.object({
  apiKey: z
    .string()
    .trim()
    .min(1)
    .describe(
      'Private API key (Settings → API keys; starts pk_) with the scopes accounts:read, lists:read, lists:write, profiles:read, profiles:write.',
    ),
});
const detailsSchema = z.object({
  listId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9]{1,64}$/, 'must be a Klaviyo list id such as XyZ123')
    .describe("ID of the Klaviyo list the profiles join (shown in the list's URL and settings)."),
});

export type KlaviyoSettings = z.infer<typeof settingsSchema>;
export type KlaviyoSecrets = z.infer<typeof secretsSchema>;
export type KlaviyoDetails = z.infer<typeof detailsSchema>;
type Call = DestinationCall<KlaviyoSettings, KlaviyoSecrets, KlaviyoDetails>;

const dataMatching = personFields({
  email: 'Profile email: identifies the profile; importing it again updates the same profile.',
  firstName: 'Profile first_name.',
  lastName: 'Profile last_name.',
  phone: 'Profile phone_number, sent in E.164 (+4791234567); a number that cannot be read as E.164 is left out.',
  city: 'Profile location.city.',
  country: 'Profile location.country.',
  postalCode: 'Profile location.zip.',
});

// ---- pure converters (table-tested) --------------------------------------------------------------

export interface KlaviyoProfile {
  type: 'profile';
  attributes: {
    email: string;
    phone_number?: string;
    first_name?: string;
    last_name?: string;
    location?: { city?: string; country?: string; zip?: string };
  };
}

/** A phone number in E.164, or undefined when it cannot be read as one. */
export function toE164(phone: string): string | undefined {
  const compact = phone.replace(/[\s\-.()]/g, '').replace(/^00/, '+');
  return /^\+[1-9]\d{6,14}$/.test(compact) ? compact : undefined;
}

/** One mapped member → one profile of the import; blank values are left out (they would blank the profile). */
export function toKlaviyoProfile(member: MappedMember): KlaviyoProfile {
  const value = (name: string) => member.fields[name]?.trim() || undefined;
  const attributes: KlaviyoProfile['attributes'] = { email: member.email };
  const phone = value('phone') && toE164(value('phone')!);
  if (phone) attributes.phone_number = phone;
  if (value('firstName')) attributes.first_name = value('firstName');
  if (value('lastName')) attributes.last_name = value('lastName');
  const location = { city: value('city'), country: value('country'), zip: value('postalCode') };
  const present = Object.fromEntries(Object.entries(location).filter(([, part]) => part !== undefined));
  if (Object.keys(present).length > 0) attributes.location = present;
  return { type: 'profile', attributes };
}

/** The Bulk Import Profiles body for these profiles into one list. */
export function toImportJobBody(profiles: KlaviyoProfile[], listId: string): unknown {
  return {
    data: {
      type: 'profile-bulk-import-job',
      attributes: { profiles: { data: profiles } },
      relationships: { lists: { data: [{ type: 'list', id: listId }] } },
    },
  };
}

/**
 * Profiles → import bodies of at most 10,000 profiles and 5 MB each; a profile over 100 KB on its
 * own is returned apart (Klaviyo would refuse it).
 */
export function toImportJobs(
  profiles: KlaviyoProfile[],
  listId: string,
  maxProfiles = MAX_PROFILES_PER_JOB,
  maxBytes = MAX_JOB_PAYLOAD_BYTES,
): { jobs: KlaviyoProfile[][]; oversized: KlaviyoProfile[] } {
  const envelope = Buffer.byteLength(JSON.stringify(toImportJobBody([], listId)));
  const jobs: KlaviyoProfile[][] = [];
  const oversized: KlaviyoProfile[] = [];
  let current: KlaviyoProfile[] = [];
  let bytes = envelope;
  for (const profile of profiles) {
    const size = Buffer.byteLength(JSON.stringify(profile)) + 1;
    if (size > MAX_PROFILE_BYTES) {
      oversized.push(profile);
      continue;
    }
    if (current.length > 0 && (current.length >= maxProfiles || bytes + size > maxBytes)) {
      jobs.push(current);
      current = [];
      bytes = envelope;
    }
    current.push(profile);
    bytes += size;
  }
  if (current.length > 0) jobs.push(current);
  return { jobs, oversized };
}

/** The first JSON:API error of an answer, if any. */
export function firstError(body: unknown): { code?: string; title?: string; detail?: string } | undefined {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const error = errors[0] as Record<string, unknown>;
  const text = (key: string) => (typeof error[key] === 'string' ? (error[key] as string) : undefined);
  return { code: text('code'), title: text('title'), detail: text('detail') };
}

/** The lower-cased email an import error names: its original payload, else undefined. */
function emailOfImportError(attributes: Record<string, unknown>): string | undefined {
  const payload = (attributes.original_payload ?? attributes.originalPayload) as Record<string, unknown> | undefined;
  const email = payload?.email ?? (payload?.attributes as Record<string, unknown> | undefined)?.email;
  return typeof email === 'string' ? email.trim().toLowerCase() : undefined;
}

/** One page of import errors → per-record failures (errors naming no profile are counted apart). */
export function fromImportErrors(body: unknown): { failures: RecordFailure[]; unnamed: number; next?: string } {
  const record = (body ?? {}) as { data?: unknown; links?: { next?: unknown } };
  if (!Array.isArray(record.data)) throw new DestinationError('vendorUnavailable', 'Klaviyo answered import-errors without a data array');
  const failures: RecordFailure[] = [];
  let unnamed = 0;
  for (const item of record.data as { attributes?: Record<string, unknown> }[]) {
    const attributes = item?.attributes ?? {};
    const email = emailOfImportError(attributes);
    if (!email) {
      unnamed++;
      continue;
    }
    const code = typeof attributes.code === 'string' && attributes.code ? attributes.code : 'import_error';
    const detail = typeof attributes.detail === 'string' ? attributes.detail : typeof attributes.title === 'string' ? attributes.title : '';
    failures.push({
      email,
      status: 'failed',
      category: 'invalidRecord',
      code,
      message: `Klaviyo did not import this profile${detail ? `: ${detail.slice(0, 300)}` : '.'}`,
    });
  }
  const next = typeof record.links?.next === 'string' && record.links.next ? record.links.next : undefined;
  return { failures, unnamed, next };
}

export interface JobState {
  id: string;
  status: string;
  totalCount: number;
  failedCount: number;
}

export function readJob(body: unknown): JobState {
  const data = (body as { data?: { id?: unknown; attributes?: Record<string, unknown> } } | undefined)?.data;
  const attributes = data?.attributes ?? {};
  if (typeof data?.id !== 'string' || typeof attributes.status !== 'string')
    throw new DestinationError('vendorUnavailable', 'Klaviyo answered without a bulk import job');
  const count = (key: string) => (typeof attributes[key] === 'number' ? (attributes[key] as number) : 0);
  return { id: data.id, status: attributes.status, totalCount: count('total_count'), failedCount: count('failed_count') };
}

// ---- HTTP ------------------------------------------------------------------------------------------

export interface JobPolling {
  /** First wait before reading the job; later waits grow by `factor` up to `maxDelayMs`. */
  firstDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** Longest wait for one job before the batch is handed back to the engine as retryable. */
  maxWaitMs: number;
  /** Transient failures in a row (5xx, 429, network) tolerated while polling or reading errors. */
  maxConsecutiveErrors: number;
}

// 0.5, 1, 2, 4 … 15 s: a 10,000-profile job takes seconds to a minute, so a few polls each.
export const DEFAULT_POLLING: JobPolling = {
  firstDelayMs: 500,
  factor: 2,
  maxDelayMs: 15_000,
  maxWaitMs: 30 * 60_000,
  maxConsecutiveErrors: 8,
};

function refused(response: VendorResponse, what: string): DestinationError {
  const error = firstError(response.body);
  const text = error?.detail ?? error?.title ?? (typeof response.body === 'string' ? response.body.slice(0, 200) : '');
  const options = { status: response.status, code: error?.code };
  if (response.status === 404)
    return new DestinationError('config', `${what}: Klaviyo does not know it (404${text ? `: ${text}` : ''}).`, options);
  if (response.status === 413)
    return new DestinationError('config', `${what}: the payload is larger than Klaviyo accepts (${text || '413'}).`, options);
  return new DestinationError('config', `${what} was refused (${response.status}${text ? `: ${text}` : ''}).`, options);
}

export interface KlaviyoAdapterOptions {
  polling?: Partial<JobPolling>;
}

export function createKlaviyoAdapter(
  options: KlaviyoAdapterOptions = {},
): DestinationAdapter<KlaviyoSettings, KlaviyoSecrets, KlaviyoDetails> {
  const polling: JobPolling = { ...DEFAULT_POLLING, ...options.polling };

  async function send(call: Call, method: string, pathAndQuery: string, json?: unknown): Promise<VendorResponse> {
    return callVendor({
      method,
      url: withApiOrigin(`${KLAVIYO_BASE}${pathAndQuery}`, call.apiOrigin),
      headers: {
        authorization: `Klaviyo-API-Key ${call.secrets.apiKey}`,
        revision: KLAVIYO_REVISION,
        accept: 'application/vnd.api+json',
        ...(json === undefined ? {} : { 'content-type': 'application/vnd.api+json' }),
      },
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: call.signal,
    });
  }

  /** Retries transient failures of an idempotent read, honouring Klaviyo's wait. */
  async function patiently<T>(call: Call, work: () => Promise<T>): Promise<T> {
    let delay = polling.firstDelayMs;
    for (let failures = 0; ; failures++) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof DestinationError) || !error.retryable || failures >= polling.maxConsecutiveErrors) throw error;
        await sleep(Math.max(delay, error.options.retryAfterMs ?? 0), call.signal);
        delay = Math.min(polling.maxDelayMs, delay * polling.factor);
      }
    }
  }

  async function waitForJob(call: Call, jobId: string): Promise<JobState> {
    const deadline = Date.now() + polling.maxWaitMs;
    let delay = polling.firstDelayMs;
    for (;;) {
      await sleep(delay, call.signal);
      const job = await patiently(call, async () => {
        const response = await send(call, 'GET', `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}`);
        if (response.status !== 200) throw refused(response, `Bulk import job ${jobId}`);
        return readJob(response.body);
      });
      if (job.status === 'complete' || job.status === 'cancelled') return job;
      delay = Math.min(polling.maxDelayMs, delay * polling.factor);
      if (Date.now() + delay > deadline)
        throw new DestinationError(
          'vendorUnavailable',
          `Klaviyo bulk import job ${jobId} was still ${job.status} after ${Math.round(polling.maxWaitMs / 60_000)} minutes`,
        );
    }
  }

  async function importErrors(call: Call, jobId: string): Promise<{ failures: RecordFailure[]; unnamed: number }> {
    const failures: RecordFailure[] = [];
    let unnamed = 0;
    let path: string | undefined =
      `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}/import-errors?page%5Bsize%5D=${ERRORS_PAGE_SIZE}`;
    while (path) {
      const page = await patiently(call, async () => {
        const response = await send(call, 'GET', path!);
        if (response.status !== 200) throw refused(response, `Reading the errors of bulk import job ${jobId}`);
        return fromImportErrors(response.body);
      });
      failures.push(...page.failures);
      unnamed += page.unnamed;
      // links.next is an absolute vendor URL; only its path and query are followed.
      path = page.next ? `${new URL(page.next, KLAVIYO_BASE).pathname}${new URL(page.next, KLAVIYO_BASE).search}` : undefined;
    }
    return { failures, unnamed };
  }

  async function importJob(call: Call, profiles: KlaviyoProfile[]): Promise<BatchResult> {
    const response = await send(call, 'POST', '/api/profile-bulk-import-jobs', toImportJobBody(profiles, call.details.listId));
    if (response.status !== 202 && response.status !== 200 && response.status !== 201) {
      const error = firstError(response.body);
      if (response.status === 404 && /list/i.test(error?.detail ?? '')) {
        throw new DestinationError('config', `List ${call.details.listId} cannot take the import: ${error?.detail ?? 'refused'}`, {
          status: 404,
          code: error?.code,
        });
      }
      throw refused(response, 'The bulk profile import');
    }
    const started = readJob(response.body);
    const job = await waitForJob(call, started.id);
    if (job.status === 'cancelled')
      throw new DestinationError('vendorUnavailable', `Klaviyo cancelled bulk import job ${job.id}`, { code: 'cancelled' });
    if (job.failedCount === 0) return { succeeded: profiles.length, failures: [] };
    const { failures, unnamed } = await importErrors(call, job.id);
    const sent = new Set(profiles.map((profile) => profile.attributes.email));
    const named = failures.filter((failure) => sent.has(failure.email));
    // An error naming no profile of this job cannot be listed per record; it is reported once, as
    // the job's, so the batch's counts still add up to what Klaviyo says it failed.
    if (unnamed > 0 && named.length < job.failedCount) {
      named.push({
        email: '',
        status: 'failed',
        category: 'invalidRecord',
        code: 'unattributedImportError',
        message: `Klaviyo reported ${job.failedCount - named.length} failed profile(s) in job ${job.id} without naming them.`,
      });
    }
    return { succeeded: Math.max(0, profiles.length - named.length), failures: named };
  }

  return {
    type: 'klaviyo',
    displayName: 'Klaviyo',
    connectionSettings: settingsSchema,
    connectionSecrets: secretsSchema,
    exportDetails: detailsSchema,
    dataMatching,
    batchSize: MAX_PROFILES_PER_JOB,
    removalBatchSize: REMOVAL_LOOKUP_PAGE,
    removalCallsPerBatch: 2,
    // Each job: one create call and status polls (import errors are read only when some failed).
    // Klaviyo documents no job duration; 30 s per 10,000 profiles is an assumption the plan states.
    importJob: { fixedCalls: 0, polling, typicalSeconds: 30 },
    limits: {
      // The seeds' default cap per export; a connection may lower it.
      maxMembersPerExport: 1_000_000,
      // One engine token per import job: Bulk Import Profiles is tier M, 150/min steady with a
      // burst of 10 per second. 1M profiles = 100 jobs ≈ 40 s of the steady rate.
      requestsPerSecond: 150 / 60,
      burst: 10,
      // Each job in flight polls; ten keeps the polls of one account within their own tier.
      maxConcurrentRequests: 10,
    },
    eligibleSegmentTypes: ['Profile', 'Contact'],
    exportKinds: ['segment'],
    apiUrlSetting: 'KLAVIYO_API_URL',

    async testConnection(call) {
      try {
        const response = await send(call, 'GET', '/api/accounts');
        if (response.status !== 200) return { ok: false, reason: refused(response, 'Reading the account').message };
        return { ok: true };
      } catch (error) {
        if (error instanceof DestinationError) return { ok: false, reason: error.message };
        throw error;
      }
    },

    async prepareRun(call) {
      // Fails the run at once, rather than after the first job, when the list is wrong.
      const response = await send(call, 'GET', `/api/lists/${encodeURIComponent(call.details.listId)}`);
      if (response.status === 404)
        throw new DestinationError('config', `List ${call.details.listId} does not exist in this Klaviyo account.`, {
          status: 404,
          code: firstError(response.body)?.code,
        });
      if (response.status !== 200) throw refused(response, `Reading list ${call.details.listId}`);
      return call.details;
    },

    async sendBatch(call, members) {
      if (members.length === 0) return { succeeded: 0, failures: [] };
      const { unique, skipped } = withoutDuplicatesInBatch(members, 'duplicateInBatch');
      const { jobs, oversized } = toImportJobs(unique.map(toKlaviyoProfile), call.details.listId);
      const failures: RecordFailure[] = oversized.map((profile) => ({
        email: profile.attributes.email,
        status: 'failed',
        category: 'invalidRecord',
        code: 'profileTooLarge',
        message: `The profile is larger than Klaviyo accepts in an import (${MAX_PROFILE_BYTES / 1024} KB).`,
      }));
      let succeeded = 0;
      for (const profiles of jobs) {
        const result = await importJob(call, profiles);
        succeeded += result.succeeded;
        failures.push(...result.failures);
      }
      return { succeeded, failures: [...failures, ...skipped] };
    },

    async removeBatch(call, members) {
      if (members.length === 0) return { succeeded: 0, failures: [] };
      const emails = [...new Set(members.map((member) => member.email.trim().toLowerCase()))];
      if (emails.length > REMOVAL_LOOKUP_PAGE) {
        throw new DestinationError(
          'config',
          `A removal batch holds ${emails.length} emails; one Klaviyo lookup finds at most ${REMOVAL_LOOKUP_PAGE}.`,
        );
      }
      const listPath = `/api/lists/${encodeURIComponent(call.details.listId)}/relationships/profiles`;
      const query = new URLSearchParams({ filter: `any(email,${JSON.stringify(emails)})`, 'page[size]': String(REMOVAL_LOOKUP_PAGE) });
      const lookup = await send(call, 'GET', `${listPath}?${query.toString()}`);
      if (lookup.status !== 200) throw refused(lookup, `Finding the list members to remove from list ${call.details.listId}`);
      const ids = z.object({ data: z.array(z.object({ type: z.literal('profile'), id: z.string() })) }).safeParse(lookup.body);
      if (!ids.success) throw new DestinationError('vendorUnavailable', 'Klaviyo answered the list members lookup with an unexpected body');
      if (ids.data.data.length > 0) {
        const removed = await patiently(call, () =>
          send(call, 'DELETE', listPath, { data: ids.data.data.map((profile) => ({ type: 'profile', id: profile.id })) }),
        );
        if (removed.status < 200 || removed.status >= 300) throw refused(removed, `Removing profiles from list ${call.details.listId}`);
      }
      // Emails the lookup did not return are not in the list: already absent.
      return { succeeded: members.length, failures: [] };
    },
  };
}

export const klaviyo = createKlaviyoAdapter();
