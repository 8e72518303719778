// dotdigital (API v2) adapter: each engine batch becomes one CSV import file, uploaded to
// `POST /v2/address-books/{addressBookId}/contacts/import/with-merge-option/OnlyOverwriteIfNotEmpty`,
// polled until the import job reaches a final status, then its `report-faults` CSV is read back as
// per-record failures. Re-importing the same contacts merges them by email, so a re-sent batch
// never duplicates anyone in the address book.
//
// Confirmed from primary sources:
// - Regional hosts https://r1-api.dotdigital.com (Europe), r2-api (North America), r3-api (Asia
//   Pacific); `GET /v2/account-info` called on r1 works for every region and returns the account's
//   endpoint; calling another region's host answers "403 - Forbidden: Access is denied"; clients
//   must allow 121 s per call (developer.dotdigital.com/docs/api-conventions, /docs/api-end-points).
//   The answer is {id, properties: [{name, type, value}]} with the property `ApiEndpoint`
//   (official v2 OpenAPI, NSwag-generated, servers https://r1-api.dotdigital.com, schema ApiAccount,
//   mirrored in api-evangelist/dotdigital openapi/_original/dotdigital-v2-api-swagger.json; the
//   vendor's own Magento connector dotmailer/dotmailer-magento2-extension reads `ApiEndpoint` in
//   Model/Apiconnector/Account.php and always asks r1 in Client.php getAccountInfo). Endpoint hosts
//   such as r2-api.dotmailer.com or r1-api-stg.dotdigital.com are valid too (same connector,
//   Test/Unit/Model/Apiconnector/ApiTestTest.php).
// - Auth: HTTP Basic with an API user's email address and password (v2 OpenAPI securitySchemes
//   basicAuth; the Magento connector's Rest.php). A refused login answers "Authorization has been
//   denied for this request."; v2 errors are {message} carrying an ERROR_* token, e.g.
//   "Error: ERROR_ADDRESSBOOK_NOT_FOUND" (Model/Apiconnector/Client.php constants).
// - Import: `POST /v2/address-books/{addressBookId}/contacts/import` and
//   `…/import/with-merge-option/{mergeOption}` (Overwrite | OnlyOverwriteIfNotEmpty |
//   OnlyOverwriteIfContactDataNotPopulated) answer 202 {id (GUID), status}; the file is CSV or
//   Excel with one column headed `Email` (any casing), other columns map to contact data fields;
//   JSON {fileName, data: base64} or multipart/form-data; 50 MB per file; at most 25 active
//   imports per account, beyond that the "too many active imports" error (v2 OpenAPI
//   ApiContactImport_ImportContactsToAddressBookWithMergeOption, whose only request body is JSON
//   ApiFileMedia {fileName, data (byte)} — what the adapter sends, checked in test/contract/ (document: test/contract/README.md);
//   developer.dotdigital.com/reference/bulk-import-contacts-in-address-book-with-merge-option and
//   /reference/importcontactstoaddressbookwithmergeoption). The Magento connector uploads the CSV
//   as multipart part `file` with type text/csv (Client.php postAddressBookContactsImport) and
//   requeues on ERROR_IMPORT_TOOMANYACTIVEIMPORTS (Sync/Importer/Type/BulkItemPostProcessor.php).
// - Job: `GET /v2/contacts/import/{id}` → {id, status} with status Finished, NotFinished,
//   RejectedByWatchdog, InvalidFileFormat, Unknown, Failed, ExceedsAllowedContactLimit,
//   NotAvailableInThisVersion (v2 OpenAPI ApiContactImportStatuses; the Magento connector treats
//   all but Finished/NotFinished as failed, AbstractInProgressImportResponseHandler.php).
//   `…/report` gives counts (newContacts, updatedContacts, globallySuppressed, invalidEntries,
//   duplicateEmails, blocked, unsubscribed, hardBounced, …); `…/report-faults` gives a UTF-8 CSV
//   of the rows not imported, kept about a week, first column `Reason`, e.g.
//   "Reason,email,firstname,fullname,gender,lastname,postcode" / "Unsubscribed,karina.plain@…"
//   (v2 OpenAPI; email-contacts reference "Get contact import report faults"). Reasons the
//   vendor's connector knows: Globally Suppressed, Blocked, Unsubscribed, Hard Bounced, Isp
//   Complaints, Domain Suppressed, Failures, Invalid Entries, Mail Blocked, Suppressed by you
//   (Sync/Importer/ReportHandler/V2ImporterReportHandler.php); the reference sample adds Duplicate.
// - Removal from the address book: `DELETE /v2/address-books/{addressBookId}/contacts/{contactId}`
//   → 204 ("Deletes a contact from a given list", v2 OpenAPI ApiContact_DeleteContactFromAddressBook);
//   the contact stays in the account, only its membership goes. The API takes contact IDs, not
//   emails: `GET /v2/contacts/{email}` → ApiContact {id, email, …} ("Gets a contact by email
//   address", ApiContact_GetContactByEmail), and an unknown email answers "Error:
//   ERROR_CONTACT_NOT_FOUND" (the vendor's Magento connector Model/Apiconnector/Client.php
//   REST_CONTACT_NOT_FOUND), read as already absent. The bulk form, `POST /v2/address-books/{id}/
//   contacts/delete` with an array of contact IDs → 202 {id, status: Started|Completed|Failed}
//   polled at `GET /v2/contacts/deletion/{id}` (ApiContact_DeleteContactsFromAddressBook), needs
//   the same one lookup per email, so it saves one call per member at the price of an asynchronous
//   job; the adapter removes one member per engine call instead: two vendor calls (lookup, delete),
//   both under the account's per-minute limit; the delete is retried here on 429/5xx so a
//   throttled delete does not repeat its lookup. Unsubscribing from the book (`…/contacts/unsubscribe`) would take
//   the email directly, but it records an unsubscribe the person never asked for.
// - Default contact data fields FIRSTNAME, LASTNAME, FULLNAME, GENDER, POSTCODE (request examples
//   of the v2 contact calls in the email-contacts reference).
// - Rate limits are per account, per minute, in tiers Low/Medium/High/Unlimited; calls that import
//   or return a lot of data are usually Low; the Basic package's Low tier is 35 calls per minute
//   (support.dotdigital.com/en/articles/8592585-api-rate-limits,
//   developer.dotdigital.com/docs/call-rate-limits); over the limit: 429 with X-RateLimit-Limit,
//   -Remaining, -Reset (as summarised from that page in api-evangelist/dotdigital
//   rate-limits/dotdigital-rate-limits.yml).
//
// Not confirmed (decisions below say how the adapter copes): the Standard and Enhanced tier
// numbers and which tier the status and report-faults calls belong to (all calls are assumed Low
// and polls are kept few); whether X-RateLimit-Reset is an epoch or seconds and whether
// Retry-After is sent (both are read); the HTTP status and wording of the too-many-active-imports
// error (the ERROR_ token is matched in any answer); the answer for a file over 50 MB (files are
// cut at 30 MB, 40 MB in base64, so it never happens); the full list and spelling of report-faults reasons
// (unknown reasons are reported as failed with the vendor's text); whether a Failed import kept
// some rows (the batch is re-sent, which merges); the caveat about multipart uploads on the
// reference page is cut off in every copy we found; the file encoding (UTF-8 is sent, as
// report-faults is documented UTF-8); whether the merge option may also be given as a number
// (the reference shows 0/1/2 in one place; the names are sent, as the server's own OpenAPI types
// the path parameter with the named enum).
import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { BatchResult, DestinationAdapter, DestinationCall, ErrorCategory, MappedMember, RecordFailure } from './destination.js';
import { DestinationError } from './destinationError.js';
import { personFields } from './personFields.js';
import { callVendor, sleep, retryAfterMs, withApiOrigin, type VendorResponse } from './vendorHttp.js';
import { IMPORT_FILE_TARGET_BYTES, toFileMedia, toImportFiles, type ImportFile } from './dotdigitalImportFile.js';

