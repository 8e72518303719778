// LinkedIn Matched Audiences adapter: each segment streams into a DMP segment of the ad account —
// contacts as a USER list (`POST /rest/dmpSegments/{id}/users`, SHA-256 hashed emails plus names),
// or, with the company option, Account segments as a COMPANY list (`…/{id}/companies`).
//
// Confirmed from sources:
// - Microsoft Learn, LinkedIn Marketing API "DMP Segments" (create-and-manage-segments): DMP segments
//   are tied to a sponsored account; every request needs `X-Restli-Protocol-Version: 2.0.0`;
//   permission `rw_dmp_segments` (Audiences program; managing audiences needs an ad-account role
//   other than VIEWER); create body {name, account: urn:li:sponsoredAccount:{id}, type, sourcePlatform,
//   destinations: [{destination: LINKEDIN}], accessPolicy, description}; the finder
//   `GET /rest/dmpSegments?q=account&account={urn}` pages with start/count ("matched audiences FAQ"
//   shows the same finder and that segment status sits in the destinations object).
// - "DMP Segment Users" / "DMP Segment Companies": sub-resources for adding users and companies;
//   wait 5 seconds after creating a segment before adding to it; per-member (per-user) 1-minute
//   limits on the streaming APIs, 429 when exceeded: /users 500 requests/min in older versions of the
//   page and 600 in current ones, /companies 200 and 300; daily app quotas come on top.
// - Segment's action-destinations `linkedin-audiences` (api.ts, updateAudience/functions.ts,
//   updateCompanyAudience/{functions,constants,types,fields}.ts, versioning-info.ts): base
//   https://api.linkedin.com/rest; `Authorization: Bearer`, `LinkedIn-Version: YYYYMM` (202604 in
//   production), `X-RestLi-Method: BATCH_CREATE` on the users/companies posts; segment lookup by
//   q=account&account&sourceSegmentId&sourcePlatform; create with type USER or COMPANY; the new id
//   comes in the `x-restli-id` header; a batch answers 200 {elements: [{status, id?, error?: {message,
//   status}}]} — one result per element, in order, with per-element failures inside a 200; 404 until a
//   new segment is available, 409 when two creates race; company elements carry
//   companyWebsiteDomain (lower-cased) and organizationUrn (urn:li:organization:{id}); "LinkedIn
//   accepts up to 5000 per request" (company batch-size field). User elements: {action, userIds:
//   [{idType: SHA256_EMAIL, idValue: hex}], firstName, lastName, title, company, country}.
// - Removal: the same BATCH_CREATE posts with `action: 'REMOVE'` per element (the element action is
//   ADD or REMOVE: Segment's linkedin-audiences maps "Audience Exited" to REMOVE on the same call;
//   rudderlabs/rudder-transformer src/cdk/v2/destinations/linkedin_audience maps a record's delete
//   to REMOVE in the same element shape), 5,000 per call like adds, under the same per-minute
//   limits. A user element carries only its userIds (the hashed email is what LinkedIn matched);
//   a company element carries the identifying fields it was added with, which is how the matcher
//   knows it — so removing companies needs the member's mapped fields, not just its key.
// - Field rules as transcribed from the LinkedIn schema by HCL Unica Link ("Data Normalization") and
//   Treasure Data's LinkedIn export docs: SHA-256 email as a hex string of 64 characters; firstName
//   and lastName at most 35 characters, title and company at most 50, country an ISO 3166 two-letter
//   code; company lists match on company name, website domain, email domain, organization URN.
//   Email is lower-cased before hashing (Adobe's LinkedIn destination takes email_lc_sha256; Segment
//   hashes the address as mapped) and trimmed (our rule: a stray space would change the hash).
// - companyPageUrl: at most 100 characters (LinkedIn's company schema); longer values are left out.
// - sourcePlatform: an enum LinkedIn assigns each partner when it grants access, so a required
//   connection setting with no default; the connection test sends it with the finder.
// - Audience size: at least 300 matched members before a list can serve a campaign (Microsoft Learn
//   "Contact Based Targeting"; Tealium's connector guide); LinkedIn recommends 10,000+ contacts.
// - 401 body {"serviceErrorCode":65600,"message":"Invalid access token","status":401} (as quoted in
//   public issues of LinkedIn client libraries).
//
// Not confirmed (decisions below say how the adapter copes): the batch cap for /users (5,000 is
// confirmed only for companies, by Segment's integration; used for both); whether 429 carries
// Retry-After (we wait RATE_LIMIT_FALLBACK_WAIT_MS when it does not); the sourcePlatform value (LinkedIn
// assigns each approved partner an enum: a connection setting); whether company elements also take
// location or industry fields (not sent); the body of whole-request 400s; any cap on the size of a
// streamed DMP segment (none declared by LinkedIn: see maxMembersPerExport).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type {
  BatchResult,
  DataMatchingField,
  DestinationAdapter,
  DestinationCall,
  MappedMember,
  RecordFailure,
  SegmentRef,
  SegmentType,
} from './destination.js';
import { DestinationError } from './destinationError.js';
import { callVendor, withApiOrigin, type VendorResponse } from './vendorHttp.js';
import { ineligibleSegmentMessage } from '../exports/eligibility.js';

