// Google Ads Customer Match adapter: each engine batch becomes one offline user data job of type
// CUSTOMER_MATCH_USER_LIST — created, filled with one create operation per member (identifiers
// normalized and SHA-256 hashed), run, and polled until SUCCESS or FAILED. Operations Google
// refuses come back (partial failure) as per-record failures. A user list is a set of people, so a
// batch sent again adds nobody twice.
//
// Confirmed from primary sources:
// - REST over https://googleads.googleapis.com, version v26 (the reference's "latest active
//   version", developers.google.com/google-ads/api/reference/rpc/v26; v25 released 2026-07-22,
//   release notes). Paths from the service protos (googleapis/googleapis
//   google/ads/googleads/v25/services/offline_user_data_job_service.proto, the same since v8):
//   `POST /v26/customers/{customerId}/offlineUserDataJobs:create` {job, enableMatchRateRangePreview}
//   → {resourceName}; `POST /v26/{resourceName}:addOperations` {operations, enablePartialFailure,
//   enableWarnings} → {partialFailureError: google.rpc.Status}; `POST /v26/{resourceName}:run` →
//   a long-running Operation. OAuth scope https://www.googleapis.com/auth/adwords.
// - Operations: create | remove (UserData) | removeAll; "Maximum number of user identifiers allowed
//   per request is 100,000 and per operation is 20" (OfflineUserDataJobError.TOO_MANY_USER_IDENTIFIERS,
//   errors/offline_user_data_job_error.proto); INVALID_SHA256_FORMAT, INVALID_COUNTRY_CODE,
//   MISSING_USER_IDENTIFIER, JOB_ALREADY_STARTED, CONFLICTING_OPERATION (no creates and removes in
//   one job). Google's support suggests about 10,000 identifiers per request for speed (Google Ads
//   API forum, adwords-api msg113667).
// - The official example (googleads/google-ads-python examples/remarketing/
//   add_customer_match_user_list.py): job {type: CUSTOMER_MATCH_USER_LIST,
//   customerMatchUserListMetadata: {userList}}, enable_partial_failure = true, one UserData per
//   person with a separate UserIdentifier each for hashed_email, hashed_phone_number and
//   address_info {hashed_first_name, hashed_last_name, country_code, postal_code} (all four, or
//   no address); status polled with GoogleAdsService.Search `SELECT offline_user_data_job.status,
//   offline_user_data_job.failure_reason … FROM offline_user_data_job WHERE
//   offline_user_data_job.resource_name = '…'` (PENDING, RUNNING, SUCCESS, FAILED); jobs "may take
//   6 hours or more"; CRM lists are created with crm_based_user_list.upload_key_type CONTACT_INFO
//   and membership_life_span 10000 = unlimited. One job per user list at a time is what the
//   example and its comment advise ("create a single job containing all of the operations").
// - Normalization: trim, lower-case, phone numbers in E.164, then SHA-256 hex; names keep inner
//   spaces (normalize_and_hash(…, False) in the example; OfflineUserAddressInfo reference); remove
//   the periods before the domain of gmail.com and googlemail.com addresses (Google's user-provided
//   data rules, developers.google.com/google-ads/api/docs/conversions/enhance-conversions and the
//   Campaign Manager 360 conversions guide). Country and postal code are not hashed; country is
//   ISO-3166-1 alpha-2.
// - Quota errors: QuotaError RESOURCE_EXHAUSTED, RESOURCE_TEMPORARILY_EXHAUSTED (HTTP 429 in REST)
//   (errors/quota_error.proto). OfflineUserDataJob.operation_metadata.match_rate_range is filled
//   when the job was created with enable_match_rate_range_preview.
// - OAuth: refresh-token grant at https://oauth2.googleapis.com/token (client_id, client_secret,
//   refresh_token, grant_type=refresh_token → access_token, expires_in); requests carry
//   `Authorization: Bearer`, `developer-token`, and `login-customer-id` when acting through a
//   manager account.
//
// Not confirmed (how the adapter copes): a numeric request rate for this service (Google publishes
// none; the engine starts at most one job a second and one at a time per connection, and 429s are
// waited out); the retryDelay in QuotaErrorDetails (callVendor does not read the body of a 429, so
// the engine's own backoff applies); whether a FAILED Customer Match job kept part of its data (the
// batch is handed back as retryable; adding the same people again is harmless). The match rate has
// no place in the engine's run progress yet: it is read but not recorded (see README, Destinations).
// - Removal: the same job with `remove` operations (OfflineUserDataJobOperation's oneof is create |
//   remove | remove_all, each a UserData of userIdentifiers: offline_user_data_job_service.proto),
//   in jobs of their own as Google's Customer Match guide asks (a job adds or removes). Same batch
//   size and job cost as adds; a member the list does not hold is simply not there afterwards.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { BatchResult, DestinationAdapter, DestinationCall, MappedMember, RecordFailure } from './destination.js';
import { DestinationError } from './destinationError.js';
import { personFields } from './personFields.js';
import { withoutDuplicatesInBatch } from './duplicatesInBatch.js';
import { callVendor, sleep, withApiOrigin, type VendorResponse } from './vendorHttp.js';