export const REGIONS = ['r1', 'r2', 'r3'] as const;
export type Region = (typeof REGIONS)[number];
const regionBase = (region: Region) => `https://${region}-api.dotdigital.com`;
/** account-info answers on r1 for every account (the documented discovery call). */
const DISCOVERY_BASE = regionBase('r1');
/** Empty cells leave stored data fields alone, so an unmapped or blank value never wipes one. */
export const MERGE_OPTION = 'OnlyOverwriteIfNotEmpty';
/** Contacts per import file: ~70–120 bytes a row makes 3.5–6 MB files, far under the 50 MB cap. */
export const DOTDIGITAL_BATCH_SIZE = 50_000;
/** The vendor asks clients to allow 121 s per call. */
const CALL_TIMEOUT_MS = 125_000;
/** Waited after the vendor refuses a 26th active import: other imports must end first. */
const TOO_MANY_IMPORTS_WAIT_MS = 30_000;
const VENDOR_ENDPOINT = /^https:\/\/r\d+-api(?:-[a-z0-9]+)?\.(?:dotdigital|dotmailer)\.com$/i;

const settingsSchema = z.object({
  region: z
    .enum(['auto', ...REGIONS])
    .default('auto')
    .describe(
      'API region of the account: r1 Europe, r2 North America, r3 Asia Pacific. auto (default) asks GET /v2/account-info on r1, which knows every account. The wrong region answers 403.',
    ),
});
const secretsSchema = z.object({
  username: z
    .string()
    .trim()
    .min(1)
    .describe('API user email address (Settings → Access → API users), e.g. apiuser-1a2b3c@apiconnector.com.'),
  password: z.string().min(1).describe('API user password.'),
});
const detailsSchema = z.object({
  addressBookId: z.number().int().positive().describe('ID of the address book (shown in its URL in dotdigital).'),
  apiEndpoint: z
    .string()
    .regex(VENDOR_ENDPOINT, 'must be a dotdigital API host such as https://r2-api.dotdigital.com')
    .optional()
    .describe("Filled in when a run starts: the account's API endpoint. Leave empty."),
});

