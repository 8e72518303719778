// A local Iterable API for development, tests and benchmarks. It speaks the vendor's paths (the
// same under /api for the US and EU data centers, since *_API_URL replaces the host), the Api-Key
// header, the answer shapes and error codes for the calls Outflow makes (sources in
// shared/destinations/iterable.ts), keeps one project's users and lists in memory, counts how often
// each email was added to each list (to prove "none twice"), rate-limits lists/subscribe per
// project with a token bucket and injects faults from a seeded PRNG so a failing test replays.
//
// Where the vendor's behaviour is not documented the simulator picks the reading that lets tests
// catch adapter mistakes, and says so: more than `maxSubscribersPerRequest` (no cap unless given) is
// 400 BatchTooLarge; an empty
// or malformed body is 400 BadParams; an unknown list is 400 with "error.lists.invalidListId";
// list names need not be unique (so an adapter that creates blindly shows duplicates); 429 carries
// no Retry-After unless told to (the vendor documents none). lists/unsubscribe ("Remove users from a
// list") checks its body like subscribe, takes users off the list, answers a user the project lacks
// in notFoundEmails, and has a bucket of its own the size of subscribe's when one is given (Iterable
// limits per endpoint).
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
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
  TokenBuckets,
  type Faults,
  type RateLimit,
  type RequestCounters,
} from './simulatorKit.js';

export type { Faults, RateLimit };

export interface IterableSimulatorOptions {
  /** 0 or absent: a free port. Always 127.0.0.1. */
  port?: number;
  /** Accepted API keys (all of one project); absent: any non-empty key is accepted (local demos). */
  apiKeys?: string[];
  /**
   * Token bucket for lists/subscribe per project. Absent: none, since Iterable publishes no rate for
   * it (the adapter's 5/s is an assumption, vendorFacts.ts); list reads keep their documented 100/s.
   * `false`: no limits at all.
   */
  rateLimit?: RateLimit | false;
  /** Send Retry-After (seconds) with 429. Default false: Iterable documents none (vendorFacts.ts). */
  retryAfterHeader?: boolean;
  faults?: Faults;
  /** Cap of subscribers per lists/subscribe call. Absent: none (Iterable publishes none; the adapter's 1,000 is an assumption). */
  maxSubscribersPerRequest?: number;
  /** Emails forgotten under GDPR: subscribing them answers forgottenEmails. */
  forgottenEmails?: string[];
  /** Data-field types the project already holds, e.g. { postalCode: 'long' }. */
  fieldTypes?: Record<string, FieldType>;
}

export type FieldType = 'string' | 'long' | 'double' | 'boolean' | 'object' | 'array';

export interface SimulatedUser {
  email: string;
  dataFields: Record<string, unknown>;
  signupDate: number;
}

export interface SimulatedList {
  id: number;
  name: string;
  description?: string;
  listType: 'Standard';
  createdAt: number;
  /** Lower-cased emails of the list's members. */
  members: Set<string>;
  /** Times each lower-cased email was accepted into this list (duplicates in one call count each). */
  deliveries: Map<string, number>;
}

export interface SimulatorCounters extends RequestCounters {
  subscribeCalls: number;
  subscribedUsers: number;
  unsubscribeCalls: number;
  /** Users taken off a list they were on. */
  unsubscribedUsers: number;
  /** Users unsubscribed from the list's channel (channelUnsubscribe: true). */
  channelUnsubscribes: number;
  listsCreated: number;
  listsDeleted: number;
}

export interface SimulatorState {
  /** The project's user profiles by lower-cased email. */
  users: Map<string, SimulatedUser>;
  lists: Map<number, SimulatedList>;
  fieldTypes: Map<string, FieldType>;
  counters: SimulatorCounters;
}

export interface ListInspection {
  listId: number;
  name: string;
  memberCount: number;
  /** Accepted deliveries in total, and how many emails were delivered more than once. */
  deliveries: number;
  duplicates: number;
  duplicateEmails: string[];
}

