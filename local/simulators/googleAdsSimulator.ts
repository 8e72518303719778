// A local Google Ads API (REST, v26) with its OAuth token endpoint, for development, tests and
// benchmarks. GOOGLE_ADS_API_URL replaces both https://googleads.googleapis.com and
// https://oauth2.googleapis.com, so this one server answers `POST /token` (refresh-token grant)
// and the Ads paths the adapter calls (sources in shared/destinations/googleAds.ts): GoogleAdsService
// search over user_list, customer and offline_user_data_job, userLists:mutate, and the
// OfflineUserDataJobService create / addOperations (partial failure) / run, with jobs moving
// PENDING → RUNNING → SUCCESS in the background. It checks the bearer token, developer-token and
// login-customer-id headers, the 100,000-identifiers-per-request and 20-per-operation caps and
// SHA-256 formats, keeps each Customer Match list's members (hashed identifiers) with a count of
// deliveries per hashed email (to prove "none twice"), rate-limits per developer token with a
// token bucket answering 429 RESOURCE_EXHAUSTED, and injects faults from a seeded PRNG.
//
// Readings where Google documents no detail: errors follow Google's REST error shape
// {error: {code, message, status, details: [GoogleAdsFailure]}}; a running job refuses more
// operations with JOB_ALREADY_STARTED; a second run of a started job is 400 with the same code;
// the match rate range is a bucket of the share of members with a known hashed email.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import {
  countRoute,
  deliverySummary,
  emptyRequestCounters,
  FaultInjector,
  faultAndResetControl,
  startSimulatorServer,
  TokenBuckets,
  type Faults,
  type RateLimit,
  type RequestCounters,
} from './simulatorKit.js';

export type { Faults, RateLimit };

export const SIMULATED_VERSION = 'v26';

export interface GoogleAdsSimulatorOptions {
  port?: number;
  /** Accepted OAuth clients (id → secret) and refresh tokens; absent: any non-empty values (demos). */
  clients?: Record<string, string>;
  refreshTokens?: string[];
  developerTokens?: string[];
  /** Customer IDs that exist (10 digits). Absent: any. */
  customers?: string[];
  /** Per developer token, all Ads calls; default 10/s, burst 20. `false`: none. */
  rateLimit?: RateLimit | false;
  faults?: Faults;
  /** Job run time from :run to SUCCESS; default 200 ms + 0.005 ms per operation. */
  jobDurationMs?: (operations: number) => number;
  /** Access token lifetime in seconds (default 3599). */
  tokenLifetimeSeconds?: number;
}

export interface SimulatedUserList {
  id: string;
  customerId: string;
  name: string;
  type: 'CRM_BASED' | 'RULE_BASED';
  /** Hashed emails of the members. */
  members: Set<string>;
  deliveries: Map<string, number>;
}

interface SimulatedJob {
  id: string;
  customerId: string;
  userListId: string;
  status: 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAILED';
  operations: Record<string, any>[];
  runAt?: number;
  doneAt?: number;
  failureReason?: string;
  matchRateRange?: string;
}

export interface GoogleAdsCounters extends RequestCounters {
  tokensIssued: number;
  jobsCreated: number;
  jobsRun: number;
  operationsAdded: number;
  operationsRefused: number;
  /** Members taken off a user list by remove operations. */
  membersRemoved: number;
  searches: number;
}

export interface GoogleAdsState {
  userLists: Map<string, SimulatedUserList>;
  jobs: Map<string, SimulatedJob>;
  counters: GoogleAdsCounters;
  /** Jobs that end FAILED when they run (by count, next ones first). */
  failNextJobs: number;
}