export type DotdigitalSettings = z.infer<typeof settingsSchema>;
export type DotdigitalSecrets = z.infer<typeof secretsSchema>;
export type DotdigitalDetails = z.infer<typeof detailsSchema>;
type Call = DestinationCall<Partial<DotdigitalSettings>, DotdigitalSecrets, DotdigitalDetails>;

const dataMatching = personFields({
  email: 'Email column: identifies the contact; importing it again updates the same contact.',
  firstName: 'Contact data field FIRSTNAME.',
  lastName: 'Contact data field LASTNAME.',
  fullName: 'Contact data field FULLNAME (not derived from first and last name).',
  gender: 'Contact data field GENDER.',
  postalCode: 'Contact data field POSTCODE.',
});

// ---- pure converters (table-tested) --------------------------------------------------------------

/** The account's API endpoint from a GET /v2/account-info answer, without a trailing slash. */
export function fromAccountInfo(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  const properties = record.properties ?? record.Properties;
  if (!Array.isArray(properties)) return undefined;
  for (const property of properties as Record<string, unknown>[]) {
    const name = property?.name ?? property?.Name;
    const value = property?.value ?? property?.Value;
    if (typeof name === 'string' && name.toLowerCase() === 'apiendpoint' && typeof value === 'string' && value.trim())
      return value.trim().replace(/\/+$/, '');
  }
  return undefined;
}

/** The region id (r1, r2, …) of a vendor endpoint, or undefined for other origins. */
export function regionOf(endpoint: string): string | undefined {
  return /^https?:\/\/(r\d+)-api\b/i.exec(endpoint)?.[1]?.toLowerCase();
}

export type ImportOutcome = { state: 'pending' } | { state: 'finished' } | { state: 'failed'; category: ErrorCategory; message: string };

/** What an import status means for the batch. */
export function importStatusOutcome(status: string): ImportOutcome {
  switch (status) {
    case 'NotFinished':
      return { state: 'pending' };
    case 'Finished':
      return { state: 'finished' };
    // Compliance checks on the contacts: a person must act (dotdigital support), a retry cannot.
    case 'RejectedByWatchdog':
      return {
        state: 'failed',
        category: 'config',
        message:
          "dotdigital's watchdog rejected the import (its compliance check on imported contacts); ask dotdigital support to review the account.",
      };
    case 'InvalidFileFormat':
      return { state: 'failed', category: 'config', message: 'dotdigital could not read the import file (InvalidFileFormat).' };
    case 'ExceedsAllowedContactLimit':
      return {
        state: 'failed',
        category: 'config',
        message: 'The import would take the account over the number of contacts its dotdigital plan allows (ExceedsAllowedContactLimit).',
      };
    case 'NotAvailableInThisVersion':
      return { state: 'failed', category: 'config', message: 'dotdigital answered NotAvailableInThisVersion for the import.' };
    // No reason given: treated as a vendor-side hiccup. Re-sending is safe (merge by email) and the
    // engine bounds the retries.
    case 'Failed':
      return { state: 'failed', category: 'vendorUnavailable', message: 'dotdigital reported the import as Failed.' };
    default:
      return { state: 'failed', category: 'vendorUnavailable', message: `dotdigital reported the import status '${status || 'Unknown'}'.` };
  }
}