export interface IterableSimulator {
  /** Origin for ITERABLE_API_URL, e.g. http://127.0.0.1:4011. */
  url: string;
  port: number;
  state: SimulatorState;
  setFaults(faults: Faults): void;
  inspectList(listId: number | string): ListInspection | undefined;
  /** Every list with exactly this name (one, if the adapter never duplicates). */
  listsNamed(name: string): ListInspection[];
  /** Empties users, lists and counters, clears faults and refills the buckets; keeps keys and options. */
  reset(): void;
  stop(): Promise<void>;
}

// lists/subscribe has no published rate or cap, so the simulator sets neither unless told: agreeing
// with the adapter's guesses (vendorFacts.ts) could never fail a test; tests set lower ones instead.
// List reads are documented.
/** GET /api/lists: documented at 100 requests/s per project. */
const LIST_READ_RATE: RateLimit = {
  requestsPerSecond: VENDOR_FACTS.iterable.listReadsPerSecond.value,
  burst: VENDOR_FACTS.iterable.listReadsPerSecond.value,
};
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const FIRST_LIST_ID = 100_001;
// Pragmatic syntax check: one @, no spaces, a dotted domain.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const FAILED_UPDATE_KEYS = [
  'invalidEmails',
  'invalidUserIds',
  'notFoundEmails',
  'notFoundUserIds',
  'forgottenEmails',
  'forgottenUserIds',
  'conflictEmails',
  'conflictUserIds',
  'invalidDataEmails',
  'invalidDataUserIds',
] as const;
type FailedUpdates = Record<(typeof FAILED_UPDATE_KEYS)[number], string[]>;

class VendorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly params: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

function emptyCounters(): SimulatorCounters {
  return {
    ...emptyRequestCounters(),
    subscribeCalls: 0,
    subscribedUsers: 0,
    unsubscribeCalls: 0,
    unsubscribedUsers: 0,
    channelUnsubscribes: 0,
    listsCreated: 0,
    listsDeleted: 0,
  };
}

function emptyFailedUpdates(): FailedUpdates {
  return Object.fromEntries(FAILED_UPDATE_KEYS.map((key) => [key, []])) as unknown as FailedUpdates;
}