export interface GoogleAdsSimulator {
  url: string;
  port: number;
  state: GoogleAdsState;
  setFaults(faults: Faults): void;
  /** Creates a list as the Google Ads UI would. */
  addUserList(customerId: string, name: string, type?: 'CRM_BASED' | 'RULE_BASED'): string;
  listsNamed(name: string): SimulatedUserList[];
  inspectList(id: string): { id: string; name: string; memberCount: number; deliveries: number; duplicates: number } | undefined;
  reset(): void;
  stop(): Promise<void>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const REGION_NAMES = new Intl.DisplayNames(['en'], { type: 'region' });
/** An assigned ISO 3166-1 alpha-2 code (ICU knows a name for it). */
const isCountryCode = (code: unknown) =>
  typeof code === 'string' && /^[A-Z]{2}$/.test(code) && ![code, 'Unknown Region'].includes(REGION_NAMES.of(code) ?? code);
const MAX_IDENTIFIERS_PER_REQUEST = VENDOR_FACTS['google-ads'].identifiersPerRequest.value;
const MAX_IDENTIFIERS_PER_OPERATION = 20;
const MATCH_RANGES = [
  'MATCH_RANGE_LESS_THAN_20',
  'MATCH_RANGE_20_TO_30',
  'MATCH_RANGE_31_TO_40',
  'MATCH_RANGE_41_TO_50',
  'MATCH_RANGE_51_TO_60',
  'MATCH_RANGE_61_TO_70',
  'MATCH_RANGE_71_TO_80',
  'MATCH_RANGE_81_TO_90',
  'MATCH_RANGE_91_TO_100',
];

class AdsError extends Error {
  constructor(
    readonly status: number,
    readonly grpcStatus: string,
    readonly errorCode: Record<string, string>,
    message: string,
  ) {
    super(message);
  }
}

function failure(errors: { errorCode: Record<string, string>; message: string; index?: number }[]): unknown {
  return {
    '@type': `type.googleapis.com/google.ads.googleads.${SIMULATED_VERSION}.errors.GoogleAdsFailure`,
    errors: errors.map((error) => ({
      errorCode: error.errorCode,
      message: error.message,
      ...(error.index === undefined
        ? {}
        : { location: { fieldPathElements: [{ fieldName: 'operations', index: error.index }, { fieldName: 'create' }] } }),
    })),
    requestId: randomBytes(8).toString('hex'),
  };
}

function errorBody(error: AdsError): unknown {
  const code = { 400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13 }[error.status] ?? 2;
  return {
    error: {
      code: error.status,
      message: error.message,
      status: error.grpcStatus,
      details: [failure([{ errorCode: error.errorCode, message: error.message }])],
      grpcCode: code,
    },
  };
}

const invalidArgument = (errorCode: Record<string, string>, message: string) => new AdsError(400, 'INVALID_ARGUMENT', errorCode, message);

export async function startGoogleAdsSimulator(options: GoogleAdsSimulatorOptions = {}): Promise<GoogleAdsSimulator> {
  // Google publishes no rate (vendorFacts.ts): the stand-in is its own, well above the adapter's 1/s.
  const standIn = VENDOR_FACTS['google-ads'].requestsPerSecond.value;
  const buckets =
    options.rateLimit === false ? undefined : new TokenBuckets(options.rateLimit ?? { requestsPerSecond: standIn, burst: 2 * standIn });
  const jobDuration = options.jobDurationMs ?? ((operations: number) => 200 + operations * 0.005);
  const lifetime = options.tokenLifetimeSeconds ?? 3599;
  const injector = new FaultInjector(options.faults ?? {});
  const emptyCounters = (): GoogleAdsCounters => ({
    ...emptyRequestCounters(),
    tokensIssued: 0,
    jobsCreated: 0,
    jobsRun: 0,
    operationsAdded: 0,
    operationsRefused: 0,
    membersRemoved: 0,
    searches: 0,
  });
  const state: GoogleAdsState = { userLists: new Map(), jobs: new Map(), counters: emptyCounters(), failNextJobs: 0 };
  const accessTokens = new Map<string, number>();
  let nextId = 7_000_000_001;

  function addUserList(customerId: string, name: string, type: 'CRM_BASED' | 'RULE_BASED' = 'CRM_BASED'): string {
    const id = String(nextId++);
    state.userLists.set(id, { id, customerId, name, type, members: new Set(), deliveries: new Map() });
    return id;
  }

  function inspectList(id: string) {
    const list = state.userLists.get(id);
    if (!list) return undefined;
    const delivered = deliverySummary(list.deliveries);
    return { id, name: list.name, memberCount: list.members.size, deliveries: delivered.deliveries, duplicates: delivered.duplicates };
  }

  /** Moves a job along its life as time passes; SUCCESS applies its operations to the list. */
  function advance(job: SimulatedJob, now = Date.now()): void {
    if (job.status !== 'RUNNING' || now < job.doneAt!) return;
    if (state.failNextJobs > 0) {
      state.failNextJobs -= 1;
      job.status = 'FAILED';
      job.failureReason = 'UNKNOWN';
      return;
    }
    const list = state.userLists.get(job.userListId)!;
    let known = 0;
    for (const operation of job.operations) {
      const removing = operation.remove !== undefined;
      const email = ((operation.create ?? operation.remove).userIdentifiers as Record<string, any>[]).find(
        (identifier) => identifier.hashedEmail,
      )?.hashedEmail as string | undefined;
      if (!email) continue;
      if (removing) {
        if (list.members.delete(email)) state.counters.membersRemoved += 1;
        continue;
      }
      if (list.members.has(email)) known += 1;
      list.members.add(email);
      list.deliveries.set(email, (list.deliveries.get(email) ?? 0) + 1);
    }
    const share = job.operations.length ? 1 - known / job.operations.length : 0;
    job.matchRateRange = MATCH_RANGES[Math.min(8, Math.max(0, Math.floor(share * 10) - 1))];
    job.status = 'SUCCESS';
  }

  // ---- OAuth ------------------------------------------------------------------------------------

  function token(form: URLSearchParams): [number, unknown] {
    if (form.get('grant_type') !== 'refresh_token')
      return [400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type.' }];
    const clientId = form.get('client_id') ?? '';
    const secret = form.get('client_secret') ?? '';
    if (!clientId || !secret || (options.clients && options.clients[clientId] !== secret))
      return [401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' }];
    const refreshToken = form.get('refresh_token') ?? '';
    if (!refreshToken || (options.refreshTokens && !options.refreshTokens.includes(refreshToken)))
      return [400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }];
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    accessTokens.set(accessToken, Date.now() + lifetime * 1000);
    state.counters.tokensIssued += 1;
    return [
      200,
      { access_token: accessToken, expires_in: lifetime, scope: 'https://www.googleapis.com/auth/adwords', token_type: 'Bearer' },
    ];
  }

  // ---- Ads routes -------------------------------------------------------------------------------

  function checkCustomer(customerId: string): void {
    if (options.customers && !options.customers.includes(customerId)) {
      throw new AdsError(
        403,
        'PERMISSION_DENIED',
        { authorizationError: 'USER_PERMISSION_DENIED' },
        "User doesn't have permission to access customer.",
      );
    }
  }

  function search(customerId: string, body: Record<string, any>): [number, unknown] {
    state.counters.searches += 1;
    const query = typeof body?.query === 'string' ? body.query.replace(/\s+/g, ' ').trim() : '';
    let match: RegExpExecArray | null;
    if (/ FROM customer( |$)/.test(query))
      return [200, { results: [{ customer: { resourceName: `customers/${customerId}`, id: customerId } }], fieldMask: 'customer.id' }];
    if ((match = / FROM user_list WHERE user_list\.name = '((?:[^'\\]|\\.)*)'(?: AND user_list\.type = '(\w+)')?/.exec(query))) {
      const name = match[1]!.replace(/\\(.)/g, '$1');
      const rows = [...state.userLists.values()].filter(
        (list) => list.customerId === customerId && list.name === name && (!match![2] || list.type === match![2]),
      );
      return [
        200,
        {
          results: rows.map((list) => ({
            userList: { resourceName: `customers/${customerId}/userLists/${list.id}`, id: list.id, name: list.name, type: list.type },
          })),
        },
      ];
    }
    if ((match = / FROM user_list WHERE user_list\.id = (\d+)/.exec(query))) {
      const list = state.userLists.get(match[1]!);
      return [
        200,
        {
          results:
            list && list.customerId === customerId
              ? [
                  {
                    userList: {
                      resourceName: `customers/${customerId}/userLists/${list.id}`,
                      id: list.id,
                      name: list.name,
                      type: list.type,
                    },
                  },
                ]
              : [],
        },
      ];
    }
    if (
      (match =
        / FROM offline_user_data_job WHERE offline_user_data_job\.resource_name = '(customers\/\d+\/offlineUserDataJobs\/(\d+))'/.exec(
          query,
        ))
    ) {
      const job = state.jobs.get(match[2]!);
      if (!job || job.customerId !== customerId) return [200, { results: [] }];
      advance(job);
      return [
        200,
        {
          results: [
            {
              offlineUserDataJob: {
                resourceName: match[1],
                id: job.id,
                type: 'CUSTOMER_MATCH_USER_LIST',
                status: job.status,
                ...(job.failureReason ? { failureReason: job.failureReason } : {}),
                ...(job.matchRateRange ? { operationMetadata: { matchRateRange: job.matchRateRange } } : {}),
              },
            },
          ],
        },
      ];
    }
    throw invalidArgument({ queryError: 'UNEXPECTED_END_OF_QUERY' }, `The simulator does not understand the query: ${query.slice(0, 200)}`);
  }

