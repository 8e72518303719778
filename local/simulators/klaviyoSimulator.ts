// A local Klaviyo API for development, tests and benchmarks. It speaks the vendor's paths, the
// `Authorization: Klaviyo-API-Key` and `revision` headers, JSON:API bodies and errors for the
// calls Outflow makes (sources in shared/destinations/klaviyo.ts), keeps one account's profiles
// and lists in memory, runs bulk profile import jobs asynchronously (queued → processing →
// complete, with per-profile import errors), counts how often each email was added to each list
// (to prove "none twice"), applies the documented per-account fixed-window rate limits (burst per
// second, steady per minute) per endpoint with 429 and Retry-After, and injects faults from a
// seeded PRNG so a failing test replays.
//
// Where the vendor's behaviour is not documented the simulator picks the reading that lets tests
// catch adapter mistakes, and says so: more than 10,000 profiles is 400 (code invalid); a body
// over 5 MB is 413; a missing revision header is 400; a profile with an invalid email or phone,
// or over 100 KB, becomes an import error (code invalid) carrying the profile as original_payload;
// each endpoint has its own quota (the reference gives each endpoint its own limits). Removal:
// "Get Profile IDs for List" answers the ids of the list's members among the emails of an
// any/equals email filter (one page, at most 100), "Remove Profiles from List" (DELETE, at most
// 1,000 ids) takes them off the list with 204; ids not in the list change nothing; the profile stays.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import {
  countRoute,
  deliverySummary,
  emptyRequestCounters,
  FaultInjector,
  faultAndResetControl,
  readJsonBody,
  retryAfterSeconds,
  startSimulatorServer,
  type Faults,
  type RequestCounters,
} from './simulatorKit.js';

export type { Faults };

/** Klaviyo's two fixed windows: requests per second (burst) and per minute (steady). */
export interface KlaviyoRateLimit {
  burstPerSecond: number;
  steadyPerMinute: number;
}

export interface KlaviyoSimulatorOptions {
  port?: number;
  /** Accepted private keys (one account); absent: any non-empty key is accepted (local demos). */
  apiKeys?: string[];
  /** Limits of the import-job endpoints (tier M by default). `false`: no limits at all. */
  rateLimit?: KlaviyoRateLimit | false;
  faults?: Faults;
  /** Lists the account holds at start, by id → name. Default: one list `Outflow` with id `OutFlw`. */
  lists?: Record<string, string>;
  /** How long a job takes from creation to complete; default 150 ms + 0.03 ms per profile. */
  jobDurationMs?: (profiles: number) => number;
  /** Emails whose profiles fail with an import error (e.g. suppressed in the account). */
  rejectedEmails?: string[];
  maxProfilesPerJob?: number;
}

export interface SimulatedProfile {
  id: string;
  email: string;
  attributes: Record<string, unknown>;
}

export interface SimulatedList {
  id: string;
  name: string;
  members: Set<string>;
  deliveries: Map<string, number>;
}

interface ImportError {
  id: string;
  code: string;
  title: string;
  detail: string;
  pointer: string;
  originalPayload: Record<string, unknown>;
}

export interface SimulatedJob {
  id: string;
  listIds: string[];
  profiles: Record<string, unknown>[];
  createdAt: number;
  doneAt: number;
  applied: boolean;
  failedCount: number;
  errors: ImportError[];
}

export interface KlaviyoCounters extends RequestCounters {
  jobsCreated: number;
  profilesImported: number;
  jobPolls: number;
  errorReads: number;
  /** Profiles taken off a list by "Remove Profiles from List". */
  profilesRemoved: number;
}

export interface KlaviyoState {
  profiles: Map<string, SimulatedProfile>;
  lists: Map<string, SimulatedList>;
  jobs: Map<string, SimulatedJob>;
  /** Lower-cased emails whose profiles fail with an import error (e.g. suppressed in the account). */
  rejectedEmails: Set<string>;
  counters: KlaviyoCounters;
}

export interface ListInspection {
  listId: string;
  name: string;
  memberCount: number;
  deliveries: number;
  duplicates: number;
  duplicateEmails: string[];
}

export interface KlaviyoSimulator {
  url: string;
  port: number;
  state: KlaviyoState;
  setFaults(faults: Faults): void;
  inspectList(listId: string): ListInspection | undefined;
  reset(): void;
  stop(): Promise<void>;
}