/** Reasons of report-faults rows by lower-cased name without spaces: skipped = consent/suppression outcomes, not data errors. */
const FAULT_REASONS: Record<string, { status: 'failed' | 'skipped'; message: string }> = {
  globallysuppressed: { status: 'skipped', message: "The address is on dotdigital's global suppression list; it was not added." },
  blocked: { status: 'skipped', message: 'The address is blocked in this dotdigital account; it was not added.' },
  unsubscribed: { status: 'skipped', message: 'The contact unsubscribed from this account; an import does not resubscribe them.' },
  hardbounced: { status: 'skipped', message: 'The address hard-bounced before and is suppressed; it was not added.' },
  softbounced: { status: 'skipped', message: 'The address is suppressed after soft bounces; it was not added.' },
  ispcomplaints: { status: 'skipped', message: 'The contact complained to their mailbox provider and is suppressed; it was not added.' },
  domainsuppressed: { status: 'skipped', message: "The address's domain is suppressed in this account; it was not added." },
  mailblocked: { status: 'skipped', message: 'Mail to this address is blocked; it was not added.' },
  suppressedbyyou: { status: 'skipped', message: "The address is on this account's own suppression list; it was not added." },
  pendingdoubleoptin: { status: 'skipped', message: 'The contact has not confirmed a double opt-in yet.' },
  duplicate: { status: 'skipped', message: 'The same email appeared more than once in the import file; one row was imported.' },
  invalidentries: { status: 'failed', message: 'dotdigital rejected the row as invalid (the email address or a data field value).' },
  failures: { status: 'failed', message: 'dotdigital could not import this row.' },
};

/**
 * A report-faults CSV → per-record failures, and the rest of the file's `memberCount` members as
 * succeeded.
 */
export function fromReportFaults(csvText: string, memberCount: number): BatchResult {
  const text = csvText.replace(/^\uFEFF/, '');
  if (!text.trim()) return { succeeded: memberCount, failures: [] };
  if (/^\s*[{[]/.test(text)) throw new DestinationError('vendorUnavailable', 'dotdigital answered report-faults with JSON instead of CSV');
  const rows = parse(text, { skip_empty_lines: true, relax_column_count: true, relax_quotes: true }) as string[][];
  const header = (rows[0] ?? []).map((cell) => cell.trim().toLowerCase());
  const reasonColumn = Math.max(0, header.indexOf('reason'));
  const emailAt = header.indexOf('email');
  const emailColumn = emailAt >= 0 ? emailAt : reasonColumn === 0 ? 1 : 0;
  const failures: RecordFailure[] = [];
  for (const row of rows.slice(1)) {
    const reason = (row[reasonColumn] ?? '').trim();
    const email = (row[emailColumn] ?? '').trim().toLowerCase();
    if (!reason && !email) continue;
    const known = FAULT_REASONS[reason.toLowerCase().replace(/\s+/g, '')];
    failures.push({
      email,
      status: known?.status ?? 'failed',
      category: 'invalidRecord',
      code: reason || 'Unknown',
      message: known?.message ?? `dotdigital did not import this contact (${reason || 'no reason given'}).`,
    });
  }
  return { succeeded: Math.max(0, memberCount - failures.length), failures };
}

// ---- HTTP ------------------------------------------------------------------------------------------

export interface ImportPolling {
  /** Wait before the first status poll; later waits grow by `factor` up to `maxDelayMs`. */
  firstDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** Longest wait for one import before the batch is handed back to the engine as retryable. */
  maxWaitMs: number;
  /** Transient failures in a row (5xx, 429, network) tolerated while polling or reading faults. */
  maxConsecutiveErrors: number;
}

// 1, 2, 4, … 60 s: small imports finish after a poll or two; a 3-minute import costs ~8 polls.
export const DEFAULT_POLLING: ImportPolling = {
  firstDelayMs: 1_000,
  factor: 2,
  maxDelayMs: 60_000,
  maxWaitMs: 60 * 60_000,
  maxConsecutiveErrors: 6,
};

function authorization(call: Call): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${call.secrets.username}:${call.secrets.password}`).toString('base64')}` };
}