  function mutateUserLists(customerId: string, body: Record<string, any>): [number, unknown] {
    const operations = Array.isArray(body?.operations) ? body.operations : [];
    if (operations.length !== 1 || !operations[0]?.create)
      throw invalidArgument({ requestError: 'BAD_RESOURCE_ID' }, 'One create operation is expected.');
    const create = operations[0].create;
    if (typeof create.name !== 'string' || !create.name.trim()) throw invalidArgument({ fieldError: 'REQUIRED' }, 'The name is required.');
    if (create.crmBasedUserList?.uploadKeyType !== 'CONTACT_INFO')
      throw invalidArgument({ userListError: 'INVALID_UPLOAD_KEY_TYPE' }, 'crmBasedUserList.uploadKeyType must be CONTACT_INFO here.');
    if ([...state.userLists.values()].some((list) => list.customerId === customerId && list.name === create.name))
      throw invalidArgument({ userListError: 'NAME_ALREADY_USED' }, 'Name is already being used for another user list for the account.');
    const id = addUserList(customerId, create.name);
    return [200, { results: [{ resourceName: `customers/${customerId}/userLists/${id}` }] }];
  }

  function createJob(customerId: string, body: Record<string, any>): [number, unknown] {
    const job = body?.job;
    if (job?.type !== 'CUSTOMER_MATCH_USER_LIST')
      throw invalidArgument({ offlineUserDataJobError: 'INVALID_USER_LIST_TYPE' }, 'job.type must be CUSTOMER_MATCH_USER_LIST.');
    const userList = String(job.customerMatchUserListMetadata?.userList ?? '');
    const listId = new RegExp(`^customers/${customerId}/userLists/(\\d+)$`).exec(userList)?.[1];
    const list = listId ? state.userLists.get(listId) : undefined;
    if (!list || list.customerId !== customerId)
      throw invalidArgument({ offlineUserDataJobError: 'INVALID_USER_LIST_ID' }, 'The user list ID provided for the job is invalid.');
    if (list.type !== 'CRM_BASED')
      throw invalidArgument({ offlineUserDataJobError: 'INVALID_USER_LIST_TYPE' }, 'Type of the user list is not applicable for the job.');
    const id = String(nextId++);
    state.jobs.set(id, { id, customerId, userListId: list.id, status: 'PENDING', operations: [] });
    state.counters.jobsCreated += 1;
    return [200, { resourceName: `customers/${customerId}/offlineUserDataJobs/${id}` }];
  }