/** Tier M (Bulk Import Profiles and its job reads): 10/s burst, 150/m steady. */
export const DEFAULT_RATE_LIMIT: KlaviyoRateLimit = {
  burstPerSecond: VENDOR_FACTS.klaviyo.importJobBurstPerSecond.value,
  steadyPerMinute: VENDOR_FACTS.klaviyo.importJobSteadyPerMinute.value,
};
/** Tier of GET /api/lists/{id} and GET /api/accounts reads (reference: 75/s, 750/m for lists). */
const READ_RATE_LIMIT: KlaviyoRateLimit = { burstPerSecond: 75, steadyPerMinute: 750 };
const MAX_BODY_BYTES = 5 * 1024 * 1024;
const MAX_PROFILE_BYTES = 100 * 1024;
/** "This endpoint accepts a maximum of 1000 profiles per call" (Remove Profiles from List). */
const MAX_REMOVALS_PER_CALL = 1000;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const E164 = /^\+[1-9]\d{6,14}$/;
const ACCOUNT_ID = 'AbC123';

class VendorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly pointer?: string,
  ) {
    super(detail);
  }
}

function errorBody(error: VendorError): unknown {
  return {
    errors: [
      {
        id: randomBytes(8).toString('hex'),
        status: error.status,
        code: error.code,
        title: error.title,
        detail: error.detail,
        source: error.pointer ? { pointer: error.pointer } : {},
      },
    ],
  };
}

/** Fixed windows per route: counts in the current second and the current minute. */
class FixedWindows {
  private readonly windows = new Map<string, { second: number; inSecond: number; minute: number; inMinute: number }>();
  constructor(readonly limit: KlaviyoRateLimit) {}

  /** Counts the call; over either window, the seconds until that window ends. */
  take(key: string, now = Date.now()): { taken: true } | { taken: false; waitSeconds: number } {
    const second = Math.floor(now / 1000);
    const minute = Math.floor(now / 60_000);
    let window = this.windows.get(key);
    if (!window) {
      window = { second, inSecond: 0, minute, inMinute: 0 };
      this.windows.set(key, window);
    }
    if (window.second !== second) Object.assign(window, { second, inSecond: 0 });
    if (window.minute !== minute) Object.assign(window, { minute, inMinute: 0 });
    if (window.inMinute >= this.limit.steadyPerMinute) return { taken: false, waitSeconds: ((minute + 1) * 60_000 - now) / 1000 };
    if (window.inSecond >= this.limit.burstPerSecond) return { taken: false, waitSeconds: ((second + 1) * 1000 - now) / 1000 };
    window.inSecond += 1;
    window.inMinute += 1;
    return { taken: true };
  }