function vendorMessage(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 300);
  if (!body || typeof body !== 'object') return '';
  const record = body as Record<string, unknown>;
  const message = record.message ?? record.Message;
  return typeof message === 'string' ? message.slice(0, 300) : '';
}

function vendorErrorCode(body: unknown): string | undefined {
  return /\bERROR_[A-Z0-9_]+/.exec(vendorMessage(body))?.[0];
}

function callFailed(response: VendorResponse, what: string): DestinationError {
  const message = vendorMessage(response.body);
  const code = vendorErrorCode(response.body);
  const detail = message || `HTTP ${response.status}`;
  const options = { status: response.status, code };
  switch (code) {
    // API users on the older flat scheme have an hourly allowance; over it every call answers
    // 400 ERROR_APIUSAGE_EXCEEDED (developer.dotdigital.com/docs/call-rate-limits; the vendor's
    // Magento connector Model/Apiconnector/Client.php lists the code). A throttle, not a config error.
    case 'ERROR_APIUSAGE_EXCEEDED':
      // When a refused call may come back is not published and the allowance is hourly: with no wait
      // in the answer the engine's sender backs off 1 s, doubling to a minute, rather than a fixed guess.
      return new DestinationError('rateLimited', `${what}: the API user is over its hourly call allowance (${detail})`, {
        ...options,
        retryAfterMs: retryAfterMs(response.headers),
      });
    case 'ERROR_IMPORT_TOOMANYACTIVEIMPORTS':
      // The engine's shared slots keep Outflow under 25; the others are another integration's.
      return new DestinationError('rateLimited', `${what}: the account already runs 25 imports (${detail})`, {
        ...options,
        retryAfterMs: TOO_MANY_IMPORTS_WAIT_MS,
      });
    case 'ERROR_ADDRESSBOOK_NOT_FOUND':
      return new DestinationError('config', `${what}: the address book does not exist in this dotdigital account (${detail})`, options);
    case 'ERROR_ADDRESSBOOK_NOTWRITABLE':
      return new DestinationError(
        'config',
        `${what}: the address book cannot be written to through the API, e.g. the Test address book (${detail})`,
        options,
      );
  }
  if (response.status === 413)
    return new DestinationError('config', `${what}: the import file is larger than dotdigital accepts (${detail})`, options);
  return new DestinationError('config', `${what} was refused: ${detail}`, options);
}

interface SendOptions {
  body?: Uint8Array;
  json?: unknown;
  headers?: Record<string, string>;
  /** false for the discovery call itself: nothing left to ask. */
  explainForbidden?: boolean;
}

async function send(call: Call, base: string, method: string, path: string, options: SendOptions = {}): Promise<VendorResponse> {
  try {
    return await callVendor({
      method,
      url: withApiOrigin(`${base}${path}`, call.apiOrigin),
      headers: { ...authorization(call), ...options.headers },
      body: options.body,
      json: options.json,
      signal: call.signal,
      timeoutMs: CALL_TIMEOUT_MS,
    });
  } catch (error) {
    if (error instanceof DestinationError && error.options.status === 403 && options.explainForbidden !== false)
      throw await explainForbidden(call, base, error);
    throw error;
  }
}

/** Asks r1 for the account's endpoint (works for every region). */
async function discoverEndpoint(call: Call): Promise<string> {
  const response = await send(call, DISCOVERY_BASE, 'GET', '/v2/account-info', { explainForbidden: false });
  if (response.status !== 200) throw callFailed(response, 'Reading the account information');
  const endpoint = fromAccountInfo(response.body) ?? DISCOVERY_BASE;
  // Credentials go to whatever host this names, so only the vendor's own hosts are followed
  // (a local simulator origin replaces every host anyway).
  if (!call.apiOrigin && !VENDOR_ENDPOINT.test(endpoint))
    throw new DestinationError('config', `dotdigital named an API endpoint that is not a dotdigital host: ${endpoint}`);
  return endpoint;
}

function wrongRegion(configured: string, endpoint: string, accountRegion: string, status?: number): DestinationError {
  return new DestinationError(
    'config',
    `The dotdigital account's API endpoint is ${endpoint} (region ${accountRegion}), but the connection is set to region ${configured}; dotdigital refuses calls to another region's host (403). Set the connection's region to ${accountRegion} or auto.`,
    { status, code: 'WrongRegion' },
  );
}