const API_BASE = 'https://api.linkedin.com/rest';
/** The version Segment's production integration pins; a connection setting can move it. */
export const LINKEDIN_DEFAULT_VERSION = '202604';
export const LINKEDIN_PROTOCOL_VERSION = '2.0.0';
export const LINKEDIN_BATCH_LIMIT = 5000;
/** Matched members a DMP segment needs before campaigns can target it. */
export const MINIMUM_AUDIENCE_SIZE = 300;
/** The company schema caps companyPageUrl at 100 characters (LinkedIn Marketing API, DMP Segment Companies). */
export const COMPANY_PAGE_URL_MAX = 100;
/** 429 without Retry-After: the limits are per minute, so a few seconds is the least that helps. */
export const RATE_LIMIT_FALLBACK_WAIT_MS = 10_000;
/** A new segment answers 404 for a while (LinkedIn says 5 s; integrators see up to 2 minutes). */
export const SEGMENT_AVAILABILITY_WINDOW_MS = 2 * 60_000;
const SEGMENT_AVAILABILITY_RETRY_MS = 5_000;
const MAX_FINDER_PAGES = 50;
const PREPARE_ATTEMPTS = 6;
const FINDER_PAGE_SIZE = 100;

export const USER_FIELD_LIMITS = { firstName: 35, lastName: 35, title: 50, company: 50 } as const;

export type AudienceType = 'contacts' | 'companies';
export type DmpSegmentType = 'USER' | 'COMPANY';
const DMP_TYPE: Record<AudienceType, DmpSegmentType> = { contacts: 'USER', companies: 'COMPANY' };

/** Segment types each audience type takes: people lists from people segments, company lists from accounts. */
export const SEGMENT_TYPES_FOR: Record<AudienceType, SegmentType[]> = { contacts: ['Profile', 'Contact'], companies: ['Account'] };

const audienceType = z.enum(['contacts', 'companies']);

const settingsSchema = z.object({
  adAccountId: z
    .string()
    .trim()
    .regex(/^(urn:li:sponsoredAccount:)?\d+$/, 'the numeric ad account ID (or its urn:li:sponsoredAccount URN)')
    .describe('Ad account ID (Campaign Manager). The DMP segments are created in this account.'),
  apiVersion: z
    .string()
    .trim()
    .regex(/^\d{6}$/, 'a LinkedIn-Version of the form YYYYMM')
    .optional()
    .describe(`LinkedIn-Version header (YYYYMM). Default ${LINKEDIN_DEFAULT_VERSION}; LinkedIn sunsets each version after about a year.`),
  // An enum value LinkedIn assigns each partner when it grants Audiences access (Microsoft Learn,
  // DMP Segments: sourcePlatform); no value works for everyone, so there is no default.
  sourcePlatform: z
    .string({ error: 'sourcePlatform is required: the value LinkedIn assigned your application when it granted Audiences access' })
    .trim()
    .min(1, 'sourcePlatform is required: the value LinkedIn assigned your application when it granted Audiences access')
    .describe(
      'Required. The sourcePlatform value LinkedIn assigned your application when it granted Audiences access. Used to create and find segments.',
    ),
});
const secretsSchema = z.object({
  accessToken: z
    .string()
    .trim()
    .min(1)
    .describe('OAuth 2.0 access token with the rw_dmp_segments permission, of a member with a role other than VIEWER on the ad account.'),
});
const dmpSegmentRef = z.object({ id: z.string(), createdAt: z.string().optional() });
const detailsSchema = z.object({
  audienceType: audienceType
    .optional()
    .describe(
      'contacts (default): a user list matched on hashed email and names, from Profile or Contact segments. companies: the company option — Account segments as a company list.',
    ),
  dmpSegments: z
    .record(z.string(), dmpSegmentRef)
    .optional()
    .describe('Filled in when a run starts: the DMP segment of each exported segment. Leave empty.'),
  warnings: z
    .array(z.string())
    .optional()
    .describe('Filled in when a run starts: audiences too small for LinkedIn targeting. Leave empty.'),
});

