// A local Campaign Monitor (createsend API v3.3) for development, tests and benchmarks. It speaks
// the vendor's paths, auth, answer shapes and error codes for the calls Outflow makes (see the
// sources in shared/destinations/campaignMonitor.ts), keeps lists in memory, counts how often each
// email was delivered (to prove "none twice"), rate-limits with a token bucket and injects faults
// from a seeded PRNG so a failing test replays exactly.
//
// Where the vendor's behaviour is not documented the simulator picks the reading that lets tests
// catch adapter mistakes, and says so: values over 250 characters are stored cut and counted in
// `overlongValues`; unknown custom-field keys are dropped (as users report) and counted in
// `ignoredCustomFieldKeys`; an unknown list is 400 with Code 101.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Faults {
  /** Share of vendor calls answered 500 before any processing (0..1). */
  serverErrorRate?: number;
  /** After every `every` vendor calls, the next `length` calls are answered 429. */
  tooManyRequestsBursts?: { every: number; length: number };
  /** Delay before each vendor call is handled; `latencyJitterMs` adds 0..jitter from the PRNG. */
  latencyMs?: number;
  latencyJitterMs?: number;
  /** Share of vendor calls whose socket is destroyed without an answer (0..1). */
  connectionResetRate?: number;
  /** Seed of the PRNG behind every random fault; setting faults restarts the sequence. */
  seed?: number;
}

export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

export interface CampaignMonitorSimulatorOptions {
  /** 0 or absent: a free port. Always 127.0.0.1. */
  port?: number;
  /** Accepted API keys; absent: any non-empty key is accepted (local demos). */
  apiKeys?: string[];
  /** Token bucket per API key; absent: the adapter's declared 2/s, burst 4. `false`: no limit (and no headers). */
  rateLimit?: RateLimit | false;
  /** Also send Retry-After on 429 (the vendor documents only X-RateLimit-Reset). Default true. */
  retryAfterHeader?: boolean;
  faults?: Faults;
  /** Any list ID used is created on first use, so local demos just work. Default true. */
  autoCreateLists?: boolean;
  /** Cap of subscribers per import call (the vendor's is 1,000). */
  maxSubscribersPerImport?: number;
}

export interface CustomField {
  FieldName: string;
  Key: string;
  DataType: string;
  FieldOptions: string[];
  VisibleInPreferenceCenter: boolean;
}

export interface SimulatedSubscriber {
  EmailAddress: string;
  Name: string;
  /** Custom field values by personalisation tag, e.g. "[City]" (a plain object: lists hold millions). */
  CustomFields: Record<string, string>;
  State: 'Active';
  ConsentToTrack: string;
  Date: string;
}

export interface SimulatedList {
  ListID: string;
  ClientID: string;
  Title: string;
  ConfirmedOptIn: boolean;
  UnsubscribePage: string;
  ConfirmationSuccessPage: string;
  UnsubscribeSetting: string;
  /** By lower-cased tag without brackets. */
  customFields: Map<string, CustomField>;
  /** By lower-cased email. */
  subscribers: Map<string, SimulatedSubscriber>;
  /** Times each lower-cased email was accepted by an import (duplicates in one call count each). */
  deliveries: Map<string, number>;
  /** Keys sent in imports that the list does not define, with how often. */
  ignoredCustomFieldKeys: Map<string, number>;
  /** Values longer than 250 characters that were stored cut. */
  overlongValues: number;
}

export interface SimulatorCounters {
  requests: number;
  /** Requests per "METHOD /path" with IDs replaced by placeholders. */
  byRoute: Record<string, number>;
  unauthorized: number;
  tooManyRequests: number;
  serverErrors: number;
  connectionResets: number;
  imports: number;
  importedSubscribers: number;
  customFieldsCreated: number;
}

export interface SimulatorState {
  clients: { ClientID: string; Name: string }[];
  lists: Map<string, SimulatedList>;
  counters: SimulatorCounters;
}