/** A 403 is either the wrong regional host or an API user without access: account-info tells which. */
async function explainForbidden(call: Call, base: string, error: DestinationError): Promise<DestinationError> {
  let endpoint: string;
  try {
    endpoint = await discoverEndpoint(call);
  } catch {
    return error;
  }
  const accountRegion = regionOf(endpoint);
  const usedRegion = regionOf(base);
  if (accountRegion && usedRegion && accountRegion !== usedRegion)
    return wrongRegion(usedRegion, endpoint, accountRegion, error.options.status);
  return new DestinationError(
    'auth',
    `${error.message}. The credentials are valid (account-info answers), so the API user may not have access to this resource.`,
    error.options,
  );
}

/** The base URL for calls: prepared by prepareRun, else the configured region, else discovered. */
async function endpointFor(call: Call): Promise<string> {
  const prepared = call.details.apiEndpoint;
  if (prepared && (call.apiOrigin || VENDOR_ENDPOINT.test(prepared))) return prepared;
  const region = call.settings.region ?? 'auto';
  return region === 'auto' ? discoverEndpoint(call) : regionBase(region);
}

/** Last occurrence wins; earlier ones are reported as skipped so counts add up. */
function withoutDuplicates(members: MappedMember[]): { unique: MappedMember[]; skipped: RecordFailure[] } {
  const byEmail = new Map<string, MappedMember>();
  const skipped: RecordFailure[] = [];
  for (const member of members) {
    const email = member.email.toLowerCase();
    if (byEmail.has(email)) {
      skipped.push({
        email,
        status: 'skipped',
        category: 'invalidRecord',
        code: 'DuplicateInBatch',
        message: 'The same email appears again later in this batch; the later record was sent.',
      });
      byEmail.delete(email);
    }
    byEmail.set(email, { ...member, email });
  }
  return { unique: [...byEmail.values()], skipped };
}

function readStatus(body: unknown): { id?: string; status: string } {
  const record = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const id = record.id ?? record.Id;
  const status = record.status ?? record.Status;
  return { id: typeof id === 'string' ? id : undefined, status: typeof status === 'string' ? status : '' };
}

export interface DotdigitalAdapterOptions {
  polling?: Partial<ImportPolling>;
  /** Largest import file built (bytes); default 30 MB. */
  fileTargetBytes?: number;
}

class ImportGone extends Error {}