export const GOOGLE_ADS_BASE = 'https://googleads.googleapis.com';
export const GOOGLE_OAUTH_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const GOOGLE_ADS_VERSION = 'v26';
/** Members per job (one sendBatch). */
export const MEMBERS_PER_JOB = 100_000;
/** Operations per addOperations request: at most 3 identifiers each, so ≤ 30,000 of the 100,000 allowed. */
export const OPERATIONS_PER_REQUEST = 10_000;
export const MAX_IDENTIFIERS_PER_REQUEST = 100_000;

const digits = (label: string) =>
  z
    .string()
    .trim()
    .transform((value) => value.replace(/-/g, ''))
    .pipe(z.string().regex(/^\d{10}$/, `${label} must be 10 digits, e.g. 123-456-7890`));

const settingsSchema = z.object({
  customerId: digits('customerId').describe('Google Ads customer ID that owns the user list (123-456-7890; dashes are removed).'),
  loginCustomerId: digits('loginCustomerId')
    .optional()
    .describe('Manager account ID to act through (login-customer-id), when the access comes from a manager account.'),
});
const secretsSchema = z.object({
  clientId: z.string().trim().min(1).describe('OAuth 2.0 client ID of the Google Cloud project.'),
  clientSecret: z.string().trim().min(1).describe('OAuth 2.0 client secret.'),
  refreshToken: z.string().trim().min(1).describe('Refresh token granted for the scope https://www.googleapis.com/auth/adwords.'),
  developerToken: z.string().trim().min(1).describe('Google Ads API developer token (API Center of the manager account).'),
});
const detailsSchema = z.object({
  userListId: z
    .string()
    .trim()
    .regex(/^\d{1,20}$/, 'must be the numeric ID of a Customer Match user list')
    .optional()
    .describe(
      'ID of a Customer Match (CRM, contact info) user list. Leave empty: a list named like the segment is found or created when a run starts.',
    ),
});

export type GoogleAdsSettings = z.infer<typeof settingsSchema>;
export type GoogleAdsSecrets = z.infer<typeof secretsSchema>;
export type GoogleAdsDetails = z.infer<typeof detailsSchema>;
type Call = DestinationCall<GoogleAdsSettings, GoogleAdsSecrets, GoogleAdsDetails>;

const dataMatching = personFields({
  email: 'Hashed email (trimmed, lower-cased, gmail periods removed, SHA-256).',
  phone: 'Hashed phone number in E.164 (SHA-256); left out when it cannot be read as E.164.',
  firstName: 'Address info: hashed first name. Sent only with last name, country and postal code.',
  lastName: 'Address info: hashed last name.',
  country: 'Address info: country code (ISO 3166-1 alpha-2, or an English country name).',
  postalCode: 'Address info: postal code (not hashed).',
});

// ---- pure converters (table-tested) --------------------------------------------------------------

export const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

/** Trimmed, lower-cased; periods before @gmail.com / @googlemail.com removed. */
export function normalizeEmail(email: string): string {
  const lower = email.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  if (at < 0) return lower;
  const domain = lower.slice(at + 1);
  return domain === 'gmail.com' || domain === 'googlemail.com' ? `${lower.slice(0, at).replace(/\./g, '')}@${domain}` : lower;
}

export function toE164(phone: string): string | undefined {
  const compact = phone.replace(/[\s\-.()]/g, '').replace(/^00/, '+');
  return /^\+[1-9]\d{6,14}$/.test(compact) ? compact : undefined;
}

