// A local Mailchimp (Marketing API 3.0) for development, tests and benchmarks. It speaks the
// vendor's paths under /3.0, Basic auth with the API key as password, problem-JSON errors, the
// batch subscribe call with its 500-member cap and per-member errors, the merge-field endpoints,
// and the limit that matters most: at most 10 requests in flight per user (the 11th is answered
// 429 TooManyRequests). Faults come from a seeded PRNG so a failing test replays exactly. Sources:
// the header of shared/destinations/mailchimp.ts.
//
// Any data center in the key maps to this one origin (the app replaces the vendor's host); with
// `dataCenter` set, keys of another data center are refused as the vendor refuses a wrong host.
// Where the vendor's behaviour is not documented the simulator picks the reading that lets tests
// catch adapter mistakes, and says so: merge tags the audience does not define are rejected per
// member; the duplicate-tag and merge-field-cap answers are 400 Invalid Resource; one API key is one
// user; a member sent twice in one call is rejected the second time unless skip_duplicate_check.
// The same batch call unsubscribes (`status: 'unsubscribed'`, the adapter's removal): an existing
// contact changes status, a new one is created unsubscribed, as the upsert does for any status.
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  countRoute,
  deliverySummary,
  emptyRequestCounters,
  FaultInjector,
  faultAndResetControl,
  readJsonBody,
  startSimulatorServer,
  TokenBuckets,
  type Faults as KitFaults,
  type RateLimit,
  type RequestCounters,
} from './simulatorKit.js';

// Here an injected 429 burst reads as over the connection cap, and injected latency holds the
// call's connection meanwhile.
export type { RateLimit };

export interface Faults extends KitFaults {
  /**
   * Every `every`-th batch subscribe call is answered `status` (403 or 429) with no body at all:
   * "At exceptionally high volumes, you may receive an HTTP 429 or 403 without a JSON body"
   * (Mailchimp developer docs, rate-limits-and-timeouts). Nothing of such a call is processed.
   */
  bodilessThrottle?: { every: number; status: 403 | 429 };
}

export interface MailchimpSimulatorOptions {
  /** 0 or absent: a free port. Always 127.0.0.1. */
  port?: number;
  /** Accepted API keys; absent: any key with a data-center suffix is accepted (local demos). */
  apiKeys?: string[];
  /** When set, keys whose suffix names another data center are refused (401). */
  dataCenter?: string;
  /** Requests in flight per user (API key); the vendor's is 10. */
  maxConnections?: number;
  /** Optional token bucket per API key (the vendor publishes none). Default false. */
  rateLimit?: RateLimit | false;
  faults?: Faults;
  /**
   * Demo option: any audience ID used is created on first use. Default false: an unknown audience
   * answers 404 Resource Not Found, as the vendor does. `npm start` turns it on.
   */
  autoCreateLists?: boolean;
  /** Audiences that exist from the start (IDs). */
  lists?: string[];
  /** Double opt-in setting of auto-created audiences. Default false. */
  doubleOptIn?: boolean;
  /** Cap of members per batch subscribe (the vendor's is 500). */
  maxMembersPerBatch?: number;
  /** Merge fields an audience may hold. Absent: no cap (plan dependent, none published; 30 is only reported, vendorFacts.ts). */
  maxMergeFields?: number;
  /** Addresses answered "looks fake or invalid" (lower-cased comparison). */
  fakeEmails?: string[];
}

export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional';
const STATUSES = new Set<MemberStatus>(['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional']);
const MERGE_TYPES = new Set(['text', 'number', 'address', 'phone', 'date', 'url', 'imageurl', 'radio', 'dropdown', 'birthday', 'zip']);

export interface MergeField {
  merge_id: number;
  tag: string;
  name: string;
  type: string;
  required: boolean;
  public: boolean;
  default_value: string;
  display_order: number;
  list_id: string;
}

export interface SimulatedMember {
  email_address: string;
  status: MemberStatus;
  /** By tag (a plain object: audiences hold millions). */
  merge_fields: Record<string, string>;
  last_changed: string;
}