  clear(): void {
    this.windows.clear();
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

export async function startKlaviyoSimulator(options: KlaviyoSimulatorOptions = {}): Promise<KlaviyoSimulator> {
  const apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
  const jobWindows = options.rateLimit === false ? undefined : new FixedWindows(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const readWindows = options.rateLimit === false ? undefined : new FixedWindows(READ_RATE_LIMIT);
  const jobDuration = options.jobDurationMs ?? ((profiles: number) => 150 + profiles * 0.03);
  const maxProfiles = options.maxProfilesPerJob ?? VENDOR_FACTS.klaviyo.profilesPerImportJob.value;
  const injector = new FaultInjector(options.faults ?? {});
  const emptyCounters = (): KlaviyoCounters => ({
    ...emptyRequestCounters(),
    jobsCreated: 0,
    profilesImported: 0,
    jobPolls: 0,
    errorReads: 0,
    profilesRemoved: 0,
  });
  const state: KlaviyoState = {
    profiles: new Map(),
    lists: new Map(),
    jobs: new Map(),
    rejectedEmails: new Set(),
    counters: emptyCounters(),
  };

  function seedLists(): void {
    state.rejectedEmails = new Set((options.rejectedEmails ?? []).map((email) => email.trim().toLowerCase()));
    state.lists.clear();
    for (const [id, name] of Object.entries(options.lists ?? { OutFlw: 'Outflow' }))
      state.lists.set(id, { id, name, members: new Set(), deliveries: new Map() });
  }
  seedLists();

  function inspectList(listId: string): ListInspection | undefined {
    const list = state.lists.get(listId);
    if (!list) return undefined;
    const delivered = deliverySummary(list.deliveries);
    return {
      listId: list.id,
      name: list.name,
      memberCount: list.members.size,
      deliveries: delivered.deliveries,
      duplicates: delivered.duplicates,
      duplicateEmails: delivered.duplicateKeys,
    };
  }

  // ---- jobs -------------------------------------------------------------------------------------

  /** Applies a job's profiles once its time has come (as Klaviyo's workers would). */
  function settle(job: SimulatedJob, now = Date.now()): void {
    if (job.applied || now < job.doneAt) return;
    job.applied = true;
    job.profiles.forEach((profile, index) => {
      const attributes = (isObject(profile.attributes) ? profile.attributes : {}) as Record<string, unknown>;
      const fail = (detail: string, field: string) => {
        job.errors.push({
          id: randomBytes(8).toString('hex'),
          code: 'invalid',
          title: 'Invalid input.',
          detail,
          pointer: `/data/attributes/profiles/data/${index}/attributes/${field}`,
          originalPayload: attributes,
        });
      };
      const email = typeof attributes.email === 'string' ? attributes.email.trim().toLowerCase() : '';
      if (Buffer.byteLength(JSON.stringify(profile)) > MAX_PROFILE_BYTES) return fail('The profile is larger than 100KB.', '');
      if (!EMAIL_PATTERN.test(email)) return fail('Invalid email address', 'email');
      if (attributes.phone_number !== undefined && (typeof attributes.phone_number !== 'string' || !E164.test(attributes.phone_number)))
        return fail('Invalid phone number format (Example of a valid format: +12345678901)', 'phone_number');
      if (state.rejectedEmails.has(email))
        return fail('The profile could not be imported: the email address is suppressed in this account.', 'email');
      let stored = state.profiles.get(email);
      if (!stored) {
        stored = { id: `01${randomBytes(12).toString('hex').toUpperCase()}`, email, attributes: {} };
        state.profiles.set(email, stored);
      }
      Object.assign(stored.attributes, attributes);
      for (const listId of job.listIds) {
        const list = state.lists.get(listId)!;
        list.members.add(email);
        list.deliveries.set(email, (list.deliveries.get(email) ?? 0) + 1);
      }
      state.counters.profilesImported += 1;
    });
    job.failedCount = job.errors.length;
  }

  function jobResource(job: SimulatedJob, base: string): unknown {
    const now = Date.now();
    settle(job, now);
    const status = job.applied ? 'complete' : now - job.createdAt < (job.doneAt - job.createdAt) / 3 ? 'queued' : 'processing';
    const iso = (at: number) => new Date(at).toISOString();
    return {
      type: 'profile-bulk-import-job',
      id: job.id,
      attributes: {
        status,
        created_at: iso(job.createdAt),
        total_count: job.profiles.length,
        completed_count: job.applied ? job.profiles.length - job.failedCount : 0,
        failed_count: job.applied ? job.failedCount : 0,
        completed_at: job.applied ? iso(job.doneAt) : null,
        expires_at: iso(job.createdAt + 7 * 86_400_000),
        started_at: status === 'queued' ? null : iso(job.createdAt + (job.doneAt - job.createdAt) / 3),
      },
      relationships: { lists: { data: job.listIds.map((id) => ({ type: 'list', id })) } },
      links: { self: `${base}/api/profile-bulk-import-jobs/${job.id}` },
    };
  }

  function createJob(body: unknown, base: string): [number, unknown] {
    const data = isObject(body) ? body.data : undefined;
    if (!isObject(data) || data.type !== 'profile-bulk-import-job')
      throw new VendorError(400, 'invalid', 'Invalid input.', "'type' must be 'profile-bulk-import-job'.", '/data/type');
    const profiles = isObject(data.attributes) && isObject(data.attributes.profiles) ? data.attributes.profiles.data : undefined;
    if (!Array.isArray(profiles) || profiles.length === 0)
      throw new VendorError(400, 'invalid', 'Invalid input.', 'At least one profile is required.', '/data/attributes/profiles/data');
    if (profiles.length > maxProfiles)
      throw new VendorError(
        400,
        'invalid',
        'Invalid input.',
        `A maximum of ${maxProfiles} profiles can be imported per request.`,
        '/data/attributes/profiles/data',
      );
    profiles.forEach((profile, index) => {
      if (!isObject(profile) || profile.type !== 'profile' || !isObject(profile.attributes))
        throw new VendorError(
          400,
          'invalid',
          'Invalid input.',
          `Profile ${index} must be {type: 'profile', attributes: {…}}.`,
          `/data/attributes/profiles/data/${index}`,
        );
    });
    const relationships = isObject(data.relationships) && isObject(data.relationships.lists) ? data.relationships.lists.data : [];
    const listIds: string[] = [];
    for (const [index, entry] of (Array.isArray(relationships) ? relationships : []).entries()) {
      if (!isObject(entry) || entry.type !== 'list' || typeof entry.id !== 'string')
        throw new VendorError(
          400,
          'invalid',
          'Invalid input.',
          'A list relationship must be {type: list, id}.',
          `/data/relationships/lists/data/${index}`,
        );
      if (!state.lists.has(entry.id))
        throw new VendorError(
          404,
          'not_found',
          'Not found.',
          `A list with id ${entry.id} does not exist.`,
          `/data/relationships/lists/data/${index}/id`,
        );
      listIds.push(entry.id);
    }
    const now = Date.now();
    const job: SimulatedJob = {
      id: randomBytes(16).toString('hex'),
      listIds,
      profiles: (profiles as Record<string, unknown>[]).map((profile) => ({ ...profile })),
      createdAt: now,
      doneAt: now + jobDuration(profiles.length),
      applied: false,
      failedCount: 0,
      errors: [],
    };
    state.jobs.set(job.id, job);
    state.counters.jobsCreated += 1;
    return [202, { data: jobResource(job, base), links: { self: `${base}/api/profile-bulk-import-jobs` } }];
  }

  function jobFor(jobId: string): SimulatedJob {
    const job = state.jobs.get(jobId);
    if (!job) throw new VendorError(404, 'not_found', 'Not found.', `A bulk import job with id ${jobId} does not exist.`);
    return job;
  }

  function importErrors(jobId: string, url: URL, base: string): [number, unknown] {
    const job = jobFor(jobId);
    settle(job);
    const size = Math.min(100, Math.max(1, Number(url.searchParams.get('page[size]') ?? 20) || 20));
    const cursor = Math.max(0, Number(url.searchParams.get('page[cursor]') ?? 0) || 0);
    const page = job.errors.slice(cursor, cursor + size);
    const nextCursor = cursor + size < job.errors.length ? cursor + size : undefined;
    const link = (at: number) =>
      `${base}/api/profile-bulk-import-jobs/${jobId}/import-errors?page%5Bsize%5D=${size}&page%5Bcursor%5D=${at}`;
    return [
      200,
      {
        data: page.map((error) => ({
          type: 'import-error',
          id: error.id,
          attributes: {
            code: error.code,
            title: error.title,
            detail: error.detail,
            source: { pointer: error.pointer },
            original_payload: error.originalPayload,
          },
        })),
        links: {
          self: link(cursor),
          next: nextCursor === undefined ? null : link(nextCursor),
          prev: cursor > 0 ? link(Math.max(0, cursor - size)) : null,
        },
      },
    ];
  }

  // ---- routing ------------------------------------------------------------------------------------

  interface Route {
    key: string;
    windows?: FixedWindows;
    answer: () => [number, unknown];
  }

  /** "Get Profile IDs for List" filtered on email (any or equals): the ids of the list's members among them. */
  function listProfileIds(listId: string, url: URL): [number, unknown] {
    const list = state.lists.get(listId);
    if (!list) throw new VendorError(404, 'not_found', 'Not found.', `A list with id ${listId} does not exist.`);
    const pageSize = Number(url.searchParams.get('page[size]') ?? 20);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100)
      throw new VendorError(400, 'invalid', 'Invalid input.', 'page[size] must be between 1 and 100.');
    const filter = url.searchParams.get('filter');
    let emails: string[] | undefined;
    const any = filter === null ? undefined : /^any\(email,(\[.*\])\)$/.exec(filter);
    const equals = filter === null ? undefined : /^equals\(email,("(?:[^"\\]|\\.)*")\)$/.exec(filter);
    try {
      if (any) emails = JSON.parse(any[1]!) as string[];
      else if (equals) emails = [JSON.parse(equals[1]!) as string];
    } catch {
      emails = undefined;
    }
    if (filter !== null && (!Array.isArray(emails) || emails.some((email) => typeof email !== 'string'))) {
      throw new VendorError(400, 'invalid', 'Invalid input.', `'${filter.slice(0, 80)}' is not a valid filter for email (any, equals).`);
    }
    const wanted = emails ? emails.map((email) => email.trim().toLowerCase()) : [...list.members];
    const found = wanted.filter((email) => list.members.has(email) && state.profiles.has(email)).slice(0, pageSize);
    return [
      200,
      {
        data: found.map((email) => ({ type: 'profile', id: state.profiles.get(email)!.id })),
        links: { self: url.toString(), next: null, prev: null },
      },
    ];
  }

  /** "Remove Profiles from List": up to 1,000 profile ids; ids not in the list change nothing. */
  function removeFromList(listId: string, body: unknown): [number, unknown] {
    const list = state.lists.get(listId);
    if (!list) throw new VendorError(404, 'not_found', 'Not found.', `A list with id ${listId} does not exist.`);
    const data = isObject(body) && Array.isArray(body.data) ? (body.data as unknown[]) : undefined;
    if (!data || data.length === 0)
      throw new VendorError(400, 'invalid', 'Invalid input.', 'data must be a non-empty array of profiles.', '/data');
    if (data.length > MAX_REMOVALS_PER_CALL)
      throw new VendorError(
        400,
        'invalid',
        'Invalid input.',
        `At most ${MAX_REMOVALS_PER_CALL} profiles may be removed per call.`,
        '/data',
      );
    const emailsById = new Map([...state.profiles.values()].map((profile) => [profile.id, profile.email]));
    data.forEach((entry, index) => {
      if (!isObject(entry) || entry.type !== 'profile' || typeof entry.id !== 'string')
        throw new VendorError(400, 'invalid', 'Invalid input.', "Each entry needs type 'profile' and an id.", `/data/${index}`);
    });
    for (const entry of data as { id: string }[]) {
      const email = emailsById.get(entry.id);
      if (email && list.members.delete(email)) state.counters.profilesRemoved += 1;
    }
    return [204, undefined];
  }

  function route(method: string, url: URL, body: unknown, base: string): Route | undefined {
    const path = url.pathname.replace(/\/+$/, '');
    let match: RegExpExecArray | null;
    if ((match = /^\/api\/lists\/([^/]+)\/relationships\/profiles$/.exec(path))) {
      const listId = decodeURIComponent(match[1]!);
      if (method === 'GET')
        return { key: 'GET /api/lists/{id}/relationships/profiles', windows: readWindows, answer: () => listProfileIds(listId, url) };
      // Tier M, like the import jobs (its own window: limits are per endpoint).
      if (method === 'DELETE')
        return { key: 'DELETE /api/lists/{id}/relationships/profiles', windows: jobWindows, answer: () => removeFromList(listId, body) };
    }
    if (method === 'GET' && path === '/api/accounts') {
      return {
        key: 'GET /api/accounts',
        windows: readWindows,
        answer: () => [
          200,
          {
            data: [
              {
                type: 'account',
                id: ACCOUNT_ID,
                attributes: { test_account: false, contact_information: { organization_name: 'Simulated account' } },
              },
            ],
          },
        ],
      };
    }
    if (method === 'GET' && (match = /^\/api\/lists\/([^/]+)$/.exec(path))) {
      const listId = decodeURIComponent(match[1]!);
      return {
        key: 'GET /api/lists/{id}',
        windows: readWindows,
        answer: () => {
          const list = state.lists.get(listId);
          if (!list) throw new VendorError(404, 'not_found', 'Not found.', `A list with id ${listId} does not exist.`);
          return [200, { data: { type: 'list', id: list.id, attributes: { name: list.name, opt_in_process: 'single_opt_in' } } }];
        },
      };
    }
    if (method === 'POST' && path === '/api/profile-bulk-import-jobs')
      return { key: 'POST /api/profile-bulk-import-jobs', windows: jobWindows, answer: () => createJob(body, base) };
    if (method === 'GET' && (match = /^\/api\/profile-bulk-import-jobs\/([^/]+)$/.exec(path))) {
      const jobId = decodeURIComponent(match[1]!);
      return {
        key: 'GET /api/profile-bulk-import-jobs/{id}',
        windows: jobWindows,
        answer: () => {
          state.counters.jobPolls += 1;
          return [200, { data: jobResource(jobFor(jobId), base), links: { self: `${base}/api/profile-bulk-import-jobs/${jobId}` } }];
        },
      };
    }
    if (method === 'GET' && (match = /^\/api\/profile-bulk-import-jobs\/([^/]+)\/import-errors$/.exec(path))) {
      const jobId = decodeURIComponent(match[1]!);
      return {
        key: 'GET /api/profile-bulk-import-jobs/{id}/import-errors',
        windows: jobWindows,
        answer: () => {
          state.counters.errorReads += 1;
          return importErrors(jobId, url, base);
        },
      };
    }
    return undefined;
  }

  function control(method: string, url: URL, body: unknown): [number, unknown] | undefined {
    const common = faultAndResetControl(method, url.pathname, body, injector, reset);
    if (common) return common;
    if (method === 'GET' && url.pathname === '/_simulator/state') {
      return [
        200,
        { counters: state.counters, profiles: state.profiles.size, lists: [...state.lists.keys()].map((id) => inspectList(id)) },
      ];
    }
    const match = /^\/_simulator\/lists\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && match) {
      const found = inspectList(decodeURIComponent(match[1]!));
      return found ? [200, found] : [404, errorBody(new VendorError(404, 'not_found', 'Not found.', 'No such list.'))];
    }
    return undefined;
  }

  function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/vnd.api+json', 'content-length': Buffer.byteLength(text), ...headers });
    response.end(text);
  }

