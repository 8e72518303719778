// A local LinkedIn Marketing API (Matched Audiences: DMP segments, users, companies) for development,
// tests and benchmarks. It speaks the vendor's paths under /rest, bearer auth, the LinkedIn-Version
// and X-Restli-Protocol-Version headers, BATCH_CREATE with one status per element, the 5,000-element
// cap, the per-minute streaming limits with 429, and keeps segments in memory, counting how often each
// member was delivered (to prove "none twice"). Faults come from a seeded PRNG so a failing test
// replays exactly. Sources: the header of shared/destinations/linkedin.ts.
//
// Where the vendor's behaviour is not documented the simulator picks the reading that lets tests
// catch adapter mistakes, and says so: a missing LinkedIn-Version is 400 VERSION_MISSING and a
// malformed one 426 NONEXISTENT_VERSION; a missing or other protocol version is 400; creating a
// second segment with the same account, sourcePlatform and sourceSegmentId is 409; the finder
// answers 10 segments a page unless asked for more; element values over the documented lengths,
// non-ISO countries, URLs as domains and unhashed emails are per-element 400s; a new segment answers
// 404 for `segmentReadyDelayMs`; 429 carries no Retry-After (LinkedIn documents none) unless `retryAfterHeader`.
// A REMOVE element takes the member with the same key (hashed email, or the company's identifying
// fields) off the segment and answers 201 also when the segment did not hold it.
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import { randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/** Calls per member (access token) and per minute on the streaming endpoints. */
export interface StreamingRateLimit {
  usersPerMinute: number;
  companiesPerMinute: number;
}

export interface LinkedinSimulatorOptions {
  /** 0 or absent: a free port. Always 127.0.0.1. */
  port?: number;
  /** Accepted access tokens; absent: any non-empty bearer token is accepted (local demos). */
  accessTokens?: string[];
  /** Ad accounts the tokens may manage; absent: every numeric account ID. */
  adAccounts?: string[];
  /** Absent: the current documented limits (600 and 300 a minute). `false`: no limit. */
  rateLimit?: StreamingRateLimit | false;
  /** Send Retry-After (seconds) with 429. Default false: LinkedIn documents none (vendorFacts.ts). */
  retryAfterHeader?: boolean;
  faults?: Faults;
  /** Elements per users/companies call. Absent: 5,000 for companies (documented), none for users (not published). */
  maxElementsPerBatch?: number;
  /** How long a new segment answers 404 to users/companies calls (LinkedIn: about 5 s). Default 0. */
  segmentReadyDelayMs?: number;
  /**
   * The sourcePlatform values LinkedIn granted the application (an enum it assigns each partner);
   * any other is refused 400 by the finder and by segment creation. Absent: any non-empty value.
   */
  sourcePlatforms?: string[];
}

export type SegmentType = 'USER' | 'COMPANY';

export interface SimulatedSegment {
  id: string;
  name: string;
  account: string;
  type: SegmentType;
  sourcePlatform: string;
  sourceSegmentId?: string;
  accessPolicy: string;
  description?: string;
  created: number;
  lastModified: number;
  /** Current members by key: the hashed email (users) or the company's identifying fields. */
  members: Map<string, Record<string, unknown>>;
  /** Accepted ADDs per key (an ADD of a key already delivered counts again). */
  deliveries: Map<string, number>;
  removals: number;
  rejectedElements: number;
}

export interface SimulatorCounters extends RequestCounters {
  forbidden: number;
  badRequests: number;
  segmentsCreated: number;
  batches: number;
  elementsAccepted: number;
  elementsRejected: number;
}

export interface SimulatorState {
  segments: Map<string, SimulatedSegment>;
  counters: SimulatorCounters;
}

export interface SegmentInspection {
  id: string;
  name: string;
  type: SegmentType;
  account: string;
  sourcePlatform: string;
  sourceSegmentId?: string;
  memberCount: number;
  /** Accepted ADDs in total, and how many members were added more than once. */
  deliveries: number;
  duplicates: number;
  duplicateKeys: string[];
  removals: number;
  rejectedElements: number;
}

export interface LinkedinSimulator {
  /** Origin for LINKEDIN_API_URL, e.g. http://127.0.0.1:4014. */
  url: string;
  port: number;
  state: SimulatorState;
  setFaults(faults: Faults): void;
  inspectSegment(id: string): SegmentInspection | undefined;
  /** The segment created for a source segment ID (e.g. a lake segment id), if any. */
  findSegment(sourceSegmentId: string): SimulatedSegment | undefined;
  /** Empties segments and counters, clears faults and rate windows; keeps tokens and options. */
  reset(): void;
  stop(): Promise<void>;
}

// Documented per-minute limits (shared/destinations/vendorFacts.ts). The users cap of 5,000 is an
// assumption (documented for companies only), applied here as a stated stand-in.
export const DEFAULT_RATE_LIMIT: StreamingRateLimit = {
  usersPerMinute: VENDOR_FACTS.linkedin.usersCallsPerMinute.value,
  companiesPerMinute: VENDOR_FACTS.linkedin.companiesCallsPerMinute.value,
};
export const MAX_ELEMENTS_PER_BATCH = VENDOR_FACTS.linkedin.companyElementsPerCall.value;
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 1000;
const USER_LIMITS: Record<string, number> = { firstName: 35, lastName: 35, title: 50, company: 50 };
const DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i;
const ACCOUNT_URN = /^urn:li:sponsoredAccount:(\d+)$/;

class VendorError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
  get body(): Record<string, unknown> {
    return { status: this.status, ...this.extra, message: this.message };
  }
}