export interface SimulatedList {
  id: string;
  name: string;
  double_optin: boolean;
  /** By upper-cased tag. */
  mergeFields: Map<string, MergeField>;
  nextMergeId: number;
  /** By lower-cased email. */
  members: Map<string, SimulatedMember>;
  /** Times each lower-cased email was accepted by a batch subscribe. */
  deliveries: Map<string, number>;
}

/** `tooManyRequests` counts every 429 (injected bursts, rate limit and connection cap). */
export interface SimulatorCounters extends RequestCounters {
  /** 429s because the caller had the maximum number of requests in flight. */
  concurrencyRejections: number;
  /** Batch calls answered 403 or 429 without a body (the high-volume throttle). */
  bodilessThrottles: number;
  batches: number;
  membersReceived: number;
  memberErrors: number;
  /** Contacts a batch moved to unsubscribed (or created so). */
  unsubscribed: number;
  mergeFieldsCreated: number;
  /** Most requests of one user in flight at once that were admitted. */
  maxInFlight: number;
}

export interface SimulatorState {
  lists: Map<string, SimulatedList>;
  counters: SimulatorCounters;
  /** Lower-cased addresses answered "looks fake or invalid"; tests may add to it. */
  fakeEmails: Set<string>;
}

export interface ListInspection {
  listId: string;
  name: string;
  memberCount: number;
  /** Accepted deliveries in total, and how many emails were delivered more than once. */
  deliveries: number;
  duplicates: number;
  duplicateEmails: string[];
  mergeFields: { tag: string; name: string; type: string }[];
  /** Members per status. */
  statuses: Record<string, number>;
}

export interface MailchimpSimulator {
  /** Origin for MAILCHIMP_API_URL, e.g. http://127.0.0.1:4013. */
  url: string;
  port: number;
  state: SimulatorState;
  setFaults(faults: Faults): void;
  inspectList(listId: string): ListInspection | undefined;
  /** Puts a contact in an audience as if it were there before (e.g. one who unsubscribed). */
  seedMember(listId: string, member: { email: string; status: MemberStatus; mergeFields?: Record<string, string> }): void;
  /** Empties audiences and counters, clears faults and refills buckets; keeps keys and options. */
  reset(): void;
  stop(): Promise<void>;
}

export const MAX_CONNECTIONS = VENDOR_FACTS.mailchimp.simultaneousConnections.value;
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const TEXT_LIMIT_BYTES = 255;
const ERRORS_TYPE = 'https://mailchimp.com/developer/marketing/docs/errors/';
const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
// Reserved test domains: the vendor refuses obviously fake addresses.
const FAKE_DOMAINS = /@(example\.(com|org|net)|[^@]+\.(test|invalid|example))$/i;
const DEFAULT_MERGE_FIELDS: { tag: string; name: string; type: string }[] = [
  { tag: 'FNAME', name: 'First Name', type: 'text' },
  { tag: 'LNAME', name: 'Last Name', type: 'text' },
  { tag: 'ADDRESS', name: 'Address', type: 'address' },
  { tag: 'PHONE', name: 'Phone Number', type: 'phone' },
  { tag: 'BIRTHDAY', name: 'Birthday', type: 'birthday' },
];

class VendorError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: { field: string; message: string }[],
  ) {
    super(detail);
  }
}

const invalidResource = (detail: string, errors?: { field: string; message: string }[]) =>
  new VendorError(400, 'Invalid Resource', detail, errors);

function emptyCounters(): SimulatorCounters {
  return {
    ...emptyRequestCounters(),
    concurrencyRejections: 0,
    bodilessThrottles: 0,
    batches: 0,
    membersReceived: 0,
    memberErrors: 0,
    unsubscribed: 0,
    mergeFieldsCreated: 0,
    maxInFlight: 0,
  };
}

function subscriberHash(email: string): string {
  return createHash('md5').update(email.toLowerCase()).digest('hex');
}