export type LinkedinSettings = z.infer<typeof settingsSchema>;
export type LinkedinSecrets = z.infer<typeof secretsSchema>;
export type LinkedinDetails = z.infer<typeof detailsSchema>;
type Call = DestinationCall<LinkedinSettings, LinkedinSecrets, LinkedinDetails>;

// ---- data matching ---------------------------------------------------------------------------

const contactFields: DataMatchingField[] = [
  {
    name: 'email',
    label: 'Email address',
    required: true,
    description: 'Contacts: trimmed, lower-cased and sent as its SHA-256 hash (SHA256_EMAIL).',
  },
  {
    name: 'firstName',
    label: 'First name',
    required: false,
    description: 'Contacts: firstName, at most 35 characters (longer values are cut).',
  },
  { name: 'lastName', label: 'Last name', required: false, description: 'Contacts: lastName, at most 35 characters.' },
  { name: 'title', label: 'Job title', required: false, description: 'Contacts: title, at most 50 characters.' },
  { name: 'company', label: 'Employer', required: false, description: "Contacts: the person's company name, at most 50 characters." },
  {
    name: 'country',
    label: 'Country',
    required: false,
    description: 'Contacts: ISO 3166 two-letter code; English country names are converted, others left out.',
  },
];
const companyFields: DataMatchingField[] = [
  { name: 'companyName', label: 'Company name', required: true, description: 'Companies: companyName.' },
  {
    name: 'companyWebsiteDomain',
    label: 'Website domain',
    required: false,
    description: 'Companies: companyWebsiteDomain; a URL is reduced to its lower-cased host without www.',
  },
  {
    name: 'companyEmailDomain',
    label: 'Email domain',
    required: false,
    description: 'Companies: companyEmailDomain; an email address is reduced to its domain.',
  },
  {
    name: 'organizationUrn',
    label: 'LinkedIn company ID',
    required: false,
    description: 'Companies: organizationUrn; a numeric ID becomes urn:li:organization:{id}.',
  },
  {
    name: 'companyPageUrl',
    label: 'LinkedIn page URL',
    required: false,
    description: 'Companies: companyPageUrl (https://www.linkedin.com/company/…).',
  },
];

export const CONTACT_FIELD_NAMES = contactFields.map((field) => field.name);
export const COMPANY_FIELD_NAMES = companyFields.map((field) => field.name);
const REQUIRED_FIELD: Record<AudienceType, string> = { contacts: 'email', companies: 'companyName' };

/** The data-matching fields of one audience type, with its required field marked. */
export function linkedinDataMatchingFor(details: Pick<LinkedinDetails, 'audienceType'>): DataMatchingField[] {
  return audienceTypeOf(details) === 'companies' ? companyFields : contactFields;
}

/** Segment types an export with these details accepts. */
export function linkedinSegmentTypesFor(details: Pick<LinkedinDetails, 'audienceType'>): SegmentType[] {
  return SEGMENT_TYPES_FOR[audienceTypeOf(details)];
}

// The engine reads one list for every export, so no field is required there: which one is
// required depends on the audience type, which prepareRun checks.
const dataMatching: DataMatchingField[] = [...contactFields, ...companyFields].map((field) => ({
  ...field,
  required: false,
  description: field.required ? `${field.description} Required for this audience type.` : field.description,
}));

export function audienceTypeOf(details: Pick<LinkedinDetails, 'audienceType'> | undefined): AudienceType {
  return details?.audienceType ?? 'contacts';
}

// ---- converters ------------------------------------------------------------------------------

export interface LinkedinUserId {
  idType: 'SHA256_EMAIL';
  idValue: string;
}

export type ElementAction = 'ADD' | 'REMOVE';

export interface LinkedinUserElement {
  action: ElementAction;
  userIds: LinkedinUserId[];
  firstName?: string;
  lastName?: string;
  title?: string;
  company?: string;
  country?: string;
}

export interface LinkedinCompanyElement {
  action: ElementAction;
  companyName: string;
  companyWebsiteDomain?: string;
  companyEmailDomain?: string;
  organizationUrn?: string;
  companyPageUrl?: string;
}

/** Hex SHA-256 of the trimmed, lower-cased email. */
export function sha256Email(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
}

/** Cuts to `limit` UTF-16 units without splitting a surrogate pair. */
export function cut(value: string, limit: number): string {
  if (value.length <= limit) return value;
  let result = '';
  for (const point of value) {
    if (result.length + point.length > limit) break;
    result += point;
  }
  return result;
}

