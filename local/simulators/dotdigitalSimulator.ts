// A local dotdigital (API v2) for development, tests and benchmarks. It speaks the vendor's paths,
// Basic auth, answer shapes and ERROR_* messages for the calls Outflow makes (see the sources in
// shared/destinations/dotdigital.ts): account-info naming the account's endpoint, address books,
// asynchronous contact imports from CSV files (multipart or JSON base64) with the vendor's job
// states, report and report-faults, 25 active imports per account, a per-minute call limit with
// 429 and X-RateLimit headers, and faults injected from a seeded PRNG so a failing test replays.
//
// Where the vendor's behaviour is not documented the simulator picks a reading and says so: a file
// over 50 MB is answered 413; a missing Email column is a 400 ERROR_NO_EMAIL_COLUMN at upload;
// a CSV that cannot be parsed (or an Excel file, which it cannot read) ends InvalidFileFormat; a
// Failed import keeps none of its rows; the first of several rows with one email is imported and
// the others are faults with reason Duplicate; the plain import (without merge option) overwrites
// like Overwrite; report-faults columns are Reason, email, then the file's other columns in lower
// case, alphabetically (as the vendor's sample shows). Every regional host maps to this one
// origin, so the simulator cannot see which region a call was meant for: `accountRegion` makes
// account-info name https://{region}-api.dotdigital.com, and `callerRegion` (a test switch) says
// which region the client under test uses; when they differ every call but account-info answers
// the vendor's wrong-region 403. Removal: `GET /v2/contacts/{email}` finds a contact (404
// "Error: ERROR_CONTACT_NOT_FOUND" when the account has none; 400 ERROR_PARAMETER_INVALID for a
// malformed address, a reading) and `DELETE /v2/address-books/{id}/contacts/{contactId}` takes it
// out of the book (204, also when it was not in the book; 404 ERROR_CONTACT_NOT_FOUND for an id the
// account does not know); the contact stays in the account. Both count against the per-minute limit.
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import {
  countRoute,
  deliverySummary,
  emptyRequestCounters,
  FaultInjector,
  faultAndResetControl,
  retryAfterSeconds,
  startSimulatorServer,
  type Faults as RequestFaults,
  type RequestCounters,
} from './simulatorKit.js';

export interface Faults extends RequestFaults {
  /** Share of imports that end Failed (none of their rows kept). */
  failImportRate?: number;
  /** Extra time every import stays NotFinished (slow jobs). */
  slowImportMs?: number;
  /**
   * One import upload in `every` is refused 400 `ERROR_APIUSAGE_EXCEEDED` (the 1st, then the
   * (1 + every)-th, …; `every: 2` refuses every other one), as the vendor answers
   * API users of the older flat scheme over their hourly allowance (developer.dotdigital.com
   * call-rate-limits). The message text around the code is this simulator's; nothing is imported.
   */
  apiUsageExceeded?: { every: number };
}

export interface RateLimit {
  /** Calls per account per one-minute window (the vendor's tiers are per minute). */
  callsPerMinute: number;
}

export type Region = 'r1' | 'r2' | 'r3';

export interface DotdigitalSimulatorOptions {
  /** 0 or absent: a free port. Always 127.0.0.1. */
  port?: number;
  /** Accepted API users, email → password; absent: any non-empty pair is accepted (local demos). */
  apiUsers?: Record<string, string>;
  /** The account's region, named by account-info; absent: account-info names this simulator's origin. */
  accountRegion?: Region;
  /** The region the client under test is configured for (see the header); absent: no region check. */
  callerRegion?: Region;
  /** Per-minute window per account; absent: the Basic package's Low tier, 35/min. `false`: no limit. */
  rateLimit?: RateLimit | false;
  /** Also send Retry-After on 429. Default false: the vendor documents X-RateLimit-* only (vendorFacts.ts). */
  retryAfterHeader?: boolean;
  faults?: Faults;
  /**
   * Demo option: any address book ID used is created on first use. Default false: an unknown one
   * answers 404 ERROR_ADDRESSBOOK_NOT_FOUND, as the vendor does. The local stack turns it on.
   */
  autoCreateAddressBooks?: boolean;
  /** Active (NotFinished) imports per account. Default 25. */
  maxActiveImports?: number;
  /** Largest import file accepted, bytes. Default 50 MB. */
  maxFileBytes?: number;
  /** How long an import stays NotFinished. Default 200 ms. */
  importDelayMs?: number;
  /** How many status polls answer NotFinished before an import may finish. Default 0. */
  notFinishedPolls?: number;
  /** Addresses on the account's suppression list: imports report them as Globally Suppressed. */
  suppressedEmails?: string[];
}