let countryCodes: Map<string, string> | undefined;
/** An ISO 3166-1 alpha-2 code from a code or an English country name, else undefined. */
export function toCountryCode(country: string): string | undefined {
  const value = country.trim();
  if (/^[A-Za-z]{2}$/.test(value)) return value.toUpperCase();
  if (!countryCodes) {
    countryCodes = new Map();
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    for (let first = 65; first <= 90; first++) {
      for (let second = 65; second <= 90; second++) {
        const code = String.fromCharCode(first, second);
        const name = names.of(code);
        if (name && name !== code) countryCodes.set(name.toLowerCase(), code);
      }
    }
  }
  return countryCodes.get(value.toLowerCase());
}

export type UserIdentifier =
  | { hashedEmail: string }
  | { hashedPhoneNumber: string }
  | { addressInfo: { hashedFirstName: string; hashedLastName: string; countryCode: string; postalCode: string } };

/** One mapped member → the identifiers of one UserData (email always; phone and address when usable). */
export function toUserIdentifiers(member: MappedMember): UserIdentifier[] {
  const value = (name: string) => member.fields[name]?.trim() || undefined;
  const identifiers: UserIdentifier[] = [{ hashedEmail: sha256(normalizeEmail(member.email)) }];
  const phone = value('phone') && toE164(value('phone')!);
  if (phone) identifiers.push({ hashedPhoneNumber: sha256(phone) });
  const first = value('firstName');
  const last = value('lastName');
  const countryCode = value('country') && toCountryCode(value('country')!);
  const postalCode = value('postalCode');
  if (first && last && countryCode && postalCode) {
    identifiers.push({
      addressInfo: { hashedFirstName: sha256(first.toLowerCase()), hashedLastName: sha256(last.toLowerCase()), countryCode, postalCode },
    });
  }
  return identifiers;
}

export interface GoogleAdsFailureError {
  code: string;
  message: string;
  /** The operation's index in its addOperations request. */
  index?: number;
}

/** The fields of a GoogleAdsService search row this adapter reads (REST JSON, camelCase). */
interface SearchRow {
  userList?: { id?: string; type?: string };
  offlineUserDataJob?: { status?: string; failureReason?: string; operationMetadata?: { matchRateRange?: string } };
}

/** The errors of a google.rpc.Status (REST JSON) carrying GoogleAdsFailure details. */
export function googleAdsErrors(status: unknown): GoogleAdsFailureError[] {
  const details = (status as { details?: unknown } | undefined)?.details;
  if (!Array.isArray(details)) return [];
  const errors: GoogleAdsFailureError[] = [];
  for (const detail of details as { errors?: unknown }[]) {
    if (!Array.isArray(detail?.errors)) continue;
    for (const error of detail.errors as { errorCode?: unknown; message?: unknown; location?: { fieldPathElements?: unknown } }[]) {
      const codes = error.errorCode && typeof error.errorCode === 'object' ? Object.values(error.errorCode as Record<string, unknown>) : [];
      const path = error.location?.fieldPathElements;
      const operation = Array.isArray(path)
        ? (path as ({ fieldName?: unknown; index?: unknown } | null)[]).find((element) => element?.fieldName === 'operations')
        : undefined;
      errors.push({
        code: typeof codes[0] === 'string' ? codes[0] : 'UNKNOWN',
        message: typeof error.message === 'string' ? error.message : '',
        index: typeof operation?.index === 'number' ? operation.index : undefined,
      });
    }
  }
  return errors;
}

/** An addOperations answer → failures of the members at the refused operations' indexes. */
export function fromPartialFailure(body: unknown, members: MappedMember[]): RecordFailure[] {
  const status = (body as { partialFailureError?: unknown } | undefined)?.partialFailureError;
  if (!status) return [];
  const byIndex = new Map<number, GoogleAdsFailureError>();
  for (const error of googleAdsErrors(status))
    if (error.index !== undefined && members[error.index] && !byIndex.has(error.index)) byIndex.set(error.index, error);
  return [...byIndex.entries()]
    .sort(([left], [right]) => left - right)
    .map(([index, error]) => ({
      email: members[index]!.email,
      status: 'failed',
      category: 'invalidRecord',
      code: error.code,
      message: `Google Ads refused this member's identifiers${error.message ? `: ${error.message.slice(0, 300)}` : '.'}`,
    }));
}