let countryCodes: Map<string, string> | undefined;
// Groupings, pseudo-regions and withdrawn codes ICU still names (UK, DD, YU, …).
const NOT_COUNTRIES = new Set([
  'EU',
  'EZ',
  'UN',
  'QO',
  'XA',
  'XB',
  'ZZ',
  'UK',
  'AN',
  'BU',
  'CS',
  'DD',
  'DY',
  'FX',
  'HV',
  'NH',
  'RH',
  'SU',
  'TP',
  'VD',
  'YD',
  'YU',
  'ZR',
]);
/** English country names (and two-letter codes) → ISO 3166-1 alpha-2, from the runtime's ICU data. */
export function toCountryCode(value: string): string | undefined {
  const trimmed = value.trim();
  // UK is reserved, not assigned: the United Kingdom's code is GB.
  if (/^[A-Za-z]{2}$/.test(trimmed)) return trimmed.toUpperCase() === 'UK' ? 'GB' : trimmed.toUpperCase();
  if (!countryCodes) {
    countryCodes = new Map();
    const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
    for (let first = 65; first <= 90; first++) {
      for (let second = 65; second <= 90; second++) {
        const code = String.fromCharCode(first, second);
        const name = names.of(code)?.toLowerCase();
        if (name && name !== code.toLowerCase() && !NOT_COUNTRIES.has(code) && !countryCodes.has(name)) countryCodes.set(name, code);
      }
    }
  }
  return countryCodes.get(trimmed.toLowerCase());
}