function typeOf(value: unknown): FieldType {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'long' : 'double';
  if (value !== null && typeof value === 'object') return 'object';
  return 'string';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const bodyLimits = {
  maxBytes: MAX_BODY_BYTES,
  tooLarge: () => new VendorError(413, 'BadParams', 'Request body is larger than 4MB'),
  malformed: () => new VendorError(400, 'BadJsonBody', 'Could not parse the request body as JSON'),
};

export async function startIterableSimulator(options: IterableSimulatorOptions = {}): Promise<IterableSimulator> {
  const apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
  // Per project and endpoint, as Iterable documents its limits.
  const subscribeRate = options.rateLimit || undefined;
  const subscribeBuckets = subscribeRate ? new TokenBuckets(subscribeRate) : undefined;
  const unsubscribeBuckets = subscribeRate ? new TokenBuckets(subscribeRate) : undefined;
  const listReadBuckets = options.rateLimit === false ? undefined : new TokenBuckets(LIST_READ_RATE);
  const retryAfterHeader = options.retryAfterHeader ?? false;
  const maxPerRequest = options.maxSubscribersPerRequest ?? Number.POSITIVE_INFINITY;
  const forgotten = new Set((options.forgottenEmails ?? []).map((email) => email.trim().toLowerCase()));

  const state: SimulatorState = { users: new Map(), lists: new Map(), fieldTypes: new Map(), counters: emptyCounters() };
  let nextListId = FIRST_LIST_ID;
  const injector = new FaultInjector(options.faults ?? {});
  const setFaults = (next: Faults) => injector.set(next);

  function seedFieldTypes(): void {
    state.fieldTypes.clear();
    for (const [field, type] of Object.entries(options.fieldTypes ?? {})) state.fieldTypes.set(field, type);
  }
  seedFieldTypes();

  // ---- lists ---------------------------------------------------------------------------------

  function inspection(list: SimulatedList): ListInspection {
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

  function inspectList(listId: number | string): ListInspection | undefined {
    const list = state.lists.get(Number(listId));
    return list ? inspection(list) : undefined;
  }

  function listsNamed(name: string): ListInspection[] {
    return [...state.lists.values()].filter((list) => list.name === name).map(inspection);
  }

  function listFor(listId: unknown): SimulatedList {
    const list = typeof listId === 'number' ? state.lists.get(listId) : undefined;
    if (!list)
      throw new VendorError(400, 'BadParams', `error.lists.invalidListId: list ${String(listId)} does not exist in this project`, {
        listId,
      });
    return list;
  }

  // ---- vendor routes -------------------------------------------------------------------------

  function getLists(): [number, unknown] {
    return [
      200,
      {
        lists: [...state.lists.values()].map((list) => ({
          id: list.id,
          name: list.name,
          ...(list.description ? { description: list.description } : {}),
          createdAt: list.createdAt,
          listType: list.listType,
        })),
      },
    ];
  }

  function createList(body: unknown): [number, unknown] {
    if (!isPlainObject(body) || typeof body.name !== 'string' || !body.name.trim())
      throw new VendorError(400, 'BadParams', 'Invalid parameters: name is required');
    if (body.description !== undefined && typeof body.description !== 'string')
      throw new VendorError(400, 'BadParams', 'Invalid parameters: description must be a string');
    const list: SimulatedList = {
      id: nextListId++,
      name: body.name,
      ...(body.description ? { description: body.description } : {}),
      listType: 'Standard',
      createdAt: Date.now(),
      members: new Set(),
      deliveries: new Map(),
    };
    state.lists.set(list.id, list);
    state.counters.listsCreated += 1;
    return [200, { listId: list.id }];
  }

  function deleteList(listId: number): [number, unknown] {
    listFor(listId);
    state.lists.delete(listId);
    state.counters.listsDeleted += 1;
    return [200, { msg: `Deleted list ${listId}`, code: 'Success', params: null }];
  }

  /** Checks the whole body first: Iterable refuses a malformed request before touching any user. */
  function checkSubscribeBody(body: unknown): { list: SimulatedList; subscribers: Record<string, unknown>[] } {
    if (!isPlainObject(body))
      throw new VendorError(400, 'BadParams', 'Invalid parameters: a JSON object with listId and subscribers is required');
    if (typeof body.listId !== 'number' || !Number.isInteger(body.listId))
      throw new VendorError(400, 'BadParams', 'Invalid parameters: listId must be an integer');
    if (!Array.isArray(body.subscribers)) throw new VendorError(400, 'BadParams', 'Invalid parameters: subscribers must be an array');
    if (body.updateExistingUsersOnly !== undefined && typeof body.updateExistingUsersOnly !== 'boolean') {
      throw new VendorError(400, 'BadParams', 'Invalid parameters: updateExistingUsersOnly must be a boolean');
    }
    const subscribers = body.subscribers as unknown[];
    if (subscribers.length === 0) throw new VendorError(400, 'BadParams', 'Invalid parameters: subscribers must not be empty');
    if (subscribers.length > maxPerRequest)
      throw new VendorError(
        400,
        'BatchTooLarge',
        `Batch too large: at most ${maxPerRequest} subscribers per request, got ${subscribers.length}`,
      );
    subscribers.forEach((subscriber, index) => {
      if (!isPlainObject(subscriber))
        throw new VendorError(400, 'BadParams', `Invalid parameters: subscribers[${index}] must be an object`);
      if (typeof subscriber.email !== 'string' && typeof subscriber.userId !== 'string') {
        throw new VendorError(400, 'BadParams', `Invalid parameters: subscribers[${index}] needs an email or a userId`);
      }
      if (subscriber.dataFields !== undefined && !isPlainObject(subscriber.dataFields)) {
        throw new VendorError(400, 'BadParams', `Invalid parameters: subscribers[${index}].dataFields must be an object`);
      }
    });
    const list = listFor(body.listId);
    // A data field keeps its first type in the whole project; another type refuses the request.
    const validationErrors: Record<string, unknown> = {};
    for (const subscriber of subscribers as Record<string, unknown>[]) {
      for (const [field, value] of Object.entries((subscriber.dataFields as Record<string, unknown> | undefined) ?? {})) {
        const expected = state.fieldTypes.get(field);
        const incoming = typeOf(value);
        if (expected && expected !== incoming && !(expected === 'double' && incoming === 'long')) {
          validationErrors[`simulated-project:::${field}`] = {
            incomingTypes: [incoming],
            expectedType: expected,
            category: 'user',
            offendingValue: String(value),
            _type: 'UnexpectedType',
          };
        }
      }
    }
    if (Object.keys(validationErrors).length > 0) {
      throw new VendorError(
        400,
        'RequestFieldsTypesMismatched',
        'The request does not have the same data types as the project for some fields',
        { validationErrors },
      );
    }
    return { list, subscribers: subscribers as Record<string, unknown>[] };
  }

  function subscribe(body: unknown): [number, unknown] {
    const { list, subscribers } = checkSubscribeBody(body);
    const updateExistingOnly = (body as Record<string, unknown>).updateExistingUsersOnly === true;
    state.counters.subscribeCalls += 1;
    const failedUpdates = emptyFailedUpdates();
    const createdFields = new Set<string>();
    let successCount = 0;
    const now = Date.now();
    for (const subscriber of subscribers) {
      if (typeof subscriber.email !== 'string') {
        // An email-based project: a userId alone does not name a user.
        failedUpdates.notFoundUserIds.push(String(subscriber.userId));
        continue;
      }
      const email = subscriber.email.trim().toLowerCase();
      if (!EMAIL_PATTERN.test(email)) {
        failedUpdates.invalidEmails.push(email);
        continue;
      }
      if (forgotten.has(email)) {
        failedUpdates.forgottenEmails.push(email);
        continue;
      }
      let user = state.users.get(email);
      if (!user && updateExistingOnly) {
        failedUpdates.notFoundEmails.push(email);
        continue;
      }
      if (!user) {
        user = { email, dataFields: Object.create(null) as Record<string, unknown>, signupDate: now };
        state.users.set(email, user);
      }
      // Data fields are merged into the profile: fields not sent are kept.
      for (const [field, value] of Object.entries((subscriber.dataFields as Record<string, unknown> | undefined) ?? {})) {
        if (!state.fieldTypes.has(field)) {
          state.fieldTypes.set(field, typeOf(value));
          createdFields.add(field);
        }
        user.dataFields[field] = value;
      }
      list.members.add(email);
      list.deliveries.set(email, (list.deliveries.get(email) ?? 0) + 1);
      state.counters.subscribedUsers += 1;
      successCount += 1;
    }
    const failCount = FAILED_UPDATE_KEYS.reduce((sum, key) => sum + failedUpdates[key].length, 0);
    return [
      200,
      {
        successCount,
        failCount,
        // Deprecated copies the API still sends.
        invalidEmails: failedUpdates.invalidEmails,
        invalidUserIds: failedUpdates.invalidUserIds,
        createdFields: [...createdFields],
        filteredOutFields: [],
        failedUpdates,
      },
    ];
  }

  /** Checks the whole body first, as subscribe does; subscribers name a user by email or userId only. */
  function checkUnsubscribeBody(body: unknown): {
    list: SimulatedList;
    subscribers: Record<string, unknown>[];
    channelUnsubscribe: boolean;
  } {
    if (!isPlainObject(body))
      throw new VendorError(400, 'BadParams', 'Invalid parameters: a JSON object with listId and subscribers is required');
    if (typeof body.listId !== 'number' || !Number.isInteger(body.listId))
      throw new VendorError(400, 'BadParams', 'Invalid parameters: listId must be an integer');
    if (!Array.isArray(body.subscribers)) throw new VendorError(400, 'BadParams', 'Invalid parameters: subscribers must be an array');
    if (body.campaignId !== undefined && (typeof body.campaignId !== 'number' || !Number.isInteger(body.campaignId))) {
      throw new VendorError(400, 'BadParams', 'Invalid parameters: campaignId must be an integer');
    }
    if (body.channelUnsubscribe !== undefined && typeof body.channelUnsubscribe !== 'boolean') {
      throw new VendorError(400, 'BadParams', 'Invalid parameters: channelUnsubscribe must be a boolean');
    }
    const subscribers = body.subscribers as unknown[];
    if (subscribers.length === 0) throw new VendorError(400, 'BadParams', 'Invalid parameters: subscribers must not be empty');
    if (subscribers.length > maxPerRequest)
      throw new VendorError(
        400,
        'BatchTooLarge',
        `Batch too large: at most ${maxPerRequest} subscribers per request, got ${subscribers.length}`,
      );
    subscribers.forEach((subscriber, index) => {
      if (!isPlainObject(subscriber))
        throw new VendorError(400, 'BadParams', `Invalid parameters: subscribers[${index}] must be an object`);
      if (typeof subscriber.email !== 'string' && typeof subscriber.userId !== 'string') {
        throw new VendorError(400, 'BadParams', `Invalid parameters: subscribers[${index}] needs an email or a userId`);
      }
    });
    return {
      list: listFor(body.listId),
      subscribers: subscribers as Record<string, unknown>[],
      channelUnsubscribe: body.channelUnsubscribe === true,
    };
  }

  function unsubscribe(body: unknown): [number, unknown] {
    const { list, subscribers, channelUnsubscribe } = checkUnsubscribeBody(body);
    state.counters.unsubscribeCalls += 1;
    const failedUpdates = emptyFailedUpdates();
    let successCount = 0;
    for (const subscriber of subscribers) {
      if (typeof subscriber.email !== 'string') {
        failedUpdates.notFoundUserIds.push(String(subscriber.userId));
        continue;
      }
      const email = subscriber.email.trim().toLowerCase();
      if (!EMAIL_PATTERN.test(email)) failedUpdates.invalidEmails.push(email);
      else if (forgotten.has(email)) failedUpdates.forgottenEmails.push(email);
      else if (!state.users.has(email)) failedUpdates.notFoundEmails.push(email);
      else {
        // A user who is not on the list is still a success: the list no longer holds them.
        if (list.members.delete(email)) state.counters.unsubscribedUsers += 1;
        if (channelUnsubscribe) state.counters.channelUnsubscribes += 1;
        successCount += 1;
      }
    }
    const failCount = FAILED_UPDATE_KEYS.reduce((sum, key) => sum + failedUpdates[key].length, 0);
    return [
      200,
      { successCount, failCount, invalidEmails: failedUpdates.invalidEmails, invalidUserIds: failedUpdates.invalidUserIds, failedUpdates },
    ];
  }

  interface Route {
    key: string;
    /** The endpoint's token buckets, if it is rate-limited. */
    buckets?: TokenBuckets;
    answer: () => [number, unknown];
  }

  function route(method: string, path: string, body: unknown): Route | undefined {
    if (!path.startsWith('/api/')) return undefined;
    const rest = path.slice('/api'.length);
    let match: RegExpExecArray | null;
    if (rest === '/lists' && method === 'GET') return { key: 'GET /lists', buckets: listReadBuckets, answer: getLists };
    if (rest === '/lists' && method === 'POST') return { key: 'POST /lists', answer: () => createList(body) };
    if (rest === '/lists/subscribe' && method === 'POST')
      return { key: 'POST /lists/subscribe', buckets: subscribeBuckets, answer: () => subscribe(body) };
    if (rest === '/lists/unsubscribe' && method === 'POST')
      return { key: 'POST /lists/unsubscribe', buckets: unsubscribeBuckets, answer: () => unsubscribe(body) };
    if ((match = /^\/lists\/(\d+)\/size$/.exec(rest)) && method === 'GET') {
      const listId = Number(match[1]);
      // Documented as a plain-text count.
      return { key: 'GET /lists/{listId}/size', answer: () => [200, String(listFor(listId).members.size)] };
    }
    if ((match = /^\/lists\/(\d+)$/.exec(rest)) && method === 'DELETE') {
      const listId = Number(match[1]);
      return { key: 'DELETE /lists/{listId}', answer: () => deleteList(listId) };
    }
    return undefined;
  }

  // ---- control endpoints ---------------------------------------------------------------------

  function control(method: string, url: URL, body: unknown): [number, unknown] | undefined {
    const path = url.pathname;
    const common = faultAndResetControl(method, path, body, injector, reset);
    if (common) return common;
    if (method === 'GET' && path === '/_simulator/state') {
      return [200, { counters: state.counters, users: state.users.size, lists: [...state.lists.values()].map(inspection) }];
    }
    if (method === 'GET' && path === '/_simulator/lists') {
      const name = url.searchParams.get('name');
      return [200, { lists: name === null ? [...state.lists.values()].map(inspection) : listsNamed(name) }];
    }
    const match = /^\/_simulator\/lists\/([^/]+)$/.exec(path);
    if (method === 'GET' && match) {
      const found = inspectList(decodeURIComponent(match[1]!));
      return found ? [200, found] : [404, { msg: 'error.lists.invalidListId', code: 'NotFound', params: null }];
    }
    return undefined;
  }

  // ---- request handling ----------------------------------------------------------------------

  function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const contentType = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
    response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
    response.end(text);
  }

  function answerTooManyRequests(response: ServerResponse, waitSeconds: number): void {
    const headers: Record<string, string> = retryAfterHeader ? { 'Retry-After': retryAfterSeconds(waitSeconds) } : {};
    answer(response, 429, { msg: 'Exceeded rate limit.', code: 'RateLimitExceeded', params: null }, headers);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://simulator');
    const path = url.pathname;
    let body: unknown;
    try {
      body = await readJsonBody(request, bodyLimits);
    } catch (error) {
      if (error instanceof VendorError)
        return answer(response, error.status, { msg: error.message, code: error.code, params: error.params });
      throw error;
    }

    if (path.startsWith('/_simulator/') || path === '/_simulator') {
      const controlled = control(method, url, body) ?? [404, { msg: 'Not found', code: 'NotFound', params: null }];
      return answer(response, controlled[0], controlled[1]);
    }

    state.counters.requests += 1;
    // Faults come first, as an overloaded front end would answer before auth or routing.
    const fault = await injector.inject(request, state.counters);
    if (fault === 'connectionReset') return;
    if (fault === 'serverError') return answer(response, 500, { msg: 'Internal server error', code: 'GenericError', params: null });
    if (fault === 'tooManyRequests') return answerTooManyRequests(response, 1);

    const apiKey = request.headers['api-key'];
    if (typeof apiKey !== 'string' || !apiKey || (apiKeys && !apiKeys.has(apiKey))) {
      state.counters.unauthorized += 1;
      return answer(response, 401, { msg: 'Invalid API key', code: 'BadApiKey', params: { endpoint: path } });
    }

    const matched = route(method, path, body);
    if (!matched) return answer(response, 404, { msg: `No route for ${method} ${path}`, code: 'NotFound', params: null });
    // One project per simulator: every accepted key shares the endpoint's bucket.
    const take = matched.buckets?.take(matched.key);
    if (take && !take.taken) {
      state.counters.tooManyRequests += 1;
      return answerTooManyRequests(response, take.waitSeconds);
    }
    countRoute(state.counters, matched.key);
    try {
      const [status, result] = matched.answer();
      return answer(response, status, result);
    } catch (error) {
      if (error instanceof VendorError)
        return answer(response, error.status, { msg: error.message, code: error.code, params: error.params });
      state.counters.serverErrors += 1;
      return answer(response, 500, { msg: 'Internal server error', code: 'GenericError', params: null });
    }
  }

  function reset(): void {
    state.users.clear();
    state.lists.clear();
    seedFieldTypes();
    state.counters = emptyCounters();
    nextListId = FIRST_LIST_ID;
    subscribeBuckets?.clear();
    unsubscribeBuckets?.clear();
    listReadBuckets?.clear();
    setFaults({});
  }

  const server = await startSimulatorServer({
    port: options.port,
    handle,
    answerInternalError: (response) => answer(response, 500, { msg: 'Internal server error', code: 'GenericError', params: null }),
  });

  return { url: server.url, port: server.port, state, setFaults, inspectList, listsNamed, reset, stop: server.stop };
}