export interface SimulatedContact {
  id: number;
  email: string;
  /** Data fields by upper-case name, e.g. FIRSTNAME (a plain object: accounts hold millions). */
  dataFields: Record<string, string>;
}

export interface SimulatedAddressBook {
  id: number;
  name: string;
  /** Lower-cased emails of the contacts in the book. */
  members: Set<string>;
  /** Times each lower-cased email was imported into the book. */
  deliveries: Map<string, number>;
}

export type ImportStatus =
  'Finished' | 'NotFinished' | 'RejectedByWatchdog' | 'InvalidFileFormat' | 'Unknown' | 'Failed' | 'ExceedsAllowedContactLimit';

export interface ImportReport {
  newContacts: number;
  updatedContacts: number;
  globallySuppressed: number;
  invalidEntries: number;
  duplicateEmails: number;
  blocked: number;
  unsubscribed: number;
  hardBounced: number;
  softBounced: number;
  ispComplaints: number;
  mailBlocked: number;
  domainSuppressed: number;
  pendingDoubleOptin: number;
  failures: number;
  suppressedContacts: number;
}

export interface SimulatedImport {
  id: string;
  addressBookId: number;
  fileName: string;
  mergeOption: MergeOption;
  status: ImportStatus;
  createdAt: number;
  finishAt: number;
  polls: number;
  /** Decided at upload from the PRNG: the job ends Failed. */
  willFail: boolean;
  /** Parsed file until the job finishes; undefined when it could not be parsed. */
  header?: string[];
  rows?: string[][];
  contactCount: number;
  report?: ImportReport;
  faultsCsv?: string;
}

export interface SimulatorCounters extends RequestCounters {
  forbidden: number;
  imports: number;
  importedContacts: number;
  /** Contacts taken out of an address book by DELETE …/contacts/{contactId}. */
  removedFromAddressBooks: number;
  tooManyActiveImports: number;
  /** Uploads refused 400 ERROR_APIUSAGE_EXCEEDED (the flat scheme's throttle). */
  apiUsageExceeded: number;
}

export interface SimulatorState {
  accountId: number;
  /** Contacts of the account by lower-cased email (address books hold memberships). */
  contacts: Map<string, SimulatedContact>;
  addressBooks: Map<number, SimulatedAddressBook>;
  imports: Map<string, SimulatedImport>;
  /** Lower-cased addresses on the account's suppression list. */
  suppressed: Set<string>;
  counters: SimulatorCounters;
}

export interface AddressBookInspection {
  addressBookId: number;
  name: string;
  memberCount: number;
  /** Imported rows in total, and how many emails were imported more than once. */
  deliveries: number;
  duplicates: number;
  duplicateEmails: string[];
  imports: number;
  activeImports: number;
}