  /** Why one identifier is refused, if it is. */
  function identifierProblem(identifier: Record<string, any>): { code: Record<string, string>; message: string } | undefined {
    const kinds = ['hashedEmail', 'hashedPhoneNumber', 'addressInfo', 'mobileId', 'thirdPartyUserId'].filter(
      (kind) => identifier?.[kind] !== undefined,
    );
    if (kinds.length !== 1)
      return { code: { offlineUserDataJobError: 'MISSING_USER_IDENTIFIER' }, message: 'The user identifier is missing valid data.' };
    if (identifier.hashedEmail !== undefined && !SHA256_HEX.test(identifier.hashedEmail))
      return { code: { offlineUserDataJobError: 'INVALID_SHA256_FORMAT' }, message: 'The SHA256 encoded value is malformed.' };
    if (identifier.hashedPhoneNumber !== undefined && !SHA256_HEX.test(identifier.hashedPhoneNumber))
      return { code: { offlineUserDataJobError: 'INVALID_SHA256_FORMAT' }, message: 'The SHA256 encoded value is malformed.' };
    const address = identifier.addressInfo;
    if (address !== undefined) {
      if (!SHA256_HEX.test(address.hashedFirstName ?? '') || !SHA256_HEX.test(address.hashedLastName ?? ''))
        return { code: { offlineUserDataJobError: 'INVALID_SHA256_FORMAT' }, message: 'The SHA256 encoded value is malformed.' };
      if (!isCountryCode(address.countryCode))
        return { code: { offlineUserDataJobError: 'INVALID_COUNTRY_CODE' }, message: 'The country code is invalid.' };
      if (typeof address.postalCode !== 'string' || !address.postalCode)
        return { code: { offlineUserDataJobError: 'MISSING_USER_IDENTIFIER' }, message: 'The user identifier is missing valid data.' };
    }
    return undefined;
  }