function emptyCounters(): SimulatorCounters {
  return {
    ...emptyRequestCounters(),
    forbidden: 0,
    badRequests: 0,
    segmentsCreated: 0,
    batches: 0,
    elementsAccepted: 0,
    elementsRejected: 0,
  };
}

const bodyLimits = {
  maxBytes: MAX_BODY_BYTES,
  tooLarge: () => new VendorError(413, 'Request entity too large'),
  malformed: () => new VendorError(400, 'Unable to parse the request body as JSON', { code: 'ILLEGAL_ARGUMENT' }),
};

function bearerToken(request: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1]?.trim() || undefined;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Why a users element is refused, or undefined; and the key it is stored under. */
function checkUserElement(element: Record<string, unknown>): { error?: string; key?: string } {
  if (element.action !== 'ADD' && element.action !== 'REMOVE') return { error: "action must be 'ADD' or 'REMOVE'" };
  const userIds = Array.isArray(element.userIds) ? (element.userIds as Record<string, unknown>[]) : [];
  let key: string | undefined;
  for (const userId of userIds) {
    const idType = text(userId?.idType);
    const idValue = text(userId?.idValue) ?? '';
    if (idType === 'SHA256_EMAIL') {
      if (!/^[0-9a-f]{64}$/i.test(idValue)) return { error: 'SHA256_EMAIL must be a hex encoded SHA-256 hash (64 characters)' };
      key ??= idValue.toLowerCase();
    } else if (idType === 'SHA512_EMAIL') {
      if (!/^[0-9a-f]{128}$/i.test(idValue)) return { error: 'SHA512_EMAIL must be a hex encoded SHA-512 hash (128 characters)' };
      key ??= `sha512:${idValue.toLowerCase()}`;
    } else if (idType === 'GOOGLE_AID') {
      if (!idValue || idValue.length > 36) return { error: 'GOOGLE_AID must be a lower-case advertising ID' };
      key ??= `gaid:${idValue.toLowerCase()}`;
    } else {
      return { error: `Unsupported idType '${idType ?? ''}'` };
    }
  }
  for (const [field, limit] of Object.entries(USER_LIMITS)) {
    const value = element[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') return { error: `${field} must be a string` };
    if (value.length > limit) return { error: `${field} is longer than ${limit} characters` };
  }
  if (element.country !== undefined && !/^[A-Z]{2}$/.test(String(element.country)))
    return { error: 'country must be an ISO 3166 two-letter code' };
  if (!key) {
    // Without an ID, LinkedIn matches on first and last name together.
    const first = text(element.firstName)?.trim();
    const last = text(element.lastName)?.trim();
    if (!first || !last) return { error: 'At least one user ID, or firstName and lastName, is required' };
    key = `name:${first.toLowerCase()}|${last.toLowerCase()}`;
  }
  return { key };
}

const COMPANY_PAGE_URL_MAX = VENDOR_FACTS.linkedin.companyPageUrlChars.value;
const COMPANY_IDENTIFIERS = ['organizationUrn', 'companyWebsiteDomain', 'companyEmailDomain', 'companyPageUrl', 'companyName'] as const;

/** Why a companies element is refused, or undefined; and the key it is stored under. */
function checkCompanyElement(element: Record<string, unknown>): { error?: string; key?: string } {
  if (element.action !== 'ADD' && element.action !== 'REMOVE') return { error: "action must be 'ADD' or 'REMOVE'" };
  for (const field of COMPANY_IDENTIFIERS) {
    if (element[field] !== undefined && typeof element[field] !== 'string') return { error: `${field} must be a string` };
  }
  for (const field of ['companyWebsiteDomain', 'companyEmailDomain'] as const) {
    const value = text(element[field]);
    if (value !== undefined && !DOMAIN.test(value))
      return { error: `${field} must be a domain such as example.com, not '${value.slice(0, 80)}'` };
  }
  const urn = text(element.organizationUrn);
  if (urn !== undefined && !/^urn:li:organization:\d+$/.test(urn))
    return { error: 'organizationUrn must look like urn:li:organization:{id}' };
  // The company schema caps companyPageUrl at 100 characters.
  const page = text(element.companyPageUrl);
  if (page !== undefined && page.length > COMPANY_PAGE_URL_MAX)
    return { error: `companyPageUrl must be at most ${COMPANY_PAGE_URL_MAX} characters` };
  const parts = COMPANY_IDENTIFIERS.map((field) => text(element[field])?.trim().toLowerCase() ?? '');
  if (parts.every((part) => !part))
    return {
      error: 'At least one of companyName, companyWebsiteDomain, companyEmailDomain, organizationUrn or companyPageUrl is required',
    };
  // Companies with the same identifying fields are one company to the matcher.
  return { key: parts.join('|') };
}

interface RateWindow {
  startedAt: number;
  calls: number;
}

export async function startLinkedinSimulator(options: LinkedinSimulatorOptions = {}): Promise<LinkedinSimulator> {
  const accessTokens = options.accessTokens ? new Set(options.accessTokens) : undefined;
  const adAccounts = options.adAccounts
    ? new Set(options.adAccounts.map((account) => account.replace(/^urn:li:sponsoredAccount:/, '')))
    : undefined;
  const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  const retryAfterHeader = options.retryAfterHeader ?? false;
  // The 5,000 cap is published for companies only (vendorFacts.ts); for users it is the adapter's assumption.
  const maxPerBatch = {
    COMPANY: options.maxElementsPerBatch ?? MAX_ELEMENTS_PER_BATCH,
    USER: options.maxElementsPerBatch ?? Number.POSITIVE_INFINITY,
  };
  const readyDelayMs = options.segmentReadyDelayMs ?? 0;

  const state: SimulatorState = { segments: new Map(), counters: emptyCounters() };
  const injector = new FaultInjector(options.faults ?? {});
  const setFaults = (next: Faults) => injector.set(next);
  let nextSegmentId = 10_000_000 + randomInt(1_000_000);
  const windows = new Map<string, RateWindow>();

  function canManage(accountUrn: string): boolean {
    const match = ACCOUNT_URN.exec(accountUrn);
    return !!match && (!adAccounts || adAccounts.has(match[1]!));
  }

  function accessDenied(what: string): VendorError {
    return new VendorError(403, `Not enough permissions to access: ${what}`, { serviceErrorCode: 100, code: 'ACCESS_DENIED' });
  }

  // ---- segments --------------------------------------------------------------------------------

  function segmentView(segment: SimulatedSegment): Record<string, unknown> {
    const size = segment.members.size;
    return {
      id: Number(segment.id),
      name: segment.name,
      account: segment.account,
      type: segment.type,
      sourcePlatform: segment.sourcePlatform,
      ...(segment.sourceSegmentId !== undefined ? { sourceSegmentId: segment.sourceSegmentId } : {}),
      accessPolicy: segment.accessPolicy,
      ...(segment.description !== undefined ? { description: segment.description } : {}),
      // Everything matches here; the real matcher takes up to 48 hours and matches fewer.
      inputCount: size,
      matchedCount: size,
      destinations: [{ destination: 'LINKEDIN', status: size > 0 ? 'READY' : 'BUILDING', audienceSize: size }],
      created: segment.created,
      lastModified: segment.lastModified,
    };
  }

  function inspectSegment(id: string): SegmentInspection | undefined {
    const segment = state.segments.get(id);
    if (!segment) return undefined;
    const delivered = deliverySummary(segment.deliveries);
    return {
      id,
      name: segment.name,
      type: segment.type,
      account: segment.account,
      sourcePlatform: segment.sourcePlatform,
      ...(segment.sourceSegmentId !== undefined ? { sourceSegmentId: segment.sourceSegmentId } : {}),
      memberCount: segment.members.size,
      deliveries: delivered.deliveries,
      duplicates: delivered.duplicates,
      duplicateKeys: delivered.duplicateKeys,
      removals: segment.removals,
      rejectedElements: segment.rejectedElements,
    };
  }

  function findSegment(sourceSegmentId: string): SimulatedSegment | undefined {
    for (const segment of state.segments.values()) if (segment.sourceSegmentId === sourceSegmentId) return segment;
    return undefined;
  }

  function checkSourcePlatform(value: string): void {
    if (options.sourcePlatforms && !options.sourcePlatforms.includes(value)) {
      throw new VendorError(
        400,
        `Invalid value for param 'sourcePlatform': ${value.slice(0, 80)} is not a source platform this application may use`,
        { code: 'ILLEGAL_ARGUMENT' },
      );
    }
  }

  function listSegments(query: URLSearchParams): [number, unknown] {
    if (query.get('q') !== 'account') throw new VendorError(400, "Query parameter 'q' must be 'account'", { code: 'ILLEGAL_ARGUMENT' });
    const account = query.get('account') ?? '';
    if (!ACCOUNT_URN.test(account))
      throw new VendorError(400, `Invalid value for param 'account': ${account}`, { code: 'ILLEGAL_ARGUMENT' });
    if (!canManage(account)) throw accessDenied('dmpSegments.FINDER-account');
    const sourceSegmentId = query.get('sourceSegmentId');
    const sourcePlatform = query.get('sourcePlatform');
    if (sourcePlatform !== null) checkSourcePlatform(sourcePlatform);
    const start = Math.max(0, Number(query.get('start') ?? 0) || 0);
    const count = Math.min(MAX_PAGE_SIZE, Math.max(1, Number(query.get('count') ?? DEFAULT_PAGE_SIZE) || DEFAULT_PAGE_SIZE));
    const matching = [...state.segments.values()].filter(
      (segment) =>
        segment.account === account &&
        (sourceSegmentId === null || segment.sourceSegmentId === sourceSegmentId) &&
        (sourcePlatform === null || segment.sourcePlatform === sourcePlatform),
    );
    return [
      200,
      { elements: matching.slice(start, start + count).map(segmentView), paging: { start, count, total: matching.length, links: [] } },
    ];
  }

  function createSegment(body: unknown): [number, unknown, Record<string, string>] {
    const input = (body ?? {}) as Record<string, unknown>;
    const name = text(input.name)?.trim() ?? '';
    if (!name) throw new VendorError(422, 'name is required', { code: 'FIELD_VALUE_REQUIRED' });
    const account = text(input.account) ?? '';
    if (!ACCOUNT_URN.test(account))
      throw new VendorError(422, `account must be a sponsored account URN, got '${account}'`, { code: 'INVALID_VALUE' });
    if (!canManage(account)) throw accessDenied('dmpSegments.CREATE');
    const type = input.type;
    if (type !== 'USER' && type !== 'COMPANY') throw new VendorError(422, "type must be 'USER' or 'COMPANY'", { code: 'INVALID_VALUE' });
    const sourcePlatform = text(input.sourcePlatform)?.trim() ?? '';
    if (!sourcePlatform) throw new VendorError(422, 'sourcePlatform is required', { code: 'FIELD_VALUE_REQUIRED' });
    checkSourcePlatform(sourcePlatform);
    const destinations = Array.isArray(input.destinations) ? (input.destinations as Record<string, unknown>[]) : [];
    if (!destinations.some((destination) => destination?.destination === 'LINKEDIN')) {
      throw new VendorError(422, "destinations must include {destination: 'LINKEDIN'}", { code: 'FIELD_VALUE_REQUIRED' });
    }
    const sourceSegmentId = text(input.sourceSegmentId);
    if (sourceSegmentId !== undefined) {
      for (const segment of state.segments.values()) {
        if (segment.account === account && segment.sourcePlatform === sourcePlatform && segment.sourceSegmentId === sourceSegmentId) {
          throw new VendorError(409, `A DMP segment with sourceSegmentId ${sourceSegmentId} already exists: ${segment.id}`, {
            code: 'DUPLICATE',
          });
        }
      }
    }
    const id = String(nextSegmentId++);
    const now = Date.now();
    state.segments.set(id, {
      id,
      name,
      account,
      type,
      sourcePlatform,
      ...(sourceSegmentId !== undefined ? { sourceSegmentId } : {}),
      accessPolicy: text(input.accessPolicy) ?? 'PRIVATE',
      ...(text(input.description) !== undefined ? { description: text(input.description) } : {}),
      created: now,
      lastModified: now,
      members: new Map(),
      deliveries: new Map(),
      removals: 0,
      rejectedElements: 0,
    });
    state.counters.segmentsCreated += 1;
    return [201, undefined, { 'x-restli-id': id, location: `/dmpSegments/${id}` }];
  }

  function segmentFor(id: string, what: string): SimulatedSegment {
    const segment = state.segments.get(id);
    if (!segment) throw new VendorError(404, `Could not find DMP segment with ID ${id}`, { code: 'NOT_FOUND' });
    if (!canManage(segment.account)) throw accessDenied(what);
    return segment;
  }

  function streamElements(segment: SimulatedSegment, kind: SegmentType, request: IncomingMessage, body: unknown): [number, unknown] {
    const method = header(request, 'x-restli-method') ?? '';
    if (method.toUpperCase() !== 'BATCH_CREATE')
      throw new VendorError(400, 'Adding elements needs the header X-RestLi-Method: BATCH_CREATE', { code: 'ILLEGAL_ARGUMENT' });
    if (Date.now() - segment.created < readyDelayMs)
      throw new VendorError(404, `Could not find DMP segment with ID ${segment.id}`, { code: 'NOT_FOUND' });
    if (segment.type !== kind) {
      throw new VendorError(
        400,
        `DMP segment ${segment.id} is of type ${segment.type} and cannot take ${kind === 'USER' ? 'users' : 'companies'}`,
        { code: 'ILLEGAL_ARGUMENT' },
      );
    }
    const elements = Array.isArray((body as { elements?: unknown })?.elements) ? (body as { elements: unknown[] }).elements : undefined;
    if (!elements || elements.length === 0) throw new VendorError(400, 'elements must be a non-empty array', { code: 'ILLEGAL_ARGUMENT' });
    if (elements.length > maxPerBatch[kind])
      throw new VendorError(400, `Batch size ${elements.length} exceeds the maximum of ${maxPerBatch[kind]} elements`, {
        code: 'ILLEGAL_ARGUMENT',
      });
    state.counters.batches += 1;
    const results: Record<string, unknown>[] = [];
    for (const raw of elements) {
      const element = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      const checked = kind === 'USER' ? checkUserElement(element) : checkCompanyElement(element);
      if (checked.error || !checked.key) {
        segment.rejectedElements += 1;
        state.counters.elementsRejected += 1;
        results.push({ status: 400, error: { status: 400, message: checked.error ?? 'Invalid element' } });
        continue;
      }
      if (element.action === 'REMOVE') {
        if (segment.members.delete(checked.key)) segment.removals += 1;
      } else {
        segment.members.set(checked.key, element);
        segment.deliveries.set(checked.key, (segment.deliveries.get(checked.key) ?? 0) + 1);
      }
      state.counters.elementsAccepted += 1;
      results.push({ status: 201 });
    }
    segment.lastModified = Date.now();
    return [200, { elements: results }];
  }

  // ---- routing -------------------------------------------------------------------------------

  type Answer = [number, unknown, Record<string, string>?];
  interface Route {
    key: string;
    /** The streaming limit this route counts against, if any. */
    limit?: 'users' | 'companies';
    answer: () => Answer;
  }

  function route(method: string, path: string, query: URLSearchParams, request: IncomingMessage, body: unknown): Route | undefined {
    if (!path.startsWith('/rest/')) return undefined;
    const rest = path.slice('/rest'.length);
    let match: RegExpExecArray | null;
    if (rest === '/dmpSegments') {
      if (method === 'GET') return { key: 'GET /dmpSegments', answer: () => listSegments(query) };
      if (method === 'POST') return { key: 'POST /dmpSegments', answer: () => createSegment(body) };
    }
    if ((match = /^\/dmpSegments\/([^/]+)$/.exec(rest)) && method === 'GET') {
      const id = decodeURIComponent(match[1]!);
      return { key: 'GET /dmpSegments/{id}', answer: () => [200, segmentView(segmentFor(id, 'dmpSegments.GET'))] };
    }
    if ((match = /^\/dmpSegments\/([^/]+)\/(users|companies)$/.exec(rest)) && method === 'POST') {
      const id = decodeURIComponent(match[1]!);
      const kind = match[2] as 'users' | 'companies';
      return {
        key: `POST /dmpSegments/{id}/${kind}`,
        limit: kind,
        answer: () =>
          streamElements(segmentFor(id, `dmpSegments.${kind}.BATCH_CREATE`), kind === 'users' ? 'USER' : 'COMPANY', request, body),
      };
    }
    return undefined;
  }

  /** Fixed one-minute windows per token and endpoint, as LinkedIn counts its streaming limits. */
  function overLimit(token: string, limit: 'users' | 'companies', now: number): number | undefined {
    if (!rateLimit) return undefined;
    const perMinute = limit === 'users' ? rateLimit.usersPerMinute : rateLimit.companiesPerMinute;
    const key = `${token}\u0000${limit}`;
    let window = windows.get(key);
    if (!window || now - window.startedAt >= 60_000) {
      window = { startedAt: now, calls: 0 };
      windows.set(key, window);
    }
    if (window.calls >= perMinute) return window.startedAt + 60_000 - now;
    window.calls += 1;
    return undefined;
  }

  // ---- control endpoints ---------------------------------------------------------------------

  function control(method: string, path: string, body: unknown): [number, unknown] | undefined {
    const common = faultAndResetControl(method, path, body, injector, reset);
    if (common) return common;
    if (method === 'GET' && path === '/_simulator/state') {
      return [200, { counters: state.counters, segments: [...state.segments.keys()].map((id) => inspectSegment(id)) }];
    }
    const match = /^\/_simulator\/segments\/([^/]+)$/.exec(path);
    if (method === 'GET' && match) {
      const inspection = inspectSegment(decodeURIComponent(match[1]!));
      return inspection ? [200, inspection] : [404, { status: 404, message: 'No such DMP segment' }];
    }
    return undefined;
  }

  // ---- request handling ----------------------------------------------------------------------

  function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const payload = body === undefined ? '' : JSON.stringify(body);
    response.writeHead(status, {
      ...(payload ? { 'content-type': 'application/json' } : {}),
      'content-length': Buffer.byteLength(payload),
      ...headers,
    });
    response.end(payload);
  }

  function refuse(response: ServerResponse, error: VendorError, headers: Record<string, string> = {}): void {
    if (error.status === 400 || error.status === 422 || error.status === 426) state.counters.badRequests += 1;
    if (error.status === 403) state.counters.forbidden += 1;
    answer(response, error.status, error.body, headers);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://simulator');
    const path = url.pathname;
    let body: unknown;
    try {
      body = await readJsonBody(request, bodyLimits);
    } catch (error) {
      if (error instanceof VendorError) return refuse(response, error);
      throw error;
    }

    if (path.startsWith('/_simulator/')) {
      const controlled = control(method, path, body) ?? [404, { status: 404, message: 'Not Found' }];
      return answer(response, controlled[0], controlled[1]);
    }

    state.counters.requests += 1;
    // Faults come first, as an overloaded front end would answer before auth or routing.
    const fault = await injector.inject(request, state.counters);
    if (fault === 'connectionReset') return;
    if (fault === 'serverError') return answer(response, 500, { status: 500, message: 'Internal Server Error' });
    if (fault === 'tooManyRequests')
      return answer(response, 429, { status: 429, message: 'Too many requests' }, retryAfterHeader ? { 'retry-after': '1' } : {});

    const token = bearerToken(request);
    if (!token || (accessTokens && !accessTokens.has(token))) {
      state.counters.unauthorized += 1;
      return answer(response, 401, { serviceErrorCode: 65600, message: 'Invalid access token', status: 401 });
    }
    const version = header(request, 'linkedin-version');
    if (!version) {
      return refuse(
        response,
        new VendorError(400, 'A version must be present. Please specify a version by adding the LinkedIn-Version header.', {
          code: 'VERSION_MISSING',
        }),
      );
    }
    if (!/^\d{6}(\.\d{2})?$/.test(version)) {
      return refuse(response, new VendorError(426, `Requested version ${version} is not active`, { code: 'NONEXISTENT_VERSION' }));
    }
    if (header(request, 'x-restli-protocol-version') !== '2.0.0') {
      return refuse(
        response,
        new VendorError(400, 'This API requires the header X-Restli-Protocol-Version: 2.0.0', { code: 'ILLEGAL_ARGUMENT' }),
      );
    }

    const matched = route(method, path, url.searchParams, request, body);
    if (!matched) return answer(response, 404, { status: 404, message: 'Not Found' });
    if (matched.limit) {
      const waitMs = overLimit(token, matched.limit, Date.now());
      if (waitMs !== undefined) {
        state.counters.tooManyRequests += 1;
        const headers: Record<string, string> = retryAfterHeader ? { 'retry-after': retryAfterSeconds(waitMs / 1000) } : {};
        return answer(response, 429, { status: 429, message: 'Too many requests' }, headers);
      }
    }
    countRoute(state.counters, matched.key);
    try {
      const [status, result, headers] = matched.answer();
      return answer(response, status, result, headers);
    } catch (error) {
      if (error instanceof VendorError) return refuse(response, error);
      state.counters.serverErrors += 1;
      return answer(response, 500, { status: 500, message: 'Internal Server Error' });
    }
  }

  function reset(): void {
    state.segments.clear();
    state.counters = emptyCounters();
    windows.clear();
    setFaults({});
  }

  const server = await startSimulatorServer({
    port: options.port,
    handle,
    answerInternalError: (response) => answer(response, 500, { status: 500, message: 'Internal Server Error' }),
  });

  return { url: server.url, port: server.port, state, setFaults, inspectSegment, findSegment, reset, stop: server.stop };
}