/** GAQL string literal (single quotes escaped). */
const literal = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

// ---- HTTP ------------------------------------------------------------------------------------------

export interface JobPolling {
  firstDelayMs: number;
  factor: number;
  maxDelayMs: number;
  maxWaitMs: number;
  maxConsecutiveErrors: number;
}

// 1, 2, 4 … 60 s; Google warns jobs may take hours, so a run waits up to 6 h for one.
export const DEFAULT_POLLING: JobPolling = {
  firstDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 60_000,
  maxWaitMs: 6 * 3_600_000,
  maxConsecutiveErrors: 8,
};

function refused(response: VendorResponse, what: string): DestinationError {
  const error = (response.body as { error?: { message?: string; status?: string } } | undefined)?.error;
  const first = googleAdsErrors(error)[0];
  const text = first?.message || error?.message || (typeof response.body === 'string' ? response.body.slice(0, 200) : '');
  const code = first?.code ?? error?.status;
  const options = { status: response.status, code };
  if (response.status === 404) return new DestinationError('config', `${what}: not found (${text || '404'}).`, options);
  return new DestinationError(
    'config',
    `${what} was refused (${response.status}${code ? ` ${code}` : ''}${text ? `: ${text}` : ''}).`,
    options,
  );
}

export interface GoogleAdsAdapterOptions {
  polling?: Partial<JobPolling>;
  operationsPerRequest?: number;
}