  function addOperations(customerId: string, jobId: string, body: Record<string, any>): [number, unknown] {
    const job = state.jobs.get(jobId);
    if (!job || job.customerId !== customerId)
      throw new AdsError(404, 'NOT_FOUND', { requestError: 'RESOURCE_NOT_FOUND' }, 'Resource was not found.');
    if (job.status !== 'PENDING')
      throw invalidArgument(
        { offlineUserDataJobError: 'JOB_ALREADY_STARTED' },
        'Once the upload job is started, new operations cannot be added.',
      );
    const operations = Array.isArray(body?.operations) ? (body.operations as Record<string, any>[]) : [];
    if (operations.length === 0) throw invalidArgument({ fieldError: 'REQUIRED' }, 'operations are required.');
    const identifiers = operations.reduce(
      (sum, operation) =>
        sum +
        (Array.isArray((operation?.create ?? operation?.remove)?.userIdentifiers)
          ? (operation.create ?? operation.remove).userIdentifiers.length
          : 0),
      0,
    );
    // A job adds or removes: the first operation decides which, and the other kind conflicts.
    const jobKind = (job.operations[0]?.remove ?? operations[0]?.remove) !== undefined ? 'remove' : 'create';
    if (identifiers > MAX_IDENTIFIERS_PER_REQUEST)
      throw invalidArgument(
        { offlineUserDataJobError: 'TOO_MANY_USER_IDENTIFIERS' },
        'Maximum number of user identifiers allowed per request is 100,000 and per operation is 20.',
      );
    const partial = body.enablePartialFailure === true;
    const errors: { errorCode: Record<string, string>; message: string; index: number }[] = [];
    const accepted: Record<string, any>[] = [];
    operations.forEach((operation, index) => {
      const list = operation?.[jobKind]?.userIdentifiers;
      let problem: { code: Record<string, string>; message: string } | undefined;
      if (!operation?.[jobKind])
        problem = { code: { offlineUserDataJobError: 'CONFLICTING_OPERATION' }, message: `This job takes ${jobKind} operations only.` };
      else if (!Array.isArray(list) || list.length === 0)
        problem = { code: { offlineUserDataJobError: 'MISSING_USER_IDENTIFIER' }, message: 'The user identifier is missing valid data.' };
      else if (list.length > MAX_IDENTIFIERS_PER_OPERATION)
        problem = {
          code: { offlineUserDataJobError: 'TOO_MANY_USER_IDENTIFIERS' },
          message: 'Maximum number of user identifiers allowed per request is 100,000 and per operation is 20.',
        };
      else problem = list.map(identifierProblem).find(Boolean);
      if (problem) errors.push({ errorCode: problem.code, message: problem.message, index });
      else accepted.push(operation);
    });
    if (errors.length > 0 && !partial) {
      const first = errors[0]!;
      throw invalidArgument(first.errorCode, first.message);
    }
    job.operations.push(...accepted);
    state.counters.operationsAdded += accepted.length;
    state.counters.operationsRefused += errors.length;
    if (errors.length === 0) return [200, {}];
    return [
      200,
      {
        partialFailureError: {
          code: 3,
          message: `Multiple errors in ‘details’. First error: ${errors[0]!.message}, at operations[${errors[0]!.index}].create`,
          details: [failure(errors)],
        },
      },
    ];
  }