export interface ListInspection {
  listId: string;
  title: string;
  memberCount: number;
  /** Accepted deliveries in total, and how many emails were delivered more than once. */
  deliveries: number;
  duplicates: number;
  duplicateEmails: string[];
  customFields: CustomField[];
  ignoredCustomFieldKeys: Record<string, number>;
  overlongValues: number;
}

export interface CampaignMonitorSimulator {
  /** Origin for CAMPAIGN_MONITOR_API_URL, e.g. http://127.0.0.1:4010. */
  url: string;
  port: number;
  state: SimulatorState;
  setFaults(faults: Faults): void;
  inspectList(listId: string): ListInspection | undefined;
  /** Empties lists and counters, clears faults and refills the buckets; keeps keys and options. */
  reset(): void;
  stop(): Promise<void>;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { requestsPerSecond: 2, burst: 4 };
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_VALUE_LENGTH = 250;
const DATA_TYPES = new Set(['Text', 'Number', 'MultiSelectOne', 'MultiSelectMany', 'Date', 'Country', 'USState']);
const CONSENT_VALUES = new Set(['yes', 'no', 'unchanged']);
// Pragmatic syntax check: one @, no spaces, a dotted domain ("example+1@example" fails, as in the
// vendor's own sample answer).
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

class VendorError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hexId(): string {
  return randomBytes(16).toString('hex');
}

function emptyCounters(): SimulatorCounters {
  return { requests: 0, byRoute: {}, unauthorized: 0, tooManyRequests: 0, serverErrors: 0, connectionResets: 0, imports: 0, importedSubscribers: 0, customFieldsCreated: 0 };
}

function bareKey(key: string): string {
  return key.trim().replace(/^\[/, '').replace(/\]$/, '').toLowerCase();
}

function systemDate(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new VendorError(413, 413, 'Request entity too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new VendorError(400, 400, 'Failed to deserialize your request. Please check the documentation and try again.');
  }
}

function apiKeyOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization ?? '';
  const match = /^Basic\s+(.+)$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
  return user || undefined;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export async function startCampaignMonitorSimulator(options: CampaignMonitorSimulatorOptions = {}): Promise<CampaignMonitorSimulator> {
  const apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
  const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  const retryAfterHeader = options.retryAfterHeader ?? true;
  const autoCreateLists = options.autoCreateLists ?? true;
  const maxPerImport = options.maxSubscribersPerImport ?? 1000;

  const state: SimulatorState = {
    clients: [{ ClientID: hexId(), Name: 'Simulated client' }],
    lists: new Map(),
    counters: emptyCounters(),
  };
  let faults: Faults = {};
  let random = seededRandom(1);
  let faultedCalls = 0;
  const buckets = new Map<string, Bucket>();
  const sockets = new Set<Socket>();

  function setFaults(next: Faults): void {
    faults = { ...next };
    random = seededRandom(next.seed ?? 1);
    faultedCalls = 0;
  }
  setFaults(options.faults ?? {});

  // ---- rate limiting -------------------------------------------------------------------------

  function bucketFor(key: string, now: number): Bucket | undefined {
    if (!rateLimit) return undefined;
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = { tokens: rateLimit.burst, updatedAt: now };
      buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(rateLimit.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * rateLimit.requestsPerSecond);
    bucket.updatedAt = now;
    return bucket;
  }

  function rateHeaders(bucket: Bucket | undefined): Record<string, string> {
    if (!rateLimit || !bucket) return {};
    const untilFull = (rateLimit.burst - bucket.tokens) / rateLimit.requestsPerSecond;
    return {
      'X-RateLimit-Limit': String(rateLimit.burst),
      'X-RateLimit-Remaining': String(Math.max(0, Math.floor(bucket.tokens))),
      // Seconds, as the vendor documents; whole seconds round up so a client never comes back early.
      'X-RateLimit-Reset': String(Math.ceil(Math.max(0, untilFull))),
    };
  }

  // ---- lists ---------------------------------------------------------------------------------

  function newList(listId: string, clientId: string, title: string, settings: Partial<SimulatedList> = {}): SimulatedList {
    const list: SimulatedList = {
      ListID: listId,
      ClientID: clientId,
      Title: title,
      ConfirmedOptIn: settings.ConfirmedOptIn ?? false,
      UnsubscribePage: settings.UnsubscribePage ?? '',
      ConfirmationSuccessPage: settings.ConfirmationSuccessPage ?? '',
      UnsubscribeSetting: settings.UnsubscribeSetting ?? 'AllClientLists',
      customFields: new Map(),
      subscribers: new Map(),
      deliveries: new Map(),
      ignoredCustomFieldKeys: new Map(),
      overlongValues: 0,
    };
    state.lists.set(listId, list);
    return list;
  }

  function listFor(listId: string): SimulatedList {
    const list = state.lists.get(listId);
    if (list) return list;
    if (autoCreateLists) return newList(listId, state.clients[0]!.ClientID, listId);
    throw new VendorError(400, 101, 'Invalid ListID');
  }

  function inspectList(listId: string): ListInspection | undefined {
    const list = state.lists.get(listId);
    if (!list) return undefined;
    let deliveries = 0;
    const duplicateEmails: string[] = [];
    for (const [email, count] of list.deliveries) {
      deliveries += count;
      if (count > 1) duplicateEmails.push(email);
    }
    return {
      listId,
      title: list.Title,
      memberCount: list.subscribers.size,
      deliveries,
      duplicates: duplicateEmails.length,
      duplicateEmails: duplicateEmails.slice(0, 100),
      customFields: [...list.customFields.values()],
      ignoredCustomFieldKeys: Object.fromEntries(list.ignoredCustomFieldKeys),
      overlongValues: list.overlongValues,
    };
  }

  // ---- vendor routes -------------------------------------------------------------------------

  function createList(clientId: string, body: unknown): [number, unknown] {
    if (!state.clients.some((client) => client.ClientID === clientId)) throw new VendorError(401, 102, 'Invalid ClientID');
    const input = (body ?? {}) as Record<string, unknown>;
    const title = typeof input.Title === 'string' ? input.Title.trim() : '';
    if (!title) throw new VendorError(400, 251, 'List Title Empty');
    for (const list of state.lists.values()) {
      if (list.ClientID === clientId && list.Title.toLowerCase() === title.toLowerCase()) throw new VendorError(400, 250, 'Duplicate list title');
    }
    const unsubscribeSetting = input.UnsubscribeSetting ?? 'AllClientLists';
    if (unsubscribeSetting !== 'AllClientLists' && unsubscribeSetting !== 'OnlyThisList') throw new VendorError(400, 261, 'Invalid List Unsubscribe Setting');
    const list = newList(hexId(), clientId, title, {
      ConfirmedOptIn: input.ConfirmedOptIn === true,
      UnsubscribePage: typeof input.UnsubscribePage === 'string' ? input.UnsubscribePage : '',
      ConfirmationSuccessPage: typeof input.ConfirmationSuccessPage === 'string' ? input.ConfirmationSuccessPage : '',
      UnsubscribeSetting: unsubscribeSetting,
    });
    return [201, list.ListID];
  }

  function listDetails(list: SimulatedList): Record<string, unknown> {
    return {
      ConfirmedOptIn: list.ConfirmedOptIn,
      Title: list.Title,
      UnsubscribePage: list.UnsubscribePage,
      ListID: list.ListID,
      ConfirmationSuccessPage: list.ConfirmationSuccessPage,
      UnsubscribeSetting: list.UnsubscribeSetting,
    };
  }

  function createCustomField(list: SimulatedList, body: unknown): [number, unknown] {
    const input = (body ?? {}) as Record<string, unknown>;
    const fieldName = typeof input.FieldName === 'string' ? input.FieldName.trim() : '';
    if (!fieldName) throw new VendorError(400, 254, 'Invalid Field Name');
    const dataType = typeof input.DataType === 'string' ? input.DataType : '';
    if (!DATA_TYPES.has(dataType)) throw new VendorError(400, 259, 'Data type is incorrect');
    const fieldOptions = Array.isArray(input.Options) ? input.Options.map(String) : [];
    const multi = dataType === 'MultiSelectOne' || dataType === 'MultiSelectMany';
    if (!multi && fieldOptions.length > 0) throw new VendorError(400, 256, 'Options defined for Text or Number Field');
    if (multi && fieldOptions.length === 0) throw new VendorError(400, 257, 'No options defined for Multi-Valued field');
    // The tag is the name without spaces ("new date field" → "[newdatefield]").
    const key = `[${fieldName.replace(/\s+/g, '')}]`;
    const id = bareKey(key);
    if (list.customFields.has(id)) throw new VendorError(400, 255, 'The Field Name already exists in this list');
    list.customFields.set(id, {
      FieldName: fieldName,
      Key: key,
      DataType: dataType,
      FieldOptions: fieldOptions,
      VisibleInPreferenceCenter: input.VisibleInPreferenceCenter !== false,
    });
    state.counters.customFieldsCreated += 1;
    return [201, key];
  }

  function importSubscribers(list: SimulatedList, body: unknown): [number, unknown] {
    const input = (body ?? {}) as Record<string, unknown>;
    const submitted = Array.isArray(input.Subscribers) ? (input.Subscribers as unknown[]) : [];
    if (submitted.length === 0) throw new VendorError(400, 212, 'No subscribers were provided in this batch');
    if (submitted.length > maxPerImport) {
      throw new VendorError(400, 209, `Too many subscribers in this batch. You can only add ${maxPerImport} subscribers in one call`);
    }
    state.counters.imports += 1;
    const now = systemDate();
    // Keys repeat across the batch: resolve each once.
    const definitions = new Map<string, CustomField | undefined>();
    const definitionOf = (key: string): CustomField | undefined => {
      if (!definitions.has(key)) definitions.set(key, list.customFields.get(bareKey(key)));
      return definitions.get(key);
    };
    const seen = new Map<string, number>();
    const failures: { EmailAddress: string; Code: number; Message: string }[] = [];
    const existedBefore = new Set<string>();
    const accepted = new Set<string>();
    for (const raw of submitted) {
      const entry = (raw ?? {}) as Record<string, unknown>;
      const emailAddress = typeof entry.EmailAddress === 'string' ? entry.EmailAddress.trim() : '';
      const email = emailAddress.toLowerCase();
      seen.set(email, (seen.get(email) ?? 0) + 1);
      if (!EMAIL_PATTERN.test(emailAddress)) {
        failures.push({ EmailAddress: emailAddress, Code: 1, Message: 'Invalid Email Address' });
        continue;
      }
      const consent = entry.ConsentToTrack === undefined ? 'Unchanged' : String(entry.ConsentToTrack);
      if (!CONSENT_VALUES.has(consent.toLowerCase())) {
        failures.push({ EmailAddress: emailAddress, Code: 215, Message: 'Please provide a valid consent to track value' });
        continue;
      }
      let subscriber = list.subscribers.get(email);
      if (subscriber && !accepted.has(email)) existedBefore.add(email);
      if (!subscriber) {
        subscriber = { EmailAddress: emailAddress, Name: '', CustomFields: Object.create(null) as Record<string, string>, State: 'Active', ConsentToTrack: 'Unchanged', Date: now };
        list.subscribers.set(email, subscriber);
      }
      // An upsert: name and sent fields are replaced, fields not sent are kept.
      if (typeof entry.Name === 'string') subscriber.Name = entry.Name;
      if (consent.toLowerCase() !== 'unchanged') subscriber.ConsentToTrack = consent[0]!.toUpperCase() + consent.slice(1).toLowerCase();
      for (const field of Array.isArray(entry.CustomFields) ? (entry.CustomFields as Record<string, unknown>[]) : []) {
        const key = typeof field?.Key === 'string' ? field.Key : '';
        const definition = definitionOf(key);
        if (!definition) {
          list.ignoredCustomFieldKeys.set(key, (list.ignoredCustomFieldKeys.get(key) ?? 0) + 1);
          continue;
        }
        if (field.Clear === true) {
          delete subscriber.CustomFields[definition.Key];
          continue;
        }
        let value = field.Value === undefined || field.Value === null ? '' : String(field.Value);
        if (value.length > MAX_VALUE_LENGTH) {
          list.overlongValues += 1;
          value = value.slice(0, MAX_VALUE_LENGTH);
        }
        subscriber.CustomFields[definition.Key] = value;
      }
      accepted.add(email);
      list.deliveries.set(email, (list.deliveries.get(email) ?? 0) + 1);
      state.counters.importedSubscribers += 1;
    }
    const duplicates = [...seen].filter(([email, count]) => email && count > 1).map(([email]) => email);
    const totals = {
      TotalUniqueEmailsSubmitted: seen.size,
      TotalExistingSubscribers: existedBefore.size,
      TotalNewSubscribers: [...accepted].filter((email) => !existedBefore.has(email)).length,
      DuplicateEmailsInSubmission: duplicates,
      FailureDetails: failures,
    };
    if (failures.length === 0) return [201, totals];
    return [400, { ResultData: totals, Code: 210, Message: 'Subscriber Import had some failures' }];
  }

  function route(method: string, path: string, body: unknown): { key: string; answer: () => [number, unknown] } | undefined {
    const base = '/api/v3.3';
    if (!path.startsWith(`${base}/`)) return undefined;
    const rest = path.slice(base.length);
    let match: RegExpExecArray | null;
    if (method === 'GET' && rest === '/systemdate.json') return { key: 'GET /systemdate.json', answer: () => [200, { SystemDate: systemDate() }] };
    if (method === 'GET' && rest === '/clients.json') return { key: 'GET /clients.json', answer: () => [200, state.clients] };
    if ((match = /^\/clients\/([^/]+)\/lists\.json$/.exec(rest)) && method === 'GET') {
      const clientId = decodeURIComponent(match[1]!);
      return {
        key: 'GET /clients/{clientId}/lists.json',
        answer: () => {
          if (!state.clients.some((client) => client.ClientID === clientId)) throw new VendorError(401, 102, 'Invalid ClientID');
          return [200, [...state.lists.values()].filter((list) => list.ClientID === clientId).map((list) => ({ ListID: list.ListID, Name: list.Title }))];
        },
      };
    }
    if ((match = /^\/subscribers\/([^/]+)\/import\.json$/.exec(rest)) && method === 'POST') {
      const listId = decodeURIComponent(match[1]!);
      return { key: 'POST /subscribers/{listId}/import.json', answer: () => importSubscribers(listFor(listId), body) };
    }
    if ((match = /^\/lists\/([^/]+)\/customfields\.json$/.exec(rest))) {
      const listId = decodeURIComponent(match[1]!);
      if (method === 'GET') return { key: 'GET /lists/{listId}/customfields.json', answer: () => [200, [...listFor(listId).customFields.values()]] };
      if (method === 'POST') return { key: 'POST /lists/{listId}/customfields.json', answer: () => createCustomField(listFor(listId), body) };
    }
    if ((match = /^\/lists\/([^/]+)\.json$/.exec(rest))) {
      const id = decodeURIComponent(match[1]!);
      if (method === 'GET') return { key: 'GET /lists/{listId}.json', answer: () => [200, listDetails(listFor(id))] };
      // The vendor creates a list under a client: POST /lists/{clientId}.json.
      if (method === 'POST') return { key: 'POST /lists/{clientId}.json', answer: () => createList(id, body) };
    }
    return undefined;
  }

  // ---- control endpoints ---------------------------------------------------------------------

  function control(method: string, path: string, body: unknown): [number, unknown] | undefined {
    if (method === 'POST' && path === '/_simulator/faults') {
      setFaults((body ?? {}) as Faults);
      return [200, { faults }];
    }
    if (method === 'GET' && path === '/_simulator/faults') return [200, { faults }];
    if (method === 'POST' && path === '/_simulator/reset') {
      reset();
      return [200, { reset: true }];
    }
    if (method === 'GET' && path === '/_simulator/state') {
      return [200, { counters: state.counters, clients: state.clients, lists: [...state.lists.keys()].map((id) => inspectList(id)) }];
    }
    const match = /^\/_simulator\/lists\/([^/]+)$/.exec(path);
    if (method === 'GET' && match) {
      const inspection = inspectList(decodeURIComponent(match[1]!));
      return inspection ? [200, inspection] : [404, { Code: 101, Message: 'Invalid ListID' }];
    }
    return undefined;
  }

  // ---- request handling ----------------------------------------------------------------------

  function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    response.end(text);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const path = new URL(request.url ?? '/', 'http://simulator').pathname;
    let body: unknown;
    try {
      body = parseJson(await readBody(request));
    } catch (error) {
      if (error instanceof VendorError) return answer(response, error.status, { Code: error.code, Message: error.message });
      throw error;
    }

    if (path.startsWith('/_simulator/')) {
      const controlled = control(method, path, body) ?? [404, { Code: 404, Message: 'Not Found' }];
      return answer(response, controlled[0], controlled[1]);
    }

    state.counters.requests += 1;
    // Faults come first, as an overloaded front end would answer before auth or routing.
    faultedCalls += 1;
    const delay = (faults.latencyMs ?? 0) + (faults.latencyJitterMs ? random() * faults.latencyJitterMs : 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (faults.connectionResetRate && random() < faults.connectionResetRate) {
      state.counters.connectionResets += 1;
      request.socket.destroy();
      return;
    }
    if (faults.serverErrorRate && random() < faults.serverErrorRate) {
      state.counters.serverErrors += 1;
      return answer(response, 500, { Code: 500, Message: "Sorry, we've run into a problem" });
    }
    const bursts = faults.tooManyRequestsBursts;
    if (bursts && bursts.every > 0 && bursts.length > 0 && (faultedCalls - 1) % (bursts.every + bursts.length) >= bursts.every) {
      state.counters.tooManyRequests += 1;
      const headers: Record<string, string> = rateLimit ? { 'X-RateLimit-Limit': String(rateLimit.burst), 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '1' } : {};
      if (retryAfterHeader) headers['Retry-After'] = '1';
      return answer(response, 429, { Code: 429, Message: 'Rate limit exceeded' }, headers);
    }

    const apiKey = apiKeyOf(request);
    if (!apiKey || (apiKeys && !apiKeys.has(apiKey))) {
      state.counters.unauthorized += 1;
      return answer(response, 401, { Code: 100, Message: 'Invalid API Key' });
    }

    const bucket = bucketFor(apiKey, Date.now());
    if (bucket && rateLimit && bucket.tokens < 1) {
      state.counters.tooManyRequests += 1;
      const headers = rateHeaders(bucket);
      headers['X-RateLimit-Remaining'] = '0';
      if (retryAfterHeader) headers['Retry-After'] = String(Math.max(1, Math.ceil((1 - bucket.tokens) / rateLimit.requestsPerSecond)));
      return answer(response, 429, { Code: 429, Message: 'Rate limit exceeded' }, headers);
    }
    if (bucket) bucket.tokens -= 1;
    const headers = rateHeaders(bucket);

    const matched = route(method, path, body);
    if (!matched) return answer(response, 404, { Code: 404, Message: 'Not Found' }, headers);
    state.counters.byRoute[matched.key] = (state.counters.byRoute[matched.key] ?? 0) + 1;
    try {
      const [status, result] = matched.answer();
      if (status >= 500) state.counters.serverErrors += 1;
      return answer(response, status, result, headers);
    } catch (error) {
      if (error instanceof VendorError) return answer(response, error.status, { Code: error.code, Message: error.message }, headers);
      state.counters.serverErrors += 1;
      return answer(response, 500, { Code: 500, Message: "Sorry, we've run into a problem" }, headers);
    }
  }

  function reset(): void {
    state.lists.clear();
    state.counters = emptyCounters();
    buckets.clear();
    setFaults({});
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) answer(response, 500, { Code: 500, Message: "Sorry, we've run into a problem" });
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const simulator: CampaignMonitorSimulator = {
    url: `http://127.0.0.1:${port}`,
    port,
    state,
    setFaults,
    inspectList,
    reset,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return simulator;
}