/** A host name from a domain, URL or email address: lower-cased, no scheme, path, port or leading www. */
export function toDomain(value: string): string | undefined {
  let host = value.trim().toLowerCase();
  if (host.includes('@')) host = host.slice(host.lastIndexOf('@') + 1);
  host = host
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
    .replace(/[/?#].*$/, '')
    .replace(/:\d+$/, '')
    .replace(/\.$/, '')
    .replace(/^www\./, '');
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(host) ? host : undefined;
}

/** A LinkedIn organization URN from a numeric ID or a URN in any case. */
export function toOrganizationUrn(value: string): string | undefined {
  const id = value.trim().replace(/^urn:li:organization:/i, '');
  return /^\d+$/.test(id) ? `urn:li:organization:${id}` : undefined;
}

/** One contact → one element of the users batch. Empty values are left out. */
export function toUserElement(member: MappedMember): LinkedinUserElement {
  const fields = member.fields;
  const element: LinkedinUserElement = { action: 'ADD', userIds: [{ idType: 'SHA256_EMAIL', idValue: sha256Email(member.email) }] };
  for (const name of ['firstName', 'lastName', 'title', 'company'] as const) {
    const value = fields[name]?.trim();
    if (value) element[name] = cut(value, USER_FIELD_LIMITS[name]);
  }
  const country = fields.country ? toCountryCode(fields.country) : undefined;
  if (country) element.country = country;
  return element;
}

/** One contact leaving → a REMOVE element naming it by its hashed email only. */
export function toUserRemoval(member: MappedMember): LinkedinUserElement {
  return { action: 'REMOVE', userIds: [{ idType: 'SHA256_EMAIL', idValue: sha256Email(member.email) }] };
}

/** One account → one element of the companies batch, or undefined without a company name. */
export function toCompanyElement(member: MappedMember, action: ElementAction = 'ADD'): LinkedinCompanyElement | undefined {
  const fields = member.fields;
  const companyName = fields.companyName?.trim();
  if (!companyName) return undefined;
  const element: LinkedinCompanyElement = { action, companyName };
  const website = fields.companyWebsiteDomain ? toDomain(fields.companyWebsiteDomain) : undefined;
  if (website) element.companyWebsiteDomain = website;
  const emailDomain = fields.companyEmailDomain ? toDomain(fields.companyEmailDomain) : undefined;
  if (emailDomain) element.companyEmailDomain = emailDomain;
  const urn = fields.organizationUrn ? toOrganizationUrn(fields.organizationUrn) : undefined;
  if (urn) element.organizationUrn = urn;
  const page = fields.companyPageUrl?.trim();
  // Longer than the schema allows: left out, so the company is still matched on its other fields.
  if (page && /^https?:\/\//i.test(page) && page.length <= COMPANY_PAGE_URL_MAX) element.companyPageUrl = page;
  return element;
}

const batchAnswer = z.object({
  elements: z.array(
    z.object({
      status: z.number().int(),
      id: z.unknown().optional(),
      message: z.string().optional(),
      error: z
        .object({
          message: z.string().optional(),
          status: z.number().optional(),
          code: z.string().optional(),
          serviceErrorCode: z.number().optional(),
        })
        .passthrough()
        .nullish(),
    }),
  ),
});

/**
 * The batch answer → counts and per-record failures. `identities` are the members' record keys, in
 * the order of the elements sent: LinkedIn answers one result per element, in order.
 */
export function fromBatchResult(body: unknown, identities: string[]): BatchResult {
  const parsed = batchAnswer.safeParse(body);
  if (!parsed.success) throw new DestinationError('vendorUnavailable', 'LinkedIn answered the batch with an unexpected body');
  const results = parsed.data.elements;
  if (results.length !== identities.length) {
    throw new DestinationError('vendorUnavailable', `LinkedIn answered ${results.length} results for ${identities.length} elements`);
  }
  let succeeded = 0;
  const failures: RecordFailure[] = [];
  results.forEach((result, index) => {
    if (result.status >= 200 && result.status < 300) {
      succeeded += 1;
      return;
    }
    const transient = result.status === 429 || result.status >= 500;
    failures.push({
      email: identities[index]!,
      status: 'failed',
      category: transient ? 'vendorUnavailable' : 'invalidRecord',
      code: result.error?.code ?? String(result.status),
      message: result.error?.message ?? result.message ?? `LinkedIn refused the element (status ${result.status})`,
    });
  });
  return { succeeded, failures };
}

/** The audience-size warning, or undefined when the audience is large enough. */
export function audienceSizeWarning(segmentName: string, count: number, source: 'segment' | 'linkedin'): string | undefined {
  if (count >= MINIMUM_AUDIENCE_SIZE) return undefined;
  const what =
    source === 'segment'
      ? `The segment '${segmentName}' has ${count} members`
      : `LinkedIn has matched ${count} members of '${segmentName}' so far`;
  return `${what}; LinkedIn needs at least ${MINIMUM_AUDIENCE_SIZE} matched members before campaigns can target the audience.`;
}

// ---- HTTP ------------------------------------------------------------------------------------

function accountUrn(settings: LinkedinSettings): string {
  return `urn:li:sponsoredAccount:${settings.adAccountId.replace(/^urn:li:sponsoredAccount:/, '')}`;
}

function headersFor(call: Call, extra: Record<string, string> = {}): Record<string, string> {
  return {
    authorization: `Bearer ${call.secrets.accessToken}`,
    'linkedin-version': call.settings.apiVersion ?? LINKEDIN_DEFAULT_VERSION,
    'x-restli-protocol-version': LINKEDIN_PROTOCOL_VERSION,
    ...extra,
  };
}

async function send(
  call: Call,
  method: string,
  path: string,
  options: { json?: unknown; headers?: Record<string, string> } = {},
): Promise<VendorResponse> {
  try {
    return await callVendor({
      method,
      url: withApiOrigin(`${API_BASE}${path}`, call.apiOrigin),
      headers: headersFor(call, options.headers),
      json: options.json,
      signal: call.signal,
    });
  } catch (error) {
    // The streaming limits are per minute; without a Retry-After a 1-second retry would only burn calls.
    if (error instanceof DestinationError && error.category === 'rateLimited' && error.options.retryAfterMs === undefined) {
      throw new DestinationError('rateLimited', error.message, { ...error.options, retryAfterMs: RATE_LIMIT_FALLBACK_WAIT_MS });
    }
    throw error;
  }
}

function vendorMessage(body: unknown): { message?: string; code?: string } {
  if (!body || typeof body !== 'object') return typeof body === 'string' && body ? { message: body.slice(0, 200) } : {};
  const record = body as Record<string, unknown>;
  return {
    message: typeof record.message === 'string' ? record.message : undefined,
    code:
      typeof record.code === 'string'
        ? record.code
        : typeof record.serviceErrorCode === 'number'
          ? String(record.serviceErrorCode)
          : undefined,
  };
}

function vendorDetail(response: VendorResponse): string {
  const { message, code } = vendorMessage(response.body);
  return message ? `${message}${code ? ` (${code})` : ''}` : `HTTP ${response.status}`;
}

// Request-level mistakes (headers, versions, methods): retrying or splitting cannot fix them.
const REQUEST_LEVEL = /version|protocol|header|method|restli/i;

// ---- DMP segments ----------------------------------------------------------------------------

const dmpSegment = z
  .object({
    id: z.union([z.number(), z.string()]),
    name: z.string().optional(),
    type: z.string().optional(),
    sourceSegmentId: z.string().nullish(),
    matchedCount: z.number().nullish(),
    audienceSize: z.number().nullish(),
    destinations: z.array(z.object({ audienceSize: z.number().nullish(), matchedCount: z.number().nullish() }).passthrough()).nullish(),
  })
  .passthrough();
type DmpSegment = z.infer<typeof dmpSegment>;
const finderAnswer = z.object({
  elements: z.array(dmpSegment),
  paging: z.object({ total: z.number().optional() }).passthrough().optional(),
});

function sourcePlatformOf(call: Call): string {
  const value = call.settings.sourcePlatform?.trim();
  // Connections saved before the setting was required have none: say what to fix.
  if (!value)
    throw new DestinationError(
      'config',
      "The LinkedIn connection has no sourcePlatform: set it to the value LinkedIn assigned your application (the connection's settings).",
      { code: 'MissingSourcePlatform' },
    );
  return value;
}

/** The segment this export keeps for a lake segment: same source id (and platform), in this ad account. */
async function findDmpSegment(call: Call, sourceSegmentId: string): Promise<DmpSegment | undefined> {
  for (let page = 0; page < MAX_FINDER_PAGES; page++) {
    const query = new URLSearchParams({
      q: 'account',
      account: accountUrn(call.settings),
      sourceSegmentId,
      sourcePlatform: sourcePlatformOf(call),
      start: String(page * FINDER_PAGE_SIZE),
      count: String(FINDER_PAGE_SIZE),
    });
    const response = await send(call, 'GET', `/dmpSegments?${query.toString()}`);
    if (response.status !== 200)
      throw new DestinationError('config', `Finding the DMP segment was refused: ${vendorDetail(response)}`, { status: response.status });
    const parsed = finderAnswer.safeParse(response.body);
    if (!parsed.success)
      throw new DestinationError('vendorUnavailable', 'LinkedIn answered the DMP segment finder with an unexpected body');
    // Filtered here too, in case the finder ignores a parameter.
    const found = parsed.data.elements.find((segment) => segment.sourceSegmentId === sourceSegmentId);
    if (found) return found;
    if (parsed.data.elements.length < FINDER_PAGE_SIZE) return undefined;
  }
  return undefined;
}

async function createDmpSegment(call: Call, segment: SegmentRef, type: DmpSegmentType): Promise<{ id: string } | 'conflict'> {
  const response = await send(call, 'POST', '/dmpSegments', {
    json: {
      name: segment.name,
      description: `Outflow export of segment '${segment.name}'.`,
      account: accountUrn(call.settings),
      type,
      sourcePlatform: sourcePlatformOf(call),
      sourceSegmentId: segment.id,
      accessPolicy: 'PRIVATE',
      destinations: [{ destination: 'LINKEDIN' }],
    },
  });
  if (response.status === 409) return 'conflict';
  if (response.status !== 201 && response.status !== 200)
    throw new DestinationError('config', `Creating the DMP segment '${segment.name}' was refused: ${vendorDetail(response)}`, {
      status: response.status,
    });
  const location = response.headers.get('location');
  const body = response.body as { id?: unknown } | undefined;
  const id =
    response.headers.get('x-restli-id') ??
    response.headers.get('x-linkedin-id') ??
    (location ? location.split('/').pop() : undefined) ??
    (body?.id !== undefined ? String(body.id) : undefined);
  if (!id) throw new DestinationError('vendorUnavailable', `LinkedIn created the DMP segment '${segment.name}' without telling its id`);
  return { id: decodeURIComponent(id) };
}

function matchedSoFar(segment: DmpSegment): number | undefined {
  const fromDestination = segment.destinations?.find((destination) => typeof destination.audienceSize === 'number')?.audienceSize;
  return fromDestination ?? segment.audienceSize ?? segment.matchedCount ?? undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Retries transient failures of the setup calls: the engine retries batches itself, but a failed
 * prepareRun costs a whole planning attempt. A create that timed out but happened comes back as 409.
 */
async function retrying<T>(work: () => Promise<T>, attempts = PREPARE_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof DestinationError) || !error.retryable || attempt >= attempts) throw error;
      await sleep(Math.min(10_000, error.options.retryAfterMs ?? 250 * 2 ** attempt));
    }
  }
}