  function runJob(customerId: string, jobId: string): [number, unknown] {
    const job = state.jobs.get(jobId);
    if (!job || job.customerId !== customerId)
      throw new AdsError(404, 'NOT_FOUND', { requestError: 'RESOURCE_NOT_FOUND' }, 'Resource was not found.');
    if (job.status !== 'PENDING')
      throw invalidArgument(
        { offlineUserDataJobError: 'JOB_ALREADY_STARTED' },
        'Once the upload job is started, new operations cannot be added.',
      );
    const now = Date.now();
    job.status = 'RUNNING';
    job.runAt = now;
    job.doneAt = now + jobDuration(job.operations.length);
    state.counters.jobsRun += 1;
    return [
      200,
      {
        name: `customers/${customerId}/operations/${randomBytes(6).toString('hex')}`,
        metadata: { '@type': `type.googleapis.com/google.ads.googleads.${SIMULATED_VERSION}.resources.OfflineUserDataJobMetadata` },
      },
    ];
  }

  interface Route {
    key: string;
    answer: () => [number, unknown];
  }

  function route(path: string, body: Record<string, any>): Route | undefined {
    const prefix = `/${SIMULATED_VERSION}/customers/`;
    if (!path.startsWith(prefix)) return undefined;
    const rest = path.slice(prefix.length);
    let match: RegExpExecArray | null;
    if ((match = /^(\d{10})\/googleAds:search$/.exec(rest)))
      return { key: 'POST googleAds:search', answer: () => search(match![1]!, body) };
    if ((match = /^(\d{10})\/userLists:mutate$/.exec(rest)))
      return { key: 'POST userLists:mutate', answer: () => mutateUserLists(match![1]!, body) };
    if ((match = /^(\d{10})\/offlineUserDataJobs:create$/.exec(rest)))
      return { key: 'POST offlineUserDataJobs:create', answer: () => createJob(match![1]!, body) };
    if ((match = /^(\d{10})\/offlineUserDataJobs\/(\d+):addOperations$/.exec(rest)))
      return { key: 'POST offlineUserDataJobs:addOperations', answer: () => addOperations(match![1]!, match![2]!, body) };
    if ((match = /^(\d{10})\/offlineUserDataJobs\/(\d+):run$/.exec(rest)))
      return { key: 'POST offlineUserDataJobs:run', answer: () => runJob(match![1]!, match![2]!) };
    return undefined;
  }

  // ---- request handling -------------------------------------------------------------------------

  function answer(response: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  }

  async function readBody(request: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://simulator');
    const text = await readBody(request);
    if (url.pathname.startsWith('/_simulator')) {
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        return answer(response, 400, { error: 'malformed JSON' });
      }
      const common = faultAndResetControl(method, url.pathname, body, injector, reset);
      if (common) return answer(response, common[0], common[1]);
      if (method === 'GET' && url.pathname === '/_simulator/state')
        return answer(response, 200, { counters: state.counters, userLists: [...state.userLists.keys()].map(inspectList) });
      return answer(response, 404, { error: 'no such control path' });
    }

    state.counters.requests += 1;
    const fault = await injector.inject(request, state.counters);
    if (fault === 'connectionReset') return;
    if (fault === 'serverError')
      return answer(
        response,
        500,
        errorBody(new AdsError(500, 'INTERNAL', { internalError: 'INTERNAL_ERROR' }, 'An internal error has occurred.')),
      );
    if (fault === 'tooManyRequests')
      return answer(
        response,
        429,
        errorBody(
          new AdsError(
            429,
            'RESOURCE_EXHAUSTED',
            { quotaError: 'RESOURCE_TEMPORARILY_EXHAUSTED' },
            'Too many requests in a short amount of time.',
          ),
        ),
      );

