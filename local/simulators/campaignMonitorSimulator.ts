// A local Campaign Monitor (createsend API v3.3) for development, tests and benchmarks. It speaks
// the vendor's paths, auth, answer shapes and error codes for the calls Outflow makes (see the
// sources in shared/destinations/campaignMonitor.ts), keeps lists in memory, counts how often each
// email was delivered (to prove "none twice"), rate-limits with a token bucket and injects faults
// from a seeded PRNG so a failing test replays exactly.
//
// Where the vendor's behaviour is not documented the simulator picks the reading that lets tests
// catch adapter mistakes, and says so: values over 250 characters are stored cut and counted in
// `overlongValues`; unknown custom-field keys are dropped (as users report) and counted in
// `ignoredCustomFieldKeys`; an unknown list is 400 with Code 101. `POST /subscribers/{listId}/
// unsubscribe.json {EmailAddress}` takes one subscriber: an Active or Unconfirmed one becomes
// Unsubscribed (200, empty body); one already Unsubscribed or Bounced stays as they are (200);
// one not in the list or Deleted is 400 Code 203; a malformed address is 400 Code 1.
import { VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import { randomBytes } from 'node:crypto';
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
  type Faults as KitFaults,
  type RateLimit,
  type RequestCounters,
} from './simulatorKit.js';

export type { RateLimit };

/** The common faults, and one of this vendor's: every API key refused (as after a revocation). */
export interface Faults extends KitFaults {
  /** Every call is answered 401 "Invalid API Key" (fails runs on auth, e.g. to see a webhook alert). */
  revokeKeys?: boolean;
}

export interface CampaignMonitorSimulatorOptions {
  /** 0 or absent: a free port. Always 127.0.0.1. */
  port?: number;
  /** Accepted API keys; absent: any non-empty key is accepted (local demos). */
  apiKeys?: string[];
  /** Token bucket per API key; absent or `false`: no limit and no X-RateLimit headers (the vendor publishes no number). */
  rateLimit?: RateLimit | false;
  /** Also send Retry-After on 429. Default false: the vendor documents only X-RateLimit-Reset (vendorFacts.ts). */
  retryAfterHeader?: boolean;
  faults?: Faults;
  /**
   * Demo option: any list ID used is created on first use. Default false: an unknown list is
   * 400 with Code 101 "Invalid ListID", as the vendor does. The local stack turns it on.
   */
  autoCreateLists?: boolean;
  /** Cap of subscribers per import call (the vendor's is 1,000). */
  maxSubscribersPerImport?: number;
  /** Addresses on the client's suppression list: imports report them 204. */
  suppressedEmails?: string[];
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
  State: SubscriberState;
  ConsentToTrack: string;
  Date: string;
}

/** Subscriber states of the v3.3 API (campaignmonitor.com/api/v3-3/subscribers). */
export type SubscriberState = 'Active' | 'Unconfirmed' | 'Unsubscribed' | 'Bounced' | 'Deleted';

/**
 * Import failure codes for people the vendor does not re-add while `Resubscribe` is false
 * (campaignmonitor.com/api/v3-3/subscribers, "Importing many subscribers"): 204 in the
 * suppression list, 205 deleted, 206 unsubscribed, 207 bounced, 208 unconfirmed.
 */
const NOT_READDED: Record<Exclude<SubscriberState, 'Active'> | 'Suppressed', { Code: number; Message: string }> = {
  Suppressed: { Code: 204, Message: 'Subscriber is in the suppression list' },
  Deleted: { Code: 205, Message: 'Subscriber has been deleted' },
  Unsubscribed: { Code: 206, Message: 'Subscriber has unsubscribed' },
  Bounced: { Code: 207, Message: 'Subscriber has bounced' },
  Unconfirmed: { Code: 208, Message: 'Subscriber is unconfirmed' },
};

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

export interface SimulatorCounters extends RequestCounters {
  imports: number;
  importedSubscribers: number;
  /** Subscribers an unsubscribe call moved to Unsubscribed. */
  unsubscribed: number;
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
  /** Puts a subscriber in a list as if it were there before, in any state (one who unsubscribed, bounced, …). */
  seedSubscriber(listId: string, subscriber: { email: string; state: SubscriberState }): void;
  /** Empties lists and counters, clears faults and refills the buckets; keeps keys and options. */
  reset(): void;
  stop(): Promise<void>;
}

// No request rate is published (vendorFacts.ts marks the adapter's 2/s an assumption), so the
// simulator limits nothing unless given a bucket; tests give one below the adapter's guess. This
// stand-in is what the command line uses when asked for a rate. The import cap is documented.
export const STAND_IN_RATE_LIMIT: RateLimit = { requestsPerSecond: 2, burst: 4 };
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

function hexId(): string {
  return randomBytes(16).toString('hex');
}

function emptyCounters(): SimulatorCounters {
  return { ...emptyRequestCounters(), imports: 0, importedSubscribers: 0, unsubscribed: 0, customFieldsCreated: 0 };
}

function bareKey(key: string): string {
  return key.trim().replace(/^\[/, '').replace(/\]$/, '').toLowerCase();
}