export interface DotdigitalSimulator {
  /** Origin for DOTDIGITAL_API_URL, e.g. http://127.0.0.1:4012. */
  url: string;
  port: number;
  state: SimulatorState;
  setFaults(faults: Faults): void;
  inspectAddressBook(addressBookId: number): AddressBookInspection | undefined;
  /** Empties contacts, books and imports, clears faults and windows, restores the suppression list; keeps users and options. */
  reset(): void;
  stop(): Promise<void>;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { callsPerMinute: VENDOR_FACTS.dotdigital.lowTierCallsPerMinute.value };
const DEFAULT_MAX_FILE_BYTES = VENDOR_FACTS.dotdigital.importFileBytes.value;
const MERGE_OPTIONS = ['Overwrite', 'OnlyOverwriteIfNotEmpty', 'OnlyOverwriteIfContactDataNotPopulated'] as const;
type MergeOption = (typeof MERGE_OPTIONS)[number];
// Pragmatic syntax check: one @, no spaces, a dotted domain.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

class VendorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function emptyCounters(): SimulatorCounters {
  return {
    ...emptyRequestCounters(),
    forbidden: 0,
    imports: 0,
    importedContacts: 0,
    removedFromAddressBooks: 0,
    tooManyActiveImports: 0,
    apiUsageExceeded: 0,
  };
}

function emptyReport(): ImportReport {
  return {
    newContacts: 0,
    updatedContacts: 0,
    globallySuppressed: 0,
    invalidEntries: 0,
    duplicateEmails: 0,
    blocked: 0,
    unsubscribed: 0,
    hardBounced: 0,
    softBounced: 0,
    ispComplaints: 0,
    mailBlocked: 0,
    domainSuppressed: 0,
    pendingDoubleOptin: 0,
    failures: 0,
    suppressedContacts: 0,
  };
}

/** Reads the whole body; beyond `limit` bytes it keeps draining (so the client reads our answer) but drops the data. */
function readBody(request: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge }));
    request.on('error', reject);
  });
}

function credentialsOf(request: IncomingMessage): { username: string; password: string } | undefined {
  const match = /^Basic\s+(.+)$/i.exec(request.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The file part of a multipart/form-data body (the part with a filename, or the one named `file`). */
function multipartFile(body: Buffer, contentType: string): { fileName: string; data: Buffer } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let position = body.indexOf(delimiter);
  while (position >= 0) {
    const partStart = position + delimiter.length;
    if (body.subarray(partStart, partStart + 2).toString() === '--') return undefined;
    const headersEnd = body.indexOf('\r\n\r\n', partStart);
    if (headersEnd < 0) return undefined;
    const headers = body.subarray(partStart, headersEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd + 4);
    if (next < 0) return undefined;
    const fileName = /filename="([^"]*)"/i.exec(headers)?.[1];
    const name = /\bname="([^"]*)"/i.exec(headers)?.[1];
    if (fileName !== undefined || name === 'file') return { fileName: fileName ?? 'file.csv', data: body.subarray(headersEnd + 4, next) };
    position = next + 2;
  }
  return undefined;
}

function routeKey(method: string, path: string): string {
  if (/^\/v2\/contacts\/[^/]+$/.test(path)) return `${method} /v2/contacts/{email}`;
  return `${method} ${path
    .replace(/\/contacts\/\d+$/, '/contacts/{contactId}')
    .replace(/\/address-books\/[^/]+/, '/address-books/{addressBookId}')
    .replace(/\/import\/(?!with-merge-option)[^/]+/, '/import/{importId}')
    .replace(/with-merge-option\/[^/]+/, 'with-merge-option/{mergeOption}')}`;
}