export function createGoogleAdsAdapter(
  options: GoogleAdsAdapterOptions = {},
): DestinationAdapter<GoogleAdsSettings, GoogleAdsSecrets, GoogleAdsDetails> {
  const polling: JobPolling = { ...DEFAULT_POLLING, ...options.polling };
  const operationsPerRequest = options.operationsPerRequest ?? OPERATIONS_PER_REQUEST;
  // Access tokens by client and refresh token, reused until a minute before they expire.
  const tokens = new Map<string, { token: string; expiresAt: number }>();

  async function accessToken(call: Call, fresh = false): Promise<string> {
    const key = sha256(`${call.apiOrigin ?? ''}\n${call.secrets.clientId}\n${call.secrets.refreshToken}`);
    const cached = tokens.get(key);
    if (!fresh && cached && cached.expiresAt > Date.now() + 60_000) return cached.token;
    const form = new URLSearchParams({
      client_id: call.secrets.clientId,
      client_secret: call.secrets.clientSecret,
      refresh_token: call.secrets.refreshToken,
      grant_type: 'refresh_token',
    });
    const response = await callVendor({
      method: 'POST',
      url: withApiOrigin(GOOGLE_OAUTH_TOKEN_URL, call.apiOrigin),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      signal: call.signal,
    });
    const body = (response.body ?? {}) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (response.status !== 200 || typeof body.access_token !== 'string') {
      // invalid_grant (expired or revoked refresh token), invalid_client: a person must act.
      throw new DestinationError(
        'auth',
        `Google refused the OAuth refresh token grant (${response.status}${typeof body.error === 'string' ? ` ${body.error}` : ''}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}).`,
        { status: response.status, code: typeof body.error === 'string' ? body.error : undefined },
      );
    }
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    tokens.set(key, { token: body.access_token, expiresAt: Date.now() + expiresIn * 1000 });
    return body.access_token;
  }

  async function send(call: Call, path: string, json: unknown): Promise<VendorResponse> {
    const request = async (token: string) =>
      callVendor({
        method: 'POST',
        url: withApiOrigin(`${GOOGLE_ADS_BASE}/${GOOGLE_ADS_VERSION}/${path}`, call.apiOrigin),
        headers: {
          authorization: `Bearer ${token}`,
          'developer-token': call.secrets.developerToken,
          ...(call.settings.loginCustomerId ? { 'login-customer-id': call.settings.loginCustomerId } : {}),
        },
        json,
        signal: call.signal,
      });
    try {
      return await request(await accessToken(call));
    } catch (error) {
      // An access token revoked or expired early: one fresh token, once.
      if (error instanceof DestinationError && error.options.status === 401) return request(await accessToken(call, true));
      throw error;
    }
  }

  /** Retries transient failures of a step that is safe to repeat, honouring any wait given. */
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

  async function search(call: Call, query: string): Promise<SearchRow[]> {
    const response = await send(call, `customers/${call.settings.customerId}/googleAds:search`, { query });
    if (response.status !== 200) throw refused(response, 'A GoogleAdsService search');
    const results = (response.body as { results?: unknown } | undefined)?.results;
    return Array.isArray(results) ? (results as SearchRow[]) : [];
  }

  async function userListNamed(call: Call, name: string): Promise<string> {
    const query = `SELECT user_list.id, user_list.name, user_list.type FROM user_list WHERE user_list.name = ${literal(name)} AND user_list.type = 'CRM_BASED'`;
    const found = await search(call, query);
    const ids = found.map((row) => String(row.userList?.id ?? '')).filter((id) => /^\d+$/.test(id));
    if (ids.length > 0) return ids.sort((left, right) => (BigInt(left) < BigInt(right) ? -1 : 1))[0]!;
    const response = await send(call, `customers/${call.settings.customerId}/userLists:mutate`, {
      operations: [
        {
          create: {
            name,
            description: 'Customer Match list kept by Outflow',
            membershipLifeSpan: 10000,
            crmBasedUserList: { uploadKeyType: 'CONTACT_INFO' },
          },
        },
      ],
    });
    if (response.status !== 200) throw refused(response, `Creating the user list '${name}'`);
    const resourceName = (response.body as { results?: { resourceName?: string }[] } | undefined)?.results?.[0]?.resourceName ?? '';
    const id = /userLists\/(\d+)$/.exec(resourceName)?.[1];
    if (!id) throw new DestinationError('vendorUnavailable', 'Google Ads created the user list without naming it');
    return id;
  }

  async function waitForJob(
    call: Call,
    resourceName: string,
  ): Promise<{ status: string; failureReason?: string; matchRateRange?: string }> {
    const query = `SELECT offline_user_data_job.resource_name, offline_user_data_job.status, offline_user_data_job.failure_reason, offline_user_data_job.operation_metadata.match_rate_range FROM offline_user_data_job WHERE offline_user_data_job.resource_name = ${literal(resourceName)} LIMIT 1`;
    const deadline = Date.now() + polling.maxWaitMs;
    let delay = polling.firstDelayMs;
    for (;;) {
      await sleep(delay, call.signal);
      const job = (await patiently(call, () => search(call, query)))[0]?.offlineUserDataJob;
      if (!job) throw new DestinationError('vendorUnavailable', `Google Ads no longer knows job ${resourceName}`);
      if (job.status === 'SUCCESS' || job.status === 'FAILED')
        return { status: job.status, failureReason: job.failureReason, matchRateRange: job.operationMetadata?.matchRateRange };
      delay = Math.min(polling.maxDelayMs, delay * polling.factor);
      if (Date.now() + delay > deadline)
        throw new DestinationError(
          'vendorUnavailable',
          `Google Ads job ${resourceName} was still ${job.status} after ${Math.round(polling.maxWaitMs / 3_600_000)} hours`,
        );
    }
  }

  async function runJob(call: Call, members: MappedMember[], kind: 'create' | 'remove' = 'create'): Promise<BatchResult> {
    const userList = `customers/${call.settings.customerId}/userLists/${call.details.userListId}`;
    const created = await send(call, `customers/${call.settings.customerId}/offlineUserDataJobs:create`, {
      job: { type: 'CUSTOMER_MATCH_USER_LIST', customerMatchUserListMetadata: { userList } },
      enableMatchRateRangePreview: true,
    });
    if (created.status !== 200) throw refused(created, `Creating a Customer Match job for user list ${call.details.userListId}`);
    const resourceName = (created.body as { resourceName?: unknown } | undefined)?.resourceName;
    if (typeof resourceName !== 'string' || !/^customers\/\d+\/offlineUserDataJobs\/\d+$/.test(resourceName))
      throw new DestinationError('vendorUnavailable', 'Google Ads created a job without a resource name');

    const failures: RecordFailure[] = [];
    for (let start = 0; start < members.length; start += operationsPerRequest) {
      const slice = members.slice(start, start + operationsPerRequest);
      const operations = slice.map((member) => ({ [kind]: { userIdentifiers: toUserIdentifiers(member) } }));
      // Adding the same operations again (after a lost answer) only repeats people in a set.
      const added = await patiently(call, async () => {
        const response = await send(call, `${resourceName}:addOperations`, { enablePartialFailure: true, operations });
        if (response.status !== 200) throw refused(response, `Adding operations to ${resourceName}`);
        return response.body;
      });
      failures.push(...fromPartialFailure(added, slice));
    }
    if (failures.length === members.length) return { succeeded: 0, failures };
    await patiently(call, async () => {
      const response = await send(call, `${resourceName}:run`, {});
      // A run answered but lost and sent again: the job already runs, which is what was asked.
      if (response.status !== 200 && !/JOB_ALREADY_STARTED|INVALID_JOB_STATUS/.test(JSON.stringify(response.body ?? '')))
        throw refused(response, `Running ${resourceName}`);
    });
    const job = await waitForJob(call, resourceName);
    if (job.status === 'FAILED')
      throw new DestinationError('vendorUnavailable', `Google Ads job ${resourceName} FAILED (${job.failureReason ?? 'no reason given'})`, {
        code: job.failureReason,
      });
    return { succeeded: members.length - failures.length, failures };
  }

  return {
    type: 'google-ads',
    displayName: 'Google Ads Customer Match',
    connectionSettings: settingsSchema,
    connectionSecrets: secretsSchema,
    exportDetails: detailsSchema,
    dataMatching,
    batchSize: MEMBERS_PER_JOB,
    // Each job: create, addOperations requests of 10,000, run, status searches. Google documents
    // no job duration (lists take up to 24 h to fill); 5 minutes a job is an assumption the plan states.
    importJob: { fixedCalls: 2, membersPerRequest: operationsPerRequest, polling, typicalSeconds: 300 },
    limits: {
      maxMembersPerExport: 1_000_000,
      // One token per job. Google publishes no request rate for this service; a job a second is
      // far below what its quota answers 429 to, and 1M members are ten jobs.
      requestsPerSecond: 1,
      burst: 1,
      // One job at a time per connection (Google: one job per user list with all its operations).
      maxConcurrentRequests: 1,
    },
    eligibleSegmentTypes: ['Profile', 'Contact'],
    exportKinds: ['segment'],
    apiUrlSetting: 'GOOGLE_ADS_API_URL',

    async testConnection(call) {
      try {
        await search(call, 'SELECT customer.id FROM customer LIMIT 1');
        return { ok: true };
      } catch (error) {
        if (error instanceof DestinationError) return { ok: false, reason: error.message };
        throw error;
      }
    },

    async prepareRun(call, run) {
      if (call.details.userListId) {
        const found = await search(
          call,
          `SELECT user_list.id, user_list.type FROM user_list WHERE user_list.id = ${call.details.userListId}`,
        );
        if (found.length === 0)
          throw new DestinationError(
            'config',
            `User list ${call.details.userListId} does not exist in Google Ads customer ${call.settings.customerId}.`,
            { code: 'INVALID_USER_LIST_ID' },
          );
        if (found[0]!.userList?.type && found[0]!.userList.type !== 'CRM_BASED')
          throw new DestinationError('config', `User list ${call.details.userListId} is not a Customer Match (CRM-based) list.`, {
            code: 'INVALID_USER_LIST_TYPE',
          });
        return call.details;
      }
      const name = run.segmentNames.join(' + ') || 'Outflow';
      return { ...call.details, userListId: await userListNamed(call, name) };
    },

    async sendBatch(call, members) {
      if (members.length === 0) return { succeeded: 0, failures: [] };
      if (!call.details.userListId) throw new DestinationError('config', 'No user list: the run was not prepared.');
      const { unique, skipped } = withoutDuplicatesInBatch(members, 'duplicateInBatch');
      const result = await runJob(call, unique);
      return { succeeded: result.succeeded, failures: [...result.failures, ...skipped] };
    },

    async removeBatch(call, members) {
      if (members.length === 0) return { succeeded: 0, failures: [] };
      if (!call.details.userListId) throw new DestinationError('config', 'No user list: the run was not prepared.');
      const { unique, skipped } = withoutDuplicatesInBatch(members, 'duplicateInBatch');
      const result = await runJob(call, unique, 'remove');
      return { succeeded: result.succeeded, failures: [...result.failures, ...skipped] };
    },
  };
}

export const googleAds = createGoogleAdsAdapter();