  function answerThrottled(response: ServerResponse, waitSeconds: number): void {
    const seconds = retryAfterSeconds(waitSeconds);
    answer(
      response,
      429,
      errorBody(
        new VendorError(429, 'throttled', 'Request was throttled.', `Request was throttled. Expected available in ${seconds} seconds.`),
      ),
      { 'Retry-After': seconds },
    );
  }

  const bodyLimits = {
    maxBytes: MAX_BODY_BYTES,
    tooLarge: () => new VendorError(413, 'payload_too_large', 'Payload too large.', 'The maximum allowed payload size is 5MB.'),
    malformed: () => new VendorError(400, 'parse_error', 'Malformed JSON.', 'The request body is not valid JSON.'),
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://simulator');
    const base = `http://${request.headers.host ?? '127.0.0.1'}`;
    let body: unknown;
    try {
      body = await readJsonBody(request, bodyLimits);
    } catch (error) {
      if (error instanceof VendorError) return answer(response, error.status, errorBody(error));
      throw error;
    }
    if (url.pathname.startsWith('/_simulator')) {
      const controlled = control(method, url, body) ?? [
        404,
        errorBody(new VendorError(404, 'not_found', 'Not found.', 'No such control path.')),
      ];
      return answer(response, controlled[0], controlled[1]);
    }

    state.counters.requests += 1;
    const fault = await injector.inject(request, state.counters);
    if (fault === 'connectionReset') return;
    if (fault === 'serverError')
      return answer(response, 500, errorBody(new VendorError(500, 'error', 'A server error occurred.', 'A server error occurred.')));
    if (fault === 'tooManyRequests') return answerThrottled(response, 1);

    const authorization = request.headers.authorization ?? '';
    const key = /^Klaviyo-API-Key (\S+)$/.exec(authorization)?.[1];
    if (!key || (apiKeys && !apiKeys.has(key))) {
      state.counters.unauthorized += 1;
      return answer(
        response,
        401,
        errorBody(
          new VendorError(
            401,
            'not_authenticated',
            'Authentication credentials were not provided.',
            'Missing or invalid private key.',
            '/data/',
          ),
        ),
      );
    }
    if (!request.headers.revision)
      return answer(
        response,
        400,
        errorBody(new VendorError(400, 'invalid', 'Invalid input.', 'The revision header is required (e.g. revision: 2026-07-15).')),
      );

    const matched = route(method, url, body, base);
    if (!matched)
      return answer(response, 404, errorBody(new VendorError(404, 'not_found', 'Not found.', `No route for ${method} ${url.pathname}`)));
    const take = matched.windows?.take(matched.key);
    if (take && !take.taken) {
      state.counters.tooManyRequests += 1;
      return answerThrottled(response, take.waitSeconds);
    }
    countRoute(state.counters, matched.key);
    try {
      const [status, result] = matched.answer();
      return answer(response, status, result);
    } catch (error) {
      if (error instanceof VendorError) return answer(response, error.status, errorBody(error));
      throw error;
    }
  }

  function reset(): void {
    state.profiles.clear();
    state.jobs.clear();
    seedLists();
    state.counters = emptyCounters();
    jobWindows?.clear();
    readWindows?.clear();
    injector.set({});
  }

  const server = await startSimulatorServer({
    port: options.port,
    handle,
    answerInternalError: (response) =>
      answer(response, 500, errorBody(new VendorError(500, 'error', 'A server error occurred.', 'A server error occurred.'))),
  });

  return { url: server.url, port: server.port, state, setFaults: (faults) => injector.set(faults), inspectList, reset, stop: server.stop };
}