export async function startDotdigitalSimulator(options: DotdigitalSimulatorOptions = {}): Promise<DotdigitalSimulator> {
  const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  const retryAfterHeader = options.retryAfterHeader ?? false;
  const autoCreate = options.autoCreateAddressBooks ?? false;
  const maxActiveImports = options.maxActiveImports ?? VENDOR_FACTS.dotdigital.activeImports.value;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const importDelayMs = options.importDelayMs ?? 200;
  const notFinishedPolls = options.notFinishedPolls ?? 0;
  // Room for a base64 JSON body of the largest file.
  const maxBodyBytes = Math.ceil(maxFileBytes * 1.4) + 1024 * 1024;

  const initialSuppressed = (options.suppressedEmails ?? []).map((email) => email.trim().toLowerCase());
  const state: SimulatorState = {
    accountId: 100_000 + Math.floor(Math.random() * 900_000),
    contacts: new Map(),
    addressBooks: new Map(),
    imports: new Map(),
    suppressed: new Set(initialSuppressed),
    counters: emptyCounters(),
  };
  const injector = new FaultInjector<Faults>(options.faults ?? {});
  /** Import uploads since faults were last set (the flat-scheme refusal counts them). */
  let uploads = 0;
  const setFaults = (next: Faults) => {
    uploads = 0;
    injector.set(next);
  };
  let nextContactId = 1;
  const windows = new Map<string, { start: number; calls: number }>();
  let origin = '';

  // ---- rate limiting: fixed one-minute windows per account, as the vendor's tiers count -----------

  function windowFor(username: string, now: number): { start: number; calls: number } | undefined {
    if (!rateLimit) return undefined;
    const start = Math.floor(now / 60_000) * 60_000;
    let window = windows.get(username);
    if (!window || window.start !== start) {
      window = { start, calls: 0 };
      windows.set(username, window);
    }
    return window;
  }

  function rateHeaders(window: { start: number; calls: number } | undefined): Record<string, string> {
    if (!rateLimit || !window) return {};
    return {
      'X-RateLimit-Limit': String(rateLimit.callsPerMinute),
      'X-RateLimit-Remaining': String(Math.max(0, rateLimit.callsPerMinute - window.calls)),
      // Epoch seconds when the window ends.
      'X-RateLimit-Reset': String(Math.ceil((window.start + 60_000) / 1000)),
    };
  }

  // ---- address books and imports --------------------------------------------------------------------

  function addressBookFor(id: number): SimulatedAddressBook {
    const book = state.addressBooks.get(id);
    if (book) return book;
    if (!autoCreate) throw new VendorError(404, 'Error: ERROR_ADDRESSBOOK_NOT_FOUND');
    const created: SimulatedAddressBook = { id, name: `Address book ${id}`, members: new Set(), deliveries: new Map() };
    state.addressBooks.set(id, created);
    return created;
  }

  /** Contact ids are handed out in order, so the id index is built only when asked for. */
  const emailsById = new Map<number, string>();
  function emailById(contactId: number): string | undefined {
    if (!Number.isInteger(contactId) || contactId <= 0) return undefined;
    if (!emailsById.has(contactId)) for (const [email, contact] of state.contacts) emailsById.set(contact.id, email);
    const email = emailsById.get(contactId);
    return email !== undefined && state.contacts.get(email)?.id === contactId ? email : undefined;
  }

  function activeImports(): number {
    let active = 0;
    for (const job of state.imports.values()) if (job.status === 'NotFinished') active += 1;
    return active;
  }

  /** Ends every import whose time (and poll count) has come. */
  function settle(now = Date.now()): void {
    for (const job of state.imports.values()) {
      if (job.status === 'NotFinished' && now >= job.finishAt && job.polls >= notFinishedPolls) finish(job);
    }
  }

  function finish(job: SimulatedImport): void {
    if (job.willFail) {
      job.status = 'Failed';
    } else if (!job.header || !job.rows) {
      job.status = 'InvalidFileFormat';
    } else {
      applyRows(job, job.header, job.rows);
      job.status = 'Finished';
    }
    job.header = undefined;
    job.rows = undefined;
  }

  function applyRows(job: SimulatedImport, header: string[], rows: string[][]): void {
    const book = addressBookFor(job.addressBookId);
    const names = header.map((name) => name.trim().toUpperCase());
    const emailColumn = names.indexOf('EMAIL');
    const report = emptyReport();
    const faultColumns = names
      .map((name, index) => ({ name: name.toLowerCase(), index }))
      .filter((column) => column.index !== emailColumn)
      .sort((a, b) => a.name.localeCompare(b.name));
    const faultRows: string[][] = [];
    const fault = (reason: string, row: string[]) =>
      faultRows.push([reason, (row[emailColumn] ?? '').trim(), ...faultColumns.map((column) => row[column.index] ?? '')]);
    const seen = new Set<string>();
    for (const row of rows) {
      const raw = (row[emailColumn] ?? '').trim();
      const email = raw.toLowerCase();
      if (!EMAIL_PATTERN.test(raw) || raw.length > 254) {
        report.invalidEntries += 1;
        fault('Invalid Entries', row);
        continue;
      }
      if (seen.has(email)) {
        report.duplicateEmails += 1;
        fault('Duplicate', row);
        continue;
      }
      seen.add(email);
      if (state.suppressed.has(email)) {
        report.globallySuppressed += 1;
        report.suppressedContacts += 1;
        fault('Globally Suppressed', row);
        continue;
      }
      let contact = state.contacts.get(email);
      if (contact) report.updatedContacts += 1;
      else {
        contact = { id: nextContactId++, email: raw, dataFields: Object.create(null) as Record<string, string> };
        state.contacts.set(email, contact);
        report.newContacts += 1;
      }
      for (let index = 0; index < names.length; index++) {
        if (index === emailColumn || !names[index]) continue;
        mergeField(contact, names[index]!, (row[index] ?? '').trim(), job.mergeOption);
      }
      book.members.add(email);
      book.deliveries.set(email, (book.deliveries.get(email) ?? 0) + 1);
      state.counters.importedContacts += 1;
    }
    job.report = report;
    job.faultsCsv = stringify([['Reason', 'email', ...faultColumns.map((column) => column.name)], ...faultRows], {
      record_delimiter: 'windows',
    });
  }

  function mergeField(contact: SimulatedContact, name: string, value: string, mergeOption: MergeOption): void {
    const current = contact.dataFields[name];
    if (mergeOption === 'OnlyOverwriteIfNotEmpty' && !value) return;
    if (mergeOption === 'OnlyOverwriteIfContactDataNotPopulated' && current) return;
    if (value) contact.dataFields[name] = value;
    else delete contact.dataFields[name];
  }

  function parseMergeOption(raw: string | undefined): MergeOption {
    if (raw === undefined) return 'Overwrite';
    const byNumber = /^\d$/.test(raw) ? MERGE_OPTIONS[Number(raw)] : undefined;
    const byName = MERGE_OPTIONS.find((option) => option.toLowerCase() === raw.toLowerCase());
    const option = byNumber ?? byName;
    if (!option) throw new VendorError(400, `The merge option '${raw}' is not valid. ERROR_INVALID_MERGE_OPTION`);
    return option;
  }

  function readUpload(request: IncomingMessage, body: Buffer): { fileName: string; data: Buffer } {
    const contentType = request.headers['content-type'] ?? '';
    if (/multipart\/form-data/i.test(contentType)) {
      const file = multipartFile(body, contentType);
      if (!file) throw new VendorError(400, 'No file was found in the request. ERROR_IMPORT_UNSUPPORTED_FORMAT');
      return file;
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new VendorError(400, 'The request is invalid.');
    }
    const data = json?.data ?? json?.Data;
    const fileName = json?.fileName ?? json?.filename ?? json?.FileName;
    if (typeof data !== 'string' || !data) throw new VendorError(400, 'No file data was provided. ERROR_IMPORT_UNSUPPORTED_FORMAT');
    return { fileName: typeof fileName === 'string' && fileName ? fileName : 'file.csv', data: Buffer.from(data, 'base64') };
  }

  function startImport(
    request: IncomingMessage,
    body: Buffer,
    addressBookId: number,
    mergeOptionRaw: string | undefined,
  ): [number, unknown] {
    const usage = injector.faults.apiUsageExceeded;
    if (usage && usage.every > 0 && uploads++ % usage.every === 0) {
      state.counters.apiUsageExceeded += 1;
      throw new VendorError(400, 'Your API usage for this hour has been exceeded. ERROR_APIUSAGE_EXCEEDED');
    }
    const mergeOption = parseMergeOption(mergeOptionRaw);
    addressBookFor(addressBookId);
    settle();
    if (activeImports() >= maxActiveImports) {
      state.counters.tooManyActiveImports += 1;
      throw new VendorError(
        400,
        `You currently have more than ${maxActiveImports} imports running at the same time. ERROR_IMPORT_TOOMANYACTIVEIMPORTS`,
      );
    }
    const { fileName, data } = readUpload(request, body);
    if (data.length > maxFileBytes) throw new VendorError(413, 'Request Entity Too Large');
    let header: string[] | undefined;
    let rows: string[][] | undefined;
    // Excel files are valid for the vendor; this simulator cannot read them.
    if (!/\.xlsx?$/i.test(fileName)) {
      try {
        const parsed = parse(data, { bom: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
        header = parsed[0] ?? [];
        rows = parsed.slice(1);
      } catch {
        header = undefined;
      }
    }
    if (header && !header.some((name) => name.trim().toLowerCase() === 'email')) {
      throw new VendorError(400, 'The file does not contain an Email column. ERROR_NO_EMAIL_COLUMN');
    }
    const now = Date.now();
    const job: SimulatedImport = {
      id: randomUUID(),
      addressBookId,
      fileName,
      mergeOption,
      status: 'NotFinished',
      createdAt: now,
      finishAt: now + importDelayMs + (injector.faults.slowImportMs ?? 0),
      polls: 0,
      willFail: !!injector.faults.failImportRate && injector.random() < injector.faults.failImportRate,
      header,
      rows: header ? rows : undefined,
      contactCount: rows?.length ?? 0,
    };
    state.imports.set(job.id, job);
    state.counters.imports += 1;
    return [202, { id: job.id, status: job.status }];
  }

  function importFor(id: string): SimulatedImport {
    const job = state.imports.get(id.toLowerCase()) ?? state.imports.get(id);
    if (!job) throw new VendorError(404, 'Error: ERROR_IMPORT_NOT_FOUND');
    return job;
  }

  function inspectAddressBook(addressBookId: number): AddressBookInspection | undefined {
    settle();
    const book = state.addressBooks.get(addressBookId);
    if (!book) return undefined;
    const delivered = deliverySummary(book.deliveries);
    const jobs = [...state.imports.values()].filter((job) => job.addressBookId === addressBookId);
    return {
      addressBookId,
      name: book.name,
      memberCount: book.members.size,
      deliveries: delivered.deliveries,
      duplicates: delivered.duplicates,
      duplicateEmails: delivered.duplicateKeys,
      imports: jobs.length,
      activeImports: jobs.filter((job) => job.status === 'NotFinished').length,
    };
  }

  // ---- vendor routes -----------------------------------------------------------------------------

  type Answer = [status: number, body: unknown, contentType?: string];

  function accountInfo(): Answer {
    const endpoint = options.accountRegion ? `https://${options.accountRegion}-api.dotdigital.com` : origin;
    return [
      200,
      {
        id: state.accountId,
        properties: [
          { name: 'Name', type: 'String', value: 'Simulated account' },
          { name: 'MainEmail', type: 'String', value: 'owner@example.com' },
          { name: 'ApiEndpoint', type: 'String', value: endpoint },
          { name: 'APILocale', type: 'String', value: 'en-GB' },
        ],
      },
    ];
  }

  function addressBookId(raw: string): number {
    const id = Number(raw);
    if (!Number.isInteger(id) || id <= 0) throw new VendorError(400, 'The address book ID is not valid. ERROR_PARAMETER_INVALID');
    return id;
  }

  function route(method: string, path: string, request: IncomingMessage, body: Buffer): { key: string; answer: () => Answer } | undefined {
    let match: RegExpExecArray | null;
    const key = routeKey(method, path);
    if (method === 'GET' && path === '/v2/account-info') return { key, answer: accountInfo };
    if ((match = /^\/v2\/address-books\/([^/]+)\/contacts\/import(?:\/with-merge-option\/([^/]+))?$/.exec(path)) && method === 'POST') {
      const id = addressBookId(decodeURIComponent(match[1]!));
      const mergeOption = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
      return { key, answer: () => startImport(request, body, id, mergeOption) };
    }
    if ((match = /^\/v2\/contacts\/([^/]+)$/.exec(path)) && method === 'GET' && match[1] !== 'import') {
      const email = decodeURIComponent(match[1]!).trim().toLowerCase();
      return {
        key,
        answer: () => {
          if (!EMAIL_PATTERN.test(email)) throw new VendorError(400, 'The email address is not valid. ERROR_PARAMETER_INVALID');
          const contact = state.contacts.get(email);
          if (!contact) throw new VendorError(404, 'Error: ERROR_CONTACT_NOT_FOUND');
          return [
            200,
            {
              id: contact.id,
              email: contact.email,
              optInType: 'Single',
              emailType: 'Html',
              dataFields: Object.entries(contact.dataFields).map(([name, value]) => ({ key: name, value })),
              status: 'Subscribed',
            },
          ];
        },
      };
    }
    if ((match = /^\/v2\/address-books\/([^/]+)\/contacts\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      const id = addressBookId(decodeURIComponent(match[1]!));
      const contactId = Number(decodeURIComponent(match[2]!));
      return {
        key,
        answer: () => {
          settle();
          const book = addressBookFor(id);
          const email = emailById(contactId);
          if (!email) throw new VendorError(404, 'Error: ERROR_CONTACT_NOT_FOUND');
          if (book.members.delete(email)) state.counters.removedFromAddressBooks += 1;
          return [204, undefined];
        },
      };
    }
    if ((match = /^\/v2\/address-books\/([^/]+)$/.exec(path)) && method === 'GET') {
      const id = addressBookId(decodeURIComponent(match[1]!));
      return {
        key,
        answer: () => {
          settle();
          const book = addressBookFor(id);
          return [200, { id: book.id, name: book.name, visibility: 'Private', contacts: book.members.size }];
        },
      };
    }
    if ((match = /^\/v2\/contacts\/import\/([^/]+)$/.exec(path)) && method === 'GET') {
      const id = decodeURIComponent(match[1]!);
      return {
        key,
        answer: () => {
          const job = importFor(id);
          // Settled before this poll is counted: with notFinishedPolls n, the first n polls answer
          // NotFinished however late they come.
          settle();
          if (job.status === 'NotFinished') job.polls += 1;
          return [200, { id: job.id, status: job.status }];
        },
      };
    }
    if ((match = /^\/v2\/contacts\/import\/([^/]+)\/(report|report-faults)$/.exec(path)) && method === 'GET') {
      const id = decodeURIComponent(match[1]!);
      const which = match[2];
      return {
        key,
        answer: () => {
          settle();
          const job = importFor(id);
          if (job.status === 'NotFinished') throw new VendorError(404, 'Error: ERROR_IMPORT_REPORT_NOT_FOUND');
          if (which === 'report') return [200, job.report ?? emptyReport()];
          return [200, job.faultsCsv ?? 'Reason,email\r\n', 'application/octet-stream'];
        },
      };
    }
    return undefined;
  }

  // ---- control endpoints -------------------------------------------------------------------------

  function control(method: string, path: string, body: Buffer): Answer | undefined {
    const json = () => {
      try {
        return body.length ? (JSON.parse(body.toString('utf8')) as unknown) : {};
      } catch {
        return {};
      }
    };
    const common = faultAndResetControl(method, path, json(), injector, reset);
    if (common) return common;
    if (method === 'GET' && path === '/_simulator/state') {
      settle();
      return [
        200,
        {
          counters: state.counters,
          contacts: state.contacts.size,
          addressBooks: [...state.addressBooks.keys()].map((id) => inspectAddressBook(id)),
          activeImports: activeImports(),
        },
      ];
    }
    const match = /^\/_simulator\/address-books\/([^/]+)$/.exec(path);
    if (method === 'GET' && match) {
      const inspection = inspectAddressBook(Number(decodeURIComponent(match[1]!)));
      return inspection ? [200, inspection] : [404, { message: 'Error: ERROR_ADDRESSBOOK_NOT_FOUND' }];
    }
    return undefined;
  }

  // ---- request handling --------------------------------------------------------------------------

  function answer(
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    contentType?: string,
  ): void {
    const isText = typeof body === 'string' && contentType !== undefined;
    const text = body === undefined ? '' : isText ? (body as string) : JSON.stringify(body);
    response.writeHead(status, {
      'content-type': contentType ?? 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    response.end(text);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const path = new URL(request.url ?? '/', 'http://simulator').pathname;
    const { body, tooLarge } = await readBody(request, maxBodyBytes);

    if (path.startsWith('/_simulator/')) {
      const [status, result] = control(method, path, body) ?? [404, { message: 'Not Found' }];
      return answer(response, status, result);
    }

    state.counters.requests += 1;
    // Faults come first, as an overloaded front end would answer before auth or routing.
    const fault = await injector.inject(request, state.counters);
    if (fault === 'connectionReset') return;
    if (fault === 'serverError') return answer(response, 500, { message: 'An error has occurred.' });
    if (fault === 'tooManyRequests') {
      // The vendor's 429 carries X-RateLimit-Reset (epoch seconds); Retry-After only when asked for.
      const headers: Record<string, string> = {
        ...(rateLimit ? { 'X-RateLimit-Limit': String(rateLimit.callsPerMinute) } : {}),
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': String(Math.ceil(Date.now() / 1000) + 1),
      };
      if (retryAfterHeader) headers['Retry-After'] = '1';
      return answer(response, 429, { message: 'Too Many Requests' }, headers);
    }

    const credentials = credentialsOf(request);
    const known =
      credentials && (options.apiUsers ? options.apiUsers[credentials.username] === credentials.password : credentials.password.length > 0);
    if (!credentials || !known) {
      state.counters.unauthorized += 1;
      return answer(response, 401, { message: 'Authorization has been denied for this request.' });
    }
    if (
      options.accountRegion &&
      options.callerRegion &&
      options.callerRegion !== options.accountRegion &&
      !(method === 'GET' && path === '/v2/account-info')
    ) {
      state.counters.forbidden += 1;
      return answer(response, 403, { message: 'Forbidden: Access is denied.' });
    }

    const window = windowFor(credentials.username, Date.now());
    if (window && rateLimit && window.calls >= rateLimit.callsPerMinute) {
      state.counters.tooManyRequests += 1;
      const headers = rateHeaders(window);
      if (retryAfterHeader) headers['Retry-After'] = retryAfterSeconds((window.start + 60_000 - Date.now()) / 1000);
      return answer(response, 429, { message: 'Too Many Requests' }, headers);
    }
    if (window) window.calls += 1;
    const headers = rateHeaders(window);

    if (tooLarge) return answer(response, 413, { message: 'Request Entity Too Large' }, headers);
    let matched: ReturnType<typeof route>;
    try {
      matched = route(method, path, request, body);
    } catch (error) {
      if (error instanceof VendorError) return answer(response, error.status, { message: error.message }, headers);
      throw error;
    }
    if (!matched) return answer(response, 404, { message: `No HTTP resource was found that matches the request URI '${path}'.` }, headers);
    countRoute(state.counters, matched.key);
    try {
      const [status, result, contentType] = matched.answer();
      return answer(response, status, result, headers, contentType);
    } catch (error) {
      if (error instanceof VendorError) return answer(response, error.status, { message: error.message }, headers);
      state.counters.serverErrors += 1;
      return answer(response, 500, { message: 'An error has occurred.' }, headers);
    }
  }

  function reset(): void {
    state.contacts.clear();
    state.addressBooks.clear();
    state.imports.clear();
    state.suppressed = new Set(initialSuppressed);
    state.counters = emptyCounters();
    windows.clear();
    nextContactId = 1;
    emailsById.clear();
    setFaults({});
  }

  const server = await startSimulatorServer({
    port: options.port,
    handle,
    answerInternalError: (response) => answer(response, 500, { message: 'An error has occurred.' }),
  });
  origin = server.url;

  return { url: origin, port: server.port, state, setFaults, inspectAddressBook, reset, stop: server.stop };
}