export function createDotdigitalAdapter(
  options: DotdigitalAdapterOptions = {},
): DestinationAdapter<DotdigitalSettings, DotdigitalSecrets, DotdigitalDetails> {
  const polling: ImportPolling = { ...DEFAULT_POLLING, ...options.polling };
  const fileTargetBytes = options.fileTargetBytes ?? IMPORT_FILE_TARGET_BYTES;
  // Imports uploaded by this process and not seen final yet, by file fingerprint: when the engine
  // re-sends a batch after polling gave up, the same import is polled again instead of uploaded twice.
  const pendingImports = new Map<string, { importId: string; startedAt: number }>();

  function remember(fingerprint: string, importId: string): void {
    const now = Date.now();
    for (const [key, entry] of pendingImports) if (now - entry.startedAt > polling.maxWaitMs * 2) pendingImports.delete(key);
    if (pendingImports.size >= 1000) pendingImports.delete(pendingImports.keys().next().value!);
    pendingImports.set(fingerprint, { importId, startedAt: now });
  }

  /** Retries transient failures (5xx, 429, network) a few times, honouring the vendor's wait. */
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

  async function upload(call: Call, base: string, file: ImportFile): Promise<{ id: string; status: string }> {
    const path = `/v2/address-books/${call.details.addressBookId}/contacts/import/with-merge-option/${MERGE_OPTION}`;
    const response = await send(call, base, 'POST', path, { json: toFileMedia(file.csv, `outflow-${Date.now()}.csv`) });
    if (response.status < 200 || response.status >= 300) throw callFailed(response, 'The contact import');
    const started = readStatus(response.body);
    if (!started.id) throw new DestinationError('vendorUnavailable', 'dotdigital accepted the import without an import id');
    return { id: started.id, status: started.status };
  }

  /** Polls until the import leaves NotFinished; backs off so a long import costs few calls. */
  async function waitForImport(call: Call, base: string, importId: string): Promise<string> {
    const deadline = Date.now() + polling.maxWaitMs;
    let delay = polling.firstDelayMs;
    let errors = 0;
    for (;;) {
      await sleep(delay, call.signal);
      let vendorWaitMs = 0;
      try {
        const response = await send(call, base, 'GET', `/v2/contacts/import/${encodeURIComponent(importId)}`);
        if (response.status === 404) throw new ImportGone();
        if (response.status !== 200) throw callFailed(response, 'Reading the import status');
        errors = 0;
        const { status } = readStatus(response.body);
        if (status !== 'NotFinished') return status;
      } catch (error) {
        // Failures while polling never re-upload: the import is already running at the vendor.
        if (!(error instanceof DestinationError) || !error.retryable || ++errors > polling.maxConsecutiveErrors) throw error;
        vendorWaitMs = error.options.retryAfterMs ?? 0;
      }
      delay = Math.max(Math.min(polling.maxDelayMs, delay * polling.factor), vendorWaitMs);
      if (Date.now() + delay > deadline) {
        throw new DestinationError(
          'vendorUnavailable',
          `dotdigital import ${importId} was still NotFinished after ${Math.round(polling.maxWaitMs / 60_000)} minutes`,
        );
      }
    }
  }

  async function importFile(call: Call, base: string, file: ImportFile): Promise<BatchResult> {
    const fingerprint = createHash('sha256')
      .update(`${call.secrets.username}\n${call.details.addressBookId}\n${base}\n`)
      .update(file.csv)
      .digest('hex');
    let importId = pendingImports.get(fingerprint)?.importId;
    let status: string | undefined;
    if (importId) {
      try {
        status = await waitForImport(call, base, importId);
      } catch (error) {
        if (!(error instanceof ImportGone)) throw error;
        pendingImports.delete(fingerprint);
        importId = undefined;
      }
    }
    if (!importId) {
      const started = await upload(call, base, file);
      importId = started.id;
      remember(fingerprint, importId);
      status = started.status && started.status !== 'NotFinished' ? started.status : undefined;
    }
    try {
      status ??= await waitForImport(call, base, importId);
    } catch (error) {
      if (error instanceof ImportGone) {
        pendingImports.delete(fingerprint);
        throw new DestinationError('vendorUnavailable', `dotdigital no longer knows import ${importId}`);
      }
      throw error;
    }
    pendingImports.delete(fingerprint);
    const outcome = importStatusOutcome(status);
    if (outcome.state === 'failed')
      throw new DestinationError(outcome.category, `Import ${importId}: ${outcome.message}`, { code: status || 'Unknown' });
    const faults = await patiently(call, async () => {
      const response = await send(call, base, 'GET', `/v2/contacts/import/${encodeURIComponent(importId!)}/report-faults`, {
        headers: { accept: 'text/csv, application/octet-stream, */*' },
      });
      if (response.status !== 200) throw callFailed(response, 'Reading the import faults');
      if (typeof response.body !== 'string')
        throw new DestinationError('vendorUnavailable', 'dotdigital answered report-faults without a CSV body');
      return response.body;
    });
    return fromReportFaults(faults, file.members.length);
  }

  return {
    type: 'dotdigital',
    displayName: 'dotdigital',
    connectionSettings: settingsSchema,
    connectionSecrets: secretsSchema,
    exportDetails: detailsSchema,
    dataMatching,
    batchSize: DOTDIGITAL_BATCH_SIZE,
    // Each import: one upload, status polls, one report-faults read. dotdigital documents no import
    // duration; 30 s per 50,000-contact file is an assumption the plan states.
    importJob: { fixedCalls: 1, polling, typicalSeconds: 30 },
    // One member per removal: an email lookup and a delete (see the header).
    removalBatchSize: 1,
    removalCallsPerBatch: 2,
    limits: {
      // The seeds: up to 1 million profiles per export (a contract may lower it).
      maxMembersPerExport: 1_000_000,
      // The engine takes one token per import (sendBatch); polls and the faults read happen
      // inside it. The Basic package's Low tier, 35 calls/min, paces import starts; a batch then
      // costs ~1 upload + ~5–8 polls + 1 faults read, and 1M members are 20 imports, so even the
      // lowest tier leaves room (seeds' promise: 1M in 3 hours).
      requestsPerSecond: 35 / 60,
      burst: 3,
      // At most 25 active imports per account: the engine's shared slots hold one per import
      // across all runs.
      maxConcurrentRequests: 25,
    },
    eligibleSegmentTypes: ['Profile', 'Contact'],
    exportKinds: ['segment'],
    apiUrlSetting: 'DOTDIGITAL_API_URL',

    async testConnection(call) {
      try {
        // The cheapest authenticated call, and it names the account's region.
        const endpoint = await discoverEndpoint(call);
        const region = call.settings.region ?? 'auto';
        const accountRegion = regionOf(endpoint);
        if (region !== 'auto' && accountRegion && accountRegion !== region)
          return { ok: false, reason: wrongRegion(region, endpoint, accountRegion).message };
        return { ok: true };
      } catch (error) {
        if (error instanceof DestinationError) return { ok: false, reason: error.message };
        throw error;
      }
    },

    async prepareRun(call) {
      const endpoint = await discoverEndpoint(call);
      const region = call.settings.region ?? 'auto';
      const accountRegion = regionOf(endpoint);
      if (region !== 'auto' && accountRegion && accountRegion !== region) throw wrongRegion(region, endpoint, accountRegion);
      // Fails the run at once, rather than after the first upload, when the address book is wrong.
      const response = await send(call, endpoint, 'GET', `/v2/address-books/${call.details.addressBookId}`);
      if (response.status === 404) {
        throw new DestinationError('config', `Address book ${call.details.addressBookId} does not exist in this dotdigital account.`, {
          status: 404,
          code: vendorErrorCode(response.body),
        });
      }
      if (response.status !== 200) throw callFailed(response, `Reading address book ${call.details.addressBookId}`);
      return { ...call.details, apiEndpoint: endpoint };
    },

    async sendBatch(call, members) {
      if (members.length === 0) return { succeeded: 0, failures: [] };
      const { unique, skipped } = withoutDuplicates(members);
      const base = await endpointFor(call);
      let succeeded = 0;
      const { files, oversized } = toImportFiles(unique, fileTargetBytes);
      const failures: RecordFailure[] = oversized.map((member) => ({
        email: member.email,
        status: 'failed',
        category: 'invalidRecord',
        code: 'RowTooLarge',
        message: `The contact's data makes a row larger than an import file may hold (${fileTargetBytes.toLocaleString('en-US')} bytes).`,
      }));
      // One file per batch; more only when rows are unusually long.
      for (const file of files) {
        const result = await importFile(call, base, file);
        succeeded += result.succeeded;
        failures.push(...result.failures);
      }
      return { succeeded, failures: [...failures, ...skipped] };
    },

    async removeBatch(call, members) {
      if (members.length === 0) return { succeeded: 0, failures: [] };
      if (members.length > 1)
        throw new DestinationError('config', `A removal batch holds ${members.length} contacts; dotdigital removes one per call.`);
      const email = members[0]!.email.toLowerCase();
      const base = await endpointFor(call);
      const lookup = await send(call, base, 'GET', `/v2/contacts/${encodeURIComponent(email)}`);
      const lookupCode = vendorErrorCode(lookup.body);
      if (lookup.status === 404 || lookupCode === 'ERROR_CONTACT_NOT_FOUND') return { succeeded: 1, failures: [] };
      if (lookup.status === 400 && (lookupCode === 'ERROR_CONTACT_INVALID' || lookupCode === 'ERROR_PARAMETER_INVALID')) {
        return {
          succeeded: 0,
          failures: [
            {
              email,
              status: 'failed',
              category: 'invalidRecord',
              code: lookupCode,
              message: vendorMessage(lookup.body) || 'dotdigital refused the email address.',
            },
          ],
        };
      }
      if (lookup.status !== 200) throw callFailed(lookup, 'Looking up the contact');
      const contactId = (lookup.body as { id?: unknown } | undefined)?.id;
      if (typeof contactId !== 'number')
        throw new DestinationError('vendorUnavailable', 'dotdigital answered the contact lookup without a contact id');
      const removed = await patiently(call, () =>
        send(call, base, 'DELETE', `/v2/address-books/${call.details.addressBookId}/contacts/${contactId}`),
      );
      if ((removed.status >= 200 && removed.status < 300) || vendorErrorCode(removed.body) === 'ERROR_CONTACT_NOT_FOUND')
        return { succeeded: 1, failures: [] };
      throw callFailed(removed, 'Removing the contact from the address book');
    },
  };
}

export const dotdigital = createDotdigitalAdapter();