/** Finds the DMP segment of a lake segment, or creates it; never two for one lake segment. */
async function ensureDmpSegment(
  call: Call,
  segment: SegmentRef,
  type: DmpSegmentType,
): Promise<{ id: string; createdAt?: string; existing?: DmpSegment }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await retrying(() => findDmpSegment(call, segment.id));
    if (existing) {
      if (existing.type && existing.type !== type) {
        throw new DestinationError(
          'config',
          `The DMP segment ${existing.id} made for '${segment.name}' is a ${existing.type} list; this export needs a ${type} list. Delete that DMP segment in Campaign Manager or change the audience type.`,
        );
      }
      return { id: String(existing.id), existing };
    }
    const createdAt = new Date().toISOString();
    const created = await retrying(() => createDmpSegment(call, segment, type));
    // 409: another run created it between our lookup and our create — look it up again.
    if (created !== 'conflict') return { id: created.id, createdAt };
  }
  throw new DestinationError(
    'vendorUnavailable',
    `LinkedIn kept refusing to create the DMP segment '${segment.name}' as a duplicate but did not list it`,
  );
}

/** A lake segment as the planner may describe it (member counts when it passes them). */
type PreparedSegment = SegmentRef & { memberCount?: number };

function checkMapping(kind: AudienceType, mappedFields: string[]): void {
  const required = REQUIRED_FIELD[kind];
  if (!mappedFields.includes(required)) {
    const label = kind === 'contacts' ? 'email (Email address)' : 'companyName (Company name)';
    throw new DestinationError(
      'config',
      `A LinkedIn ${kind === 'contacts' ? 'contact' : 'company'} list needs ${label} mapped to a profile attribute.`,
    );
  }
  const own = kind === 'contacts' ? CONTACT_FIELD_NAMES : COMPANY_FIELD_NAMES;
  const foreign = mappedFields.filter((field) => !own.includes(field));
  if (foreign.length > 0) {
    throw new DestinationError(
      'config',
      `${foreign.join(', ')} ${foreign.length === 1 ? 'belongs' : 'belong'} to ${kind === 'contacts' ? 'company' : 'contact'} lists; a ${kind === 'contacts' ? 'contact' : 'company'} list takes: ${own.join(', ')}.`,
    );
  }
}