    if (method === 'POST' && url.pathname === '/token') {
      countRoute(state.counters, 'POST /token');
      const [status, body] = token(new URLSearchParams(text));
      return answer(response, status, body);
    }
    if (method !== 'POST')
      return answer(
        response,
        404,
        errorBody(new AdsError(404, 'NOT_FOUND', { requestError: 'UNKNOWN' }, `No route for ${method} ${url.pathname}`)),
      );

    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiresAt = bearer ? accessTokens.get(bearer) : undefined;
    if (!expiresAt || expiresAt < Date.now()) {
      state.counters.unauthorized += 1;
      return answer(
        response,
        401,
        errorBody(
          new AdsError(
            401,
            'UNAUTHENTICATED',
            { authenticationError: 'OAUTH_TOKEN_INVALID' },
            'Request is missing required authentication credential. Expected OAuth 2 access token.',
          ),
        ),
      );
    }
    const developerToken = request.headers['developer-token'];
    if (
      typeof developerToken !== 'string' ||
      !developerToken ||
      (options.developerTokens && !options.developerTokens.includes(developerToken))
    ) {
      state.counters.unauthorized += 1;
      return answer(
        response,
        401,
        errorBody(
          new AdsError(401, 'UNAUTHENTICATED', { authenticationError: 'DEVELOPER_TOKEN_INVALID' }, 'The developer token is not valid.'),
        ),
      );
    }
    const login = request.headers['login-customer-id'];
    if (login !== undefined && !/^\d{10}$/.test(String(login)))
      return answer(
        response,
        400,
        errorBody(invalidArgument({ requestError: 'INVALID_CUSTOMER_ID' }, 'login-customer-id must be 10 digits without dashes.')),
      );

    let body: Record<string, any> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return answer(response, 400, errorBody(invalidArgument({ requestError: 'INVALID_INPUT' }, 'Invalid JSON payload received.')));
    }
    const matched = route(url.pathname, body);
    if (!matched)
      return answer(
        response,
        404,
        errorBody(
          new AdsError(
            404,
            'NOT_FOUND',
            { requestError: 'UNKNOWN' },
            `No route for ${method} ${url.pathname} (this simulator speaks ${SIMULATED_VERSION})`,
          ),
        ),
      );
    const take = buckets?.take(developerToken);
    if (take && !take.taken) {
      state.counters.tooManyRequests += 1;
      return answer(
        response,
        429,
        errorBody(
          new AdsError(
            429,
            'RESOURCE_EXHAUSTED',
            { quotaError: 'RESOURCE_TEMPORARILY_EXHAUSTED' },
            `Too many requests. Retry in ${Math.ceil(take.waitSeconds)} seconds.`,
          ),
        ),
      );
    }
    countRoute(state.counters, matched.key);
    try {
      checkCustomer(/customers\/(\d{10})/.exec(url.pathname)![1]!);
      const [status, result] = matched.answer();
      return answer(response, status, result);
    } catch (error) {
      if (error instanceof AdsError) return answer(response, error.status, errorBody(error));
      throw error;
    }
  }

  function reset(): void {
    state.userLists.clear();
    state.jobs.clear();
    state.counters = emptyCounters();
    state.failNextJobs = 0;
    accessTokens.clear();
    buckets?.clear();
    injector.set({});
  }

  const server = await startSimulatorServer({
    port: options.port,
    handle,
    answerInternalError: (response) =>
      answer(
        response,
        500,
        errorBody(new AdsError(500, 'INTERNAL', { internalError: 'INTERNAL_ERROR' }, 'An internal error has occurred.')),
      ),
  });

  return {
    url: server.url,
    port: server.port,
    state,
    setFaults: (faults) => injector.set(faults),
    addUserList,
    listsNamed: (name) => [...state.userLists.values()].filter((list) => list.name === name),
    inspectList,
    reset,
    stop: server.stop,
  };
}