function systemDate(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
}

const bodyLimits = {
  maxBytes: MAX_BODY_BYTES,
  tooLarge: () => new VendorError(413, 413, 'Request entity too large'),
  malformed: () => new VendorError(400, 400, 'Failed to deserialize your request. Please check the documentation and try again.'),
};

function apiKeyOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization ?? '';
  const match = /^Basic\s+(.+)$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
  return user || undefined;
}

export async function startCampaignMonitorSimulator(options: CampaignMonitorSimulatorOptions = {}): Promise<CampaignMonitorSimulator> {
  const apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
  const rateLimit = options.rateLimit || false;
  const retryAfterHeader = options.retryAfterHeader ?? false;
  const autoCreateLists = options.autoCreateLists ?? false;
  const maxPerImport = options.maxSubscribersPerImport ?? VENDOR_FACTS['campaign-monitor'].subscribersPerImport.value;

  const state: SimulatorState = {
    clients: [{ ClientID: hexId(), Name: 'Simulated client' }],
    lists: new Map(),
    counters: emptyCounters(),
  };
  const injector = new FaultInjector<Faults>(options.faults ?? {});
  const setFaults = (next: Faults) => injector.set(next);
  const buckets = rateLimit ? new TokenBuckets(rateLimit) : undefined;

  // ---- rate limiting -------------------------------------------------------------------------

  function rateHeaders(rate: RateLimit, tokens: number): Record<string, string> {
    const untilFull = (rate.burst - tokens) / rate.requestsPerSecond;
    return {
      'X-RateLimit-Limit': String(rate.burst),
      'X-RateLimit-Remaining': String(Math.max(0, Math.floor(tokens))),
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

  const suppressed = new Set((options.suppressedEmails ?? []).map((email) => email.toLowerCase()));

  function seedSubscriber(listId: string, subscriber: { email: string; state: SubscriberState }): void {
    const list = listFor(listId);
    list.subscribers.set(subscriber.email.toLowerCase(), {
      EmailAddress: subscriber.email,
      Name: '',
      CustomFields: Object.create(null) as Record<string, string>,
      State: subscriber.state,
      ConsentToTrack: 'Unchanged',
      Date: systemDate(),
    });
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
    const delivered = deliverySummary(list.deliveries);
    return {
      listId,
      title: list.Title,
      memberCount: list.subscribers.size,
      deliveries: delivered.deliveries,
      duplicates: delivered.duplicates,
      duplicateEmails: delivered.duplicateKeys,
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
      if (list.ClientID === clientId && list.Title.toLowerCase() === title.toLowerCase())
        throw new VendorError(400, 250, 'Duplicate list title');
    }
    const unsubscribeSetting = input.UnsubscribeSetting ?? 'AllClientLists';
    if (unsubscribeSetting !== 'AllClientLists' && unsubscribeSetting !== 'OnlyThisList')
      throw new VendorError(400, 261, 'Invalid List Unsubscribe Setting');
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
    const resubscribe = input.Resubscribe === true;
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
      // ConsentToTrack is required on every subscriber in v3.3 (campaignmonitor.com/api/v3-3/subscribers).
      if (entry.ConsentToTrack === undefined || entry.ConsentToTrack === null || entry.ConsentToTrack === '') {
        failures.push({ EmailAddress: emailAddress, Code: 214, Message: 'ConsentToTrack is required' });
        continue;
      }
      const consent = String(entry.ConsentToTrack);
      if (!CONSENT_VALUES.has(consent.toLowerCase())) {
        failures.push({ EmailAddress: emailAddress, Code: 215, Message: 'Please provide a valid consent to track value' });
        continue;
      }
      let subscriber = list.subscribers.get(email);
      const refusal =
        !resubscribe && !accepted.has(email)
          ? suppressed.has(email)
            ? NOT_READDED.Suppressed
            : subscriber && subscriber.State !== 'Active'
              ? NOT_READDED[subscriber.State]
              : undefined
          : undefined;
      if (refusal) {
        failures.push({ EmailAddress: emailAddress, ...refusal });
        continue;
      }
      if (subscriber && !accepted.has(email)) existedBefore.add(email);
      if (!subscriber) {
        subscriber = {
          EmailAddress: emailAddress,
          Name: '',
          CustomFields: Object.create(null) as Record<string, string>,
          State: 'Active',
          ConsentToTrack: 'Unchanged',
          Date: now,
        };
        list.subscribers.set(email, subscriber);
      }
      // Resubscribe: true brings people back to Active (and off the suppression list).
      subscriber.State = 'Active';
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

  function unsubscribe(list: SimulatedList, body: unknown): [number, unknown] {
    const input = (body ?? {}) as Record<string, unknown>;
    const emailAddress = typeof input.EmailAddress === 'string' ? input.EmailAddress.trim() : '';
    if (!EMAIL_PATTERN.test(emailAddress)) throw new VendorError(400, 1, 'Invalid Email Address');
    const subscriber = list.subscribers.get(emailAddress.toLowerCase());
    if (!subscriber || subscriber.State === 'Deleted')
      throw new VendorError(400, 203, 'Subscriber not in list or has already been removed.');
    if (subscriber.State === 'Active' || subscriber.State === 'Unconfirmed') {
      subscriber.State = 'Unsubscribed';
      state.counters.unsubscribed += 1;
    }
    return [200, ''];
  }

  function route(method: string, path: string, body: unknown): { key: string; answer: () => [number, unknown] } | undefined {
    const base = '/api/v3.3';
    if (!path.startsWith(`${base}/`)) return undefined;
    const rest = path.slice(base.length);
    let match: RegExpExecArray | null;
    if (method === 'GET' && rest === '/systemdate.json')
      return { key: 'GET /systemdate.json', answer: () => [200, { SystemDate: systemDate() }] };
    if (method === 'GET' && rest === '/clients.json') return { key: 'GET /clients.json', answer: () => [200, state.clients] };
    if ((match = /^\/clients\/([^/]+)\/lists\.json$/.exec(rest)) && method === 'GET') {
      const clientId = decodeURIComponent(match[1]!);
      return {
        key: 'GET /clients/{clientId}/lists.json',
        answer: () => {
          if (!state.clients.some((client) => client.ClientID === clientId)) throw new VendorError(401, 102, 'Invalid ClientID');
          return [
            200,
            [...state.lists.values()]
              .filter((list) => list.ClientID === clientId)
              .map((list) => ({ ListID: list.ListID, Name: list.Title })),
          ];
        },
      };
    }
    if ((match = /^\/subscribers\/([^/]+)\/import\.json$/.exec(rest)) && method === 'POST') {
      const listId = decodeURIComponent(match[1]!);
      return { key: 'POST /subscribers/{listId}/import.json', answer: () => importSubscribers(listFor(listId), body) };
    }
    if ((match = /^\/subscribers\/([^/]+)\/unsubscribe\.json$/.exec(rest)) && method === 'POST') {
      const listId = decodeURIComponent(match[1]!);
      return { key: 'POST /subscribers/{listId}/unsubscribe.json', answer: () => unsubscribe(listFor(listId), body) };
    }
    if ((match = /^\/lists\/([^/]+)\/customfields\.json$/.exec(rest))) {
      const listId = decodeURIComponent(match[1]!);
      if (method === 'GET')
        return { key: 'GET /lists/{listId}/customfields.json', answer: () => [200, [...listFor(listId).customFields.values()]] };
      if (method === 'POST')
        return { key: 'POST /lists/{listId}/customfields.json', answer: () => createCustomField(listFor(listId), body) };
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
    const common = faultAndResetControl(method, path, body, injector, reset);
    if (common) return common;
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
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    response.end(text);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const path = new URL(request.url ?? '/', 'http://simulator').pathname;
    let body: unknown;
    try {
      body = await readJsonBody(request, bodyLimits);
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
    const fault = await injector.inject(request, state.counters);
    if (fault === 'connectionReset') return;
    if (fault === 'serverError') return answer(response, 500, { Code: 500, Message: "Sorry, we've run into a problem" });
    if (fault === 'tooManyRequests') {
      // The vendor's 429 says when to come back in X-RateLimit-Reset (seconds), not in Retry-After.
      const headers: Record<string, string> = {
        ...(rateLimit ? { 'X-RateLimit-Limit': String(rateLimit.burst) } : {}),
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': '1',
      };
      if (retryAfterHeader) headers['Retry-After'] = '1';
      return answer(response, 429, { Code: 429, Message: 'Rate limit exceeded' }, headers);
    }

    const apiKey = apiKeyOf(request);
    if (!apiKey || (apiKeys && !apiKeys.has(apiKey)) || injector.faults.revokeKeys) {
      state.counters.unauthorized += 1;
      return answer(response, 401, { Code: 100, Message: 'Invalid API Key' });
    }

    let headers: Record<string, string> = {};
    if (buckets) {
      const take = buckets.take(apiKey);
      if (!take.taken) {
        state.counters.tooManyRequests += 1;
        const limited = rateHeaders(buckets.rate, take.tokens);
        limited['X-RateLimit-Remaining'] = '0';
        if (retryAfterHeader) limited['Retry-After'] = retryAfterSeconds(take.waitSeconds);
        return answer(response, 429, { Code: 429, Message: 'Rate limit exceeded' }, limited);
      }
      headers = rateHeaders(buckets.rate, take.tokens);
    }

    const matched = route(method, path, body);
    if (!matched) return answer(response, 404, { Code: 404, Message: 'Not Found' }, headers);
    countRoute(state.counters, matched.key);
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
    buckets?.clear();
    setFaults({});
  }

  const server = await startSimulatorServer({
    port: options.port,
    handle,
    answerInternalError: (response) => answer(response, 500, { Code: 500, Message: "Sorry, we've run into a problem" }),
  });

  const simulator: CampaignMonitorSimulator = {
    url: server.url,
    port: server.port,
    state,
    setFaults,
    inspectList,
    seedSubscriber,
    reset,
    stop: server.stop,
  };
  return simulator;
}