function dmpSegmentFor(call: Call): { id: string; createdAt?: string } {
  const segmentId = call.segment?.id;
  const prepared = call.details.dmpSegments ?? {};
  const found = segmentId ? prepared[segmentId] : Object.keys(prepared).length === 1 ? Object.values(prepared)[0] : undefined;
  if (!found)
    throw new DestinationError(
      'config',
      `No DMP segment was prepared for segment '${call.segment?.name ?? segmentId ?? '?'}'; run the export again.`,
    );
  return found;
}

/** Any answer the adapter does not read as a batch result: a whole-call failure. */
function batchFailed(response: VendorResponse, dmp: { id: string; createdAt?: string }, now = Date.now()): DestinationError {
  const detail = vendorDetail(response);
  const { code } = vendorMessage(response.body);
  const options = { status: response.status, code };
  if (response.status === 404) {
    const recent = dmp.createdAt !== undefined && now - Date.parse(dmp.createdAt) < SEGMENT_AVAILABILITY_WINDOW_MS;
    if (recent)
      return new DestinationError('vendorUnavailable', `The new DMP segment ${dmp.id} is not available yet (${detail})`, {
        ...options,
        retryAfterMs: SEGMENT_AVAILABILITY_RETRY_MS,
      });
    return new DestinationError(
      'config',
      `The DMP segment ${dmp.id} no longer exists in the ad account (${detail}); the next run creates it again.`,
      options,
    );
  }
  if (response.status === 409)
    return new DestinationError('vendorUnavailable', `LinkedIn reported a conflict on DMP segment ${dmp.id} (${detail})`, {
      ...options,
      retryAfterMs: SEGMENT_AVAILABILITY_RETRY_MS,
    });
  if ((response.status === 400 || response.status === 422) && !REQUEST_LEVEL.test(`${code ?? ''} ${detail}`)) {
    return new DestinationError('invalidRecord', `LinkedIn refused the batch: ${detail}`, options);
  }
  return new DestinationError('config', `LinkedIn refused the batch: ${detail}`, options);
}

/** One BATCH_CREATE of ADD or REMOVE elements into the segment's DMP segment. */
async function streamElements(call: Call, members: MappedMember[], action: ElementAction): Promise<BatchResult> {
  if (members.length === 0) return { succeeded: 0, failures: [] };
  if (members.length > LINKEDIN_BATCH_LIMIT) {
    throw new DestinationError(
      'config',
      `A batch holds ${members.length} members; LinkedIn takes at most ${LINKEDIN_BATCH_LIMIT} per call.`,
    );
  }
  const kind = audienceTypeOf(call.details);
  const dmp = dmpSegmentFor(call);
  const skipped: RecordFailure[] = [];
  const identities: string[] = [];
  const elements: (LinkedinUserElement | LinkedinCompanyElement)[] = [];
  for (const member of members) {
    const element =
      kind === 'contacts' ? (action === 'ADD' ? toUserElement(member) : toUserRemoval(member)) : toCompanyElement(member, action);
    if (!element) {
      skipped.push({
        email: member.email,
        status: 'skipped',
        category: 'invalidRecord',
        code: 'missingCompanyName',
        message: 'The account has no company name, which a LinkedIn company list needs.',
      });
      continue;
    }
    identities.push(member.email);
    elements.push(element);
  }
  if (elements.length === 0) return { succeeded: 0, failures: skipped };
  const path = `/dmpSegments/${encodeURIComponent(dmp.id)}/${kind === 'contacts' ? 'users' : 'companies'}`;
  const response = await send(call, 'POST', path, { json: { elements }, headers: { 'x-restli-method': 'BATCH_CREATE' } });
  if (response.status !== 200 && response.status !== 201) throw batchFailed(response, dmp);
  const result = fromBatchResult(response.body, identities);
  return { succeeded: result.succeeded, failures: [...result.failures, ...skipped] };
}