/** The vendor truncates text values to 255 bytes; never split a UTF-8 sequence. */
function truncateBytes(value: string, limit = TEXT_LIMIT_BYTES): string {
  if (Buffer.byteLength(value) <= limit) return value;
  let result = '';
  let bytes = 0;
  for (const point of value) {
    const size = Buffer.byteLength(point);
    if (bytes + size > limit) break;
    result += point;
    bytes += size;
  }
  return result;
}

const bodyLimits = {
  maxBytes: MAX_BODY_BYTES,
  tooLarge: () => new VendorError(413, 'Request Entity Too Large', 'The request body is too large.'),
  malformed: () => new VendorError(400, 'JSON Parse Exception', 'We encountered an unspecified JSON parsing error.'),
};

/** Basic auth: any user name, the key as password. Bearer is accepted the same way. */
function apiKeyOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1]!.trim() || undefined;
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const password = decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : '';
  return password || undefined;
}

function dataCenterOf(key: string): string | undefined {
  const parts = key.split('-');
  return parts.length === 2 && /^[a-z]{2,}\d+$/i.test(parts[1]!) ? parts[1]!.toLowerCase() : undefined;
}

export async function startMailchimpSimulator(options: MailchimpSimulatorOptions = {}): Promise<MailchimpSimulator> {
  const apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
  const maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  const rateLimit = options.rateLimit ?? false;
  const autoCreateLists = options.autoCreateLists ?? false;
  const maxPerBatch = options.maxMembersPerBatch ?? VENDOR_FACTS.mailchimp.membersPerBatchCall.value;
  const maxMergeFields = options.maxMergeFields ?? Number.POSITIVE_INFINITY;

  const state: SimulatorState = {
    lists: new Map(),
    counters: emptyCounters(),
    fakeEmails: new Set((options.fakeEmails ?? []).map((email) => email.toLowerCase())),
  };
  const injector = new FaultInjector(options.faults ?? {});
  /** Batch subscribe calls since faults were last set (the bodiless throttle counts them). */
  let batchCalls = 0;
  const setFaults = (next: Faults) => {
    batchCalls = 0;
    injector.set(next);
  };
  const buckets = rateLimit ? new TokenBuckets(rateLimit) : undefined;
  const inFlight = new Map<string, number>();

  // ---- audiences -----------------------------------------------------------------------------

  function newList(listId: string): SimulatedList {
    const list: SimulatedList = {
      id: listId,
      name: listId,
      double_optin: options.doubleOptIn ?? false,
      mergeFields: new Map(),
      nextMergeId: 1,
      members: new Map(),
      deliveries: new Map(),
    };
    for (const field of DEFAULT_MERGE_FIELDS) addMergeField(list, { ...field, required: false, public: true });
    state.lists.set(listId, list);
    return list;
  }

  for (const listId of options.lists ?? []) newList(listId);

  function listFor(listId: string): SimulatedList {
    const list = state.lists.get(listId);
    if (list) return list;
    if (autoCreateLists) return newList(listId);
    throw new VendorError(404, 'Resource Not Found', 'The requested resource could not be found.');
  }

  function addMergeField(
    list: SimulatedList,
    field: { tag: string; name: string; type: string; required: boolean; public: boolean },
  ): MergeField {
    const mergeId = list.nextMergeId++;
    const created: MergeField = {
      merge_id: mergeId,
      tag: field.tag,
      name: field.name,
      type: field.type,
      required: field.required,
      public: field.public,
      default_value: '',
      display_order: mergeId,
      list_id: list.id,
    };
    list.mergeFields.set(field.tag.toUpperCase(), created);
    return created;
  }

  function inspectList(listId: string): ListInspection | undefined {
    const list = state.lists.get(listId);
    if (!list) return undefined;
    const delivered = deliverySummary(list.deliveries);
    const statuses: Record<string, number> = {};
    for (const member of list.members.values()) statuses[member.status] = (statuses[member.status] ?? 0) + 1;
    return {
      listId,
      name: list.name,
      memberCount: list.members.size,
      deliveries: delivered.deliveries,
      duplicates: delivered.duplicates,
      duplicateEmails: delivered.duplicateKeys,
      mergeFields: [...list.mergeFields.values()].map((field) => ({ tag: field.tag, name: field.name, type: field.type })),
      statuses,
    };
  }

  function seedMember(listId: string, member: { email: string; status: MemberStatus; mergeFields?: Record<string, string> }): void {
    const list = listFor(listId);
    list.members.set(member.email.toLowerCase(), {
      email_address: member.email,
      status: member.status,
      merge_fields: { ...member.mergeFields },
      last_changed: new Date().toISOString(),
    });
  }

  // ---- vendor routes -------------------------------------------------------------------------

  function listView(list: SimulatedList): Record<string, unknown> {
    return {
      id: list.id,
      name: list.name,
      double_optin: list.double_optin,
      stats: { member_count: list.members.size, merge_field_count: list.mergeFields.size },
    };
  }

  function listMergeFields(list: SimulatedList, query: URLSearchParams): [number, unknown] {
    // The vendor's collection defaults: 10 per page, at most 1,000.
    const count = Math.min(1000, Math.max(1, Number(query.get('count') ?? 10) || 10));
    const offset = Math.max(0, Number(query.get('offset') ?? 0) || 0);
    const all = [...list.mergeFields.values()];
    return [200, { merge_fields: all.slice(offset, offset + count), list_id: list.id, total_items: all.length }];
  }

  function createMergeField(list: SimulatedList, body: unknown): [number, unknown] {
    const input = (body ?? {}) as Record<string, unknown>;
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    const type = typeof input.type === 'string' ? input.type : '';
    const errors: { field: string; message: string }[] = [];
    if (!name) errors.push({ field: 'name', message: 'This value should not be blank.' });
    if (!MERGE_TYPES.has(type)) errors.push({ field: 'type', message: 'Value is not one of the allowed values.' });
    if (errors.length > 0)
      throw invalidResource("The resource submitted could not be validated. For field-specific details, see the 'errors' array.", errors);
    const tag = typeof input.tag === 'string' && input.tag.trim() ? input.tag.trim().toUpperCase() : `MMERGE${list.nextMergeId}`;
    if (tag.length > 10 || !/^[A-Z0-9_]+$/.test(tag)) {
      throw invalidResource('Merge tags may hold at most 10 characters: letters, digits and underscores.', [
        { field: 'tag', message: 'Invalid merge tag.' },
      ]);
    }
    if (list.mergeFields.has(tag)) throw invalidResource(`A Merge Field with the tag "${tag}" already exists for this list.`);
    if (list.mergeFields.size >= maxMergeFields)
      throw invalidResource(`This audience already has the maximum of ${maxMergeFields} audience fields.`);
    const created = addMergeField(list, { tag, name, type, required: input.required === true, public: input.public === true });
    state.counters.mergeFieldsCreated += 1;
    return [200, created];
  }

  interface MemberError {
    email_address: string;
    error: string;
    error_code: 'ERROR_CONTACT_EXISTS' | 'ERROR_GENERIC';
    field?: string;
    field_message?: string;
  }

  function memberView(list: SimulatedList, member: SimulatedMember): Record<string, unknown> {
    const id = subscriberHash(member.email_address);
    return {
      id,
      email_address: member.email_address,
      unique_email_id: id.slice(0, 10),
      status: member.status,
      merge_fields: member.merge_fields,
      last_changed: member.last_changed,
      list_id: list.id,
    };
  }

  function batchSubscribe(list: SimulatedList, body: unknown, query: URLSearchParams): [number, unknown] {
    const input = (body ?? {}) as Record<string, unknown>;
    if (!Array.isArray(input.members)) {
      throw invalidResource("The resource submitted could not be validated. For field-specific details, see the 'errors' array.", [
        { field: 'members', message: 'Required property is missing.' },
      ]);
    }
    const submitted = input.members as unknown[];
    if (submitted.length > maxPerBatch) {
      throw invalidResource("The resource submitted could not be validated. For field-specific details, see the 'errors' array.", [
        { field: 'members', message: `Schema describes array, maximum ${maxPerBatch} items.` },
      ]);
    }
    const updateExisting = input.update_existing === true;
    const skipMergeValidation = query.get('skip_merge_validation') === 'true';
    const skipDuplicateCheck = query.get('skip_duplicate_check') === 'true';
    state.counters.batches += 1;
    state.counters.membersReceived += submitted.length;
    const now = new Date().toISOString();
    const created: SimulatedMember[] = [];
    const updated: SimulatedMember[] = [];
    const errors: MemberError[] = [];
    const seen = new Set<string>();
    const fail = (email: string, error: string, extra: Partial<MemberError> = {}) =>
      errors.push({ email_address: email, error, error_code: 'ERROR_GENERIC', ...extra });

    for (const raw of submitted) {
      const entry = (raw ?? {}) as Record<string, unknown>;
      const emailAddress = typeof entry.email_address === 'string' ? entry.email_address.trim() : '';
      const email = emailAddress.toLowerCase();
      if (!EMAIL_PATTERN.test(emailAddress)) {
        fail(emailAddress, 'Please provide a valid email address.');
        continue;
      }
      if (FAKE_DOMAINS.test(email) || state.fakeEmails.has(email)) {
        fail(emailAddress, `${emailAddress} looks fake or invalid, please enter a real email address.`);
        continue;
      }
      if (seen.has(email) && !skipDuplicateCheck) {
        fail(emailAddress, `${emailAddress} appears more than once in this request.`);
        continue;
      }
      seen.add(email);
      const status = entry.status === undefined ? undefined : String(entry.status);
      const statusIfNew = entry.status_if_new === undefined ? undefined : String(entry.status_if_new);
      if (
        (status !== undefined && !STATUSES.has(status as MemberStatus)) ||
        (statusIfNew !== undefined && !STATUSES.has(statusIfNew as MemberStatus))
      ) {
        fail(emailAddress, 'Invalid status: choose subscribed, unsubscribed, cleaned, pending or transactional.', { field: 'status' });
        continue;
      }
      const mergeInput =
        entry.merge_fields && typeof entry.merge_fields === 'object' ? (entry.merge_fields as Record<string, unknown>) : {};
      const values: Record<string, string> = {};
      let mergeError: { field: string; message: string } | undefined;
      for (const [tag, value] of Object.entries(mergeInput)) {
        const field = list.mergeFields.get(tag.toUpperCase());
        if (!field) {
          mergeError = { field: tag, message: 'This merge field is not defined for the audience.' };
          break;
        }
        if (typeof value !== 'string' && typeof value !== 'number') {
          mergeError = { field: tag, message: 'Data did not match any of the schemas described in anyOf.' };
          break;
        }
        values[field.tag] = truncateBytes(String(value));
      }
      if (mergeError) {
        fail(emailAddress, 'Your merge fields were invalid.', { field: mergeError.field, field_message: mergeError.message });
        continue;
      }
      const existing = list.members.get(email);
      if (existing) {
        if (!updateExisting) {
          errors.push({
            email_address: emailAddress,
            error: `${emailAddress} is already a list member. Use PUT to insert or update list members.`,
            error_code: 'ERROR_CONTACT_EXISTS',
          });
          continue;
        }
        if (status === 'subscribed' && (existing.status === 'unsubscribed' || existing.status === 'cleaned')) {
          fail(
            emailAddress,
            `${emailAddress} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.`,
          );
          continue;
        }
        // status_if_new is for new contacts only; an existing one keeps its status unless `status` says otherwise.
        if (status === 'unsubscribed' && existing.status !== 'unsubscribed') state.counters.unsubscribed += 1;
        if (status !== undefined) existing.status = status as MemberStatus;
        Object.assign(existing.merge_fields, values);
        existing.last_changed = now;
        updated.push(existing);
      } else {
        const initial = status ?? statusIfNew;
        if (!initial) {
          fail(emailAddress, 'A status is required for new contacts: send status or status_if_new.', { field: 'status' });
          continue;
        }
        if (!skipMergeValidation) {
          const missing = [...list.mergeFields.values()].find((field) => field.required && !values[field.tag]);
          if (missing) {
            fail(emailAddress, 'Your merge fields were invalid.', { field: missing.tag, field_message: 'Please enter a value' });
            continue;
          }
        }
        const member: SimulatedMember = {
          email_address: emailAddress,
          status: initial as MemberStatus,
          merge_fields: values,
          last_changed: now,
        };
        if (initial === 'unsubscribed') state.counters.unsubscribed += 1;
        list.members.set(email, member);
        created.push(member);
      }
      list.deliveries.set(email, (list.deliveries.get(email) ?? 0) + 1);
    }
    state.counters.memberErrors += errors.length;
    return [
      200,
      {
        new_members: created.map((member) => memberView(list, member)),
        updated_members: updated.map((member) => memberView(list, member)),
        errors,
        total_created: created.length,
        total_updated: updated.length,
        error_count: errors.length,
        _links: [],
      },
    ];
  }

  function route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): { key: string; answer: () => [number, unknown] } | undefined {
    const base = '/3.0';
    if (!path.startsWith(`${base}/`)) return undefined;
    const rest = path.slice(base.length).replace(/\/$/, '');
    let match: RegExpExecArray | null;
    if (method === 'GET' && rest === '/ping') return { key: 'GET /ping', answer: () => [200, { health_status: "Everything's Chimpy!" }] };
    if ((match = /^\/lists\/([^/]+)\/merge-fields$/.exec(rest))) {
      const listId = decodeURIComponent(match[1]!);
      if (method === 'GET') return { key: 'GET /lists/{list_id}/merge-fields', answer: () => listMergeFields(listFor(listId), query) };
      if (method === 'POST') return { key: 'POST /lists/{list_id}/merge-fields', answer: () => createMergeField(listFor(listId), body) };
    }
    if ((match = /^\/lists\/([^/]+)$/.exec(rest))) {
      const listId = decodeURIComponent(match[1]!);
      if (method === 'GET') return { key: 'GET /lists/{list_id}', answer: () => [200, listView(listFor(listId))] };
      if (method === 'POST') return { key: 'POST /lists/{list_id}', answer: () => batchSubscribe(listFor(listId), body, query) };
    }
    return undefined;
  }

  // ---- control endpoints ---------------------------------------------------------------------

  function control(method: string, path: string, body: unknown): [number, unknown] | undefined {
    const common = faultAndResetControl(method, path, body, injector, reset);
    if (common) return common;
    if (method === 'GET' && path === '/_simulator/state') {
      return [200, { counters: state.counters, lists: [...state.lists.keys()].map((id) => inspectList(id)) }];
    }
    const match = /^\/_simulator\/lists\/([^/]+)$/.exec(path);
    if (method === 'GET' && match) {
      const inspection = inspectList(decodeURIComponent(match[1]!));
      return inspection ? [200, inspection] : [404, problem(404, 'Resource Not Found', 'The requested resource could not be found.')];
    }
    return undefined;
  }

  // ---- request handling ----------------------------------------------------------------------

  function problem(status: number, title: string, detail: string, errors?: { field: string; message: string }[]): Record<string, unknown> {
    return { type: ERRORS_TYPE, title, status, detail, instance: randomUUID(), ...(errors ? { errors } : {}) };
  }

  function answer(response: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    const contentType = status >= 400 ? 'application/problem+json; charset=utf-8' : 'application/json; charset=utf-8';
    response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    response.end(text);
  }

  const answerError = (response: ServerResponse, error: VendorError) =>
    answer(response, error.status, problem(error.status, error.title, error.detail, error.errors));

  const internalError = () =>
    problem(
      500,
      'Internal Server Error',
      'A deep, internal error has occurred during the processing of your request. Please contact support.',
    );

  const tooManyConnections = () =>
    problem(429, 'TooManyRequests', `You have exceeded the limit of ${maxConnections} simultaneous connections.`);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://simulator');
    const path = url.pathname;

    if (path.startsWith('/_simulator/')) {
      let body: unknown;
      try {
        body = await readJsonBody(request, bodyLimits);
      } catch (error) {
        if (error instanceof VendorError) return answerError(response, error);
        throw error;
      }
      const controlled = control(method, path, body) ?? [
        404,
        problem(404, 'Resource Not Found', 'The requested resource could not be found.'),
      ];
      return answer(response, controlled[0], controlled[1]);
    }

    state.counters.requests += 1;
    const apiKey = apiKeyOf(request);
    const dataCenter = apiKey ? dataCenterOf(apiKey) : undefined;
    if (
      !apiKey ||
      !dataCenter ||
      (apiKeys && !apiKeys.has(apiKey)) ||
      (options.dataCenter && dataCenter !== options.dataCenter.toLowerCase())
    ) {
      state.counters.unauthorized += 1;
      const detail =
        apiKey && dataCenter && options.dataCenter && dataCenter !== options.dataCenter.toLowerCase()
          ? "Invalid API key. You've attempted to access the wrong datacenter."
          : "Your request did not include an API key. Or your API key may be invalid, or you've attempted to access the wrong datacenter.";
      request.resume();
      return answer(response, 401, problem(401, 'API Key Invalid', detail));
    }

    // The connection cap: the request is refused at once and never counted as in flight.
    const current = inFlight.get(apiKey) ?? 0;
    if (current >= maxConnections) {
      state.counters.tooManyRequests += 1;
      state.counters.concurrencyRejections += 1;
      request.resume();
      return answer(response, 429, tooManyConnections());
    }
    inFlight.set(apiKey, current + 1);
    state.counters.maxInFlight = Math.max(state.counters.maxInFlight, current + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inFlight.set(apiKey, (inFlight.get(apiKey) ?? 1) - 1);
    };
    response.once('finish', release);
    response.once('close', release);

    let body: unknown;
    try {
      body = await readJsonBody(request, bodyLimits);
    } catch (error) {
      if (error instanceof VendorError) return answerError(response, error);
      throw error;
    }

    const fault = await injector.inject(request, state.counters);
    if (fault === 'connectionReset') return;
    if (fault === 'serverError') return answer(response, 500, internalError());
    if (fault === 'tooManyRequests') return answer(response, 429, tooManyConnections());
    const throttle = injector.faults.bodilessThrottle;
    if (
      throttle &&
      throttle.every > 0 &&
      method === 'POST' &&
      /^\/3\.0\/lists\/[^/]+\/?$/.test(path) &&
      ++batchCalls % throttle.every === 0
    ) {
      state.counters.bodilessThrottles += 1;
      if (throttle.status === 429) state.counters.tooManyRequests += 1;
      response.writeHead(throttle.status, { 'content-length': 0 });
      return void response.end();
    }
    if (buckets && !buckets.take(apiKey).taken) {
      state.counters.tooManyRequests += 1;
      return answer(response, 429, problem(429, 'TooManyRequests', 'You have exceeded the request rate allowed for this account.'));
    }

    const matched = route(method, path, url.searchParams, body);
    if (!matched) return answer(response, 404, problem(404, 'Resource Not Found', 'The requested resource could not be found.'));
    countRoute(state.counters, matched.key);
    try {
      const [status, result] = matched.answer();
      return answer(response, status, result);
    } catch (error) {
      if (error instanceof VendorError) return answerError(response, error);
      state.counters.serverErrors += 1;
      return answer(response, 500, internalError());
    }
  }

  function reset(): void {
    state.lists.clear();
    for (const listId of options.lists ?? []) newList(listId);
    batchCalls = 0;
    state.counters = emptyCounters();
    buckets?.clear();
    setFaults({});
  }

  const server = await startSimulatorServer({
    port: options.port,
    handle,
    answerInternalError: (response) => answer(response, 500, internalError()),
  });

  return { url: server.url, port: server.port, state, setFaults, inspectList, seedMember, reset, stop: server.stop };
}