export const linkedin: DestinationAdapter<LinkedinSettings, LinkedinSecrets, LinkedinDetails> = {
  type: 'linkedin',
  displayName: 'LinkedIn',
  connectionSettings: settingsSchema,
  connectionSecrets: secretsSchema,
  exportDetails: detailsSchema,
  dataMatching,
  batchSize: LINKEDIN_BATCH_LIMIT,
  removalBatchSize: LINKEDIN_BATCH_LIMIT,
  listPerSegment: true,
  limits: {
    // LinkedIn documents no cap on a streamed DMP segment (300,000 is its advice for CSV list
    // uploads, not streaming); this is a sanity bound, not a vendor limit.
    maxMembersPerExport: 10_000_000,
    // Per member and per minute: /companies 200 (older pages) or 300, /users 500 or 600. A bucket of
    // 3/s with burst 10 sends at most 190 calls in any minute, under the strictest of them, and still
    // moves 1M contacts (200 calls of 5,000) in about 70 s.
    requestsPerSecond: 3,
    burst: 10,
    // Bodies of 5,000 elements are large (~1 MB); a few in flight keep the rate without piling up.
    maxConcurrentRequests: 4,
  },
  eligibleSegmentTypes: ['Profile', 'Contact', 'Account'],
  eligibleSegmentTypesFor: linkedinSegmentTypesFor,
  dataMatchingFor: linkedinDataMatchingFor,
  exportKinds: ['segment'],
  apiUrlSetting: 'LINKEDIN_API_URL',

  async testConnection(call) {
    try {
      // The DMP finder checks the token, the rw_dmp_segments permission and the ad account in one
      // call, which is all an export needs (GET /adAccounts/{id} would need rw_ads as well).
      // With sourcePlatform, as every run's segment lookup sends it: a value LinkedIn does not
      // recognise for this application fails here, not at the first run.
      const query = new URLSearchParams({
        q: 'account',
        account: accountUrn(call.settings),
        sourcePlatform: sourcePlatformOf(call),
        start: '0',
        count: '1',
      });
      const response = await send(call, 'GET', `/dmpSegments?${query.toString()}`);
      if (response.status === 200) return { ok: true };
      return {
        ok: false,
        reason: `LinkedIn refused to list the DMP segments of ad account ${call.settings.adAccountId}: ${vendorDetail(response)}`,
      };
    } catch (error) {
      if (error instanceof DestinationError) return { ok: false, reason: error.message };
      throw error;
    }
  },

  async prepareRun(call, run) {
    const kind = audienceTypeOf(call.details);
    const accepted = SEGMENT_TYPES_FOR[kind];
    // The company option turns the one check the engine makes per destination into one per export.
    for (const segment of run.segments) {
      if (!accepted.includes(segment.type)) throw new DestinationError('config', ineligibleSegmentMessage(segment.name));
    }
    checkMapping(kind, run.mappedFields);
    const dmpSegments: Record<string, { id: string; createdAt?: string }> = {};
    const warnings: string[] = [];
    for (const segment of run.segments as PreparedSegment[]) {
      const ensured = await ensureDmpSegment(call, segment, DMP_TYPE[kind]);
      dmpSegments[segment.id] = ensured.createdAt ? { id: ensured.id, createdAt: ensured.createdAt } : { id: ensured.id };
      const lakeWarning =
        typeof segment.memberCount === 'number' ? audienceSizeWarning(segment.name, segment.memberCount, 'segment') : undefined;
      const matched = ensured.existing ? matchedSoFar(ensured.existing) : undefined;
      const warning = lakeWarning ?? (matched !== undefined ? audienceSizeWarning(segment.name, matched, 'linkedin') : undefined);
      if (warning) warnings.push(warning);
    }
    const prepared: LinkedinDetails = { ...call.details, audienceType: kind, dmpSegments };
    if (warnings.length > 0) prepared.warnings = warnings;
    else delete prepared.warnings;
    return prepared;
  },

  async sendBatch(call, members) {
    return streamElements(call, members, 'ADD');
  },

  // call.segment names the segment the members left: each segment has its own DMP segment.
  async removeBatch(call, members) {
    return streamElements(call, members, 'REMOVE');
  },
};
