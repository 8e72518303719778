// The one interface every destination adapter implements. An adapter is the only code that
// knows a vendor: the catalog, request validation, OpenAPI, the planner and the sender all read
// these declarations, so adding a destination is one adapter file plus its simulator.
import type { z } from 'zod';
import type { SettingName } from '../settings.js';

export type SegmentType = 'Profile' | 'Contact' | 'Account';
export type ExportKind = 'segment' | 'dataOut';

/** Why a record or a call failed, so users can tell causes apart. */
export type ErrorCategory = 'rateLimited' | 'auth' | 'invalidRecord' | 'vendorUnavailable' | 'network' | 'config';

/** A field the user maps a profile attribute onto (the seeds' "data matching"). */
export interface DataMatchingField {
  name: string;
  label: string;
  required: boolean;
  description?: string;
}

export interface DestinationLimits {
  /** Profiles one export may send; a connection may lower it. Runs over it are skipped. */
  maxMembersPerExport: number;
  /** Sustained request rate the vendor allows per account (token bucket refill). */
  requestsPerSecond: number;
  /** Burst the vendor tolerates (token bucket capacity). */
  burst: number;
  /** Simultaneous requests the vendor allows per account, if it caps them. */
  maxConcurrentRequests?: number;
}

/** One member after data matching: keys are data-matching field names; email is lower-cased. */
export interface MappedMember {
  email: string;
  fields: Record<string, string>;
}

/** A record the destination did not take; successes are only counted. */
export interface RecordFailure {
  email: string;
  status: 'failed' | 'skipped';
  category: ErrorCategory;
  code: string;
  message: string;
}

export interface BatchResult {
  succeeded: number;
  failures: RecordFailure[];
}

/** Everything an adapter call needs: resolved settings, secrets and export details. */
export interface DestinationCall<Settings = Record<string, unknown>, Secrets = Record<string, string>, Details = Record<string, unknown>> {
  settings: Settings;
  secrets: Secrets;
  details: Details;
  /** Origin that replaces the vendor's scheme and host (local simulators), or undefined. */
  apiOrigin: string | undefined;
  /** The segment the members of this call come from (set for sendBatch). */
  segment?: SegmentRef;
  signal?: AbortSignal;
}

export interface SegmentRef {
  id: string;
  name: string;
  type: SegmentType;
}

export interface PrepareRun {
  /** The export's segments (Iterable names a list after each). */
  segments: SegmentRef[];
  /** Display names of the export's segments. */
  segmentNames: string[];
  /** Data-matching fields the export maps, so the adapter can create missing custom fields. */
  mappedFields: string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds adapters of every settings shape; each parses its own
export interface DestinationAdapter<Settings = any, Secrets = any, Details = any> {
  type: string;
  displayName: string;
  /** Non-secret connection settings (region, account URL, …). */
  connectionSettings: z.ZodType<Settings>;
  /** Secret connection fields; stored only in Key Vault, never returned. */
  connectionSecrets: z.ZodType<Secrets>;
  /** Per-export destination details (list ID, address-book ID, …). */
  exportDetails: z.ZodType<Details>;
  dataMatching: DataMatchingField[];
  /**
   * True when the mapping's keys are the user's own column names (file destinations): only the
   * source attributes are checked, not the names against dataMatching.
   */
  freeColumnNames?: boolean;
  /** Members per vendor call (for import-file vendors: members per import file). */
  batchSize: number;
  /**
   * True when each segment goes to a list of its own (Iterable): a member in two segments is sent
   * once per list. False (default): all segments share the export's one list, and the engine sends
   * a member in several segments once.
   */
  listPerSegment?: boolean;
  limits: DestinationLimits;
  eligibleSegmentTypes: SegmentType[];
  /** Segment types one export accepts, when they depend on its details (LinkedIn's company option). */
  eligibleSegmentTypesFor?(details: Details): SegmentType[];
  /** Data-matching fields of one export, when they depend on its details (which field is required). */
  dataMatchingFor?(details: Details): DataMatchingField[];
  exportKinds: ExportKind[];
  /** Name of the setting that overrides the vendor origin locally (e.g. CAMPAIGN_MONITOR_API_URL). */
  apiUrlSetting?: SettingName;
  /** The vendor's cheapest authenticated call. */
  testConnection(call: DestinationCall<Settings, Secrets, Details>): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Once per run before any batch (create custom fields, find or create lists). Returns details to use. */
  prepareRun?(call: DestinationCall<Settings, Secrets, Details>, run: PrepareRun): Promise<Details>;
  /**
   * Sends one batch. Throws DestinationError when the whole call failed (retried by the engine if
   * retryable). May take minutes (asynchronous imports polled to the end): the engine keeps its
   * lease alive meanwhile, and passes `call.signal` to abort on cancel.
   */
  sendBatch(call: DestinationCall<Settings, Secrets, Details>, members: MappedMember[]): Promise<BatchResult>;
  /**
   * Takes members who left the export's segments off the destination list, the vendor's way
   * (unsubscribe, archive, remove from the address book, REMOVE action). Same contract as
   * sendBatch: throws DestinationError for a failed call, returns per-record failures otherwise
   * (`succeeded` counts members removed, or already absent). Absent: the destination cannot remove.
   */
  removeBatch?(call: DestinationCall<Settings, Secrets, Details>, members: MappedMember[]): Promise<BatchResult>;
  /** Members per removal call, when it differs from batchSize (vendors without a bulk form: 1). */
  removalBatchSize?: number;
  /**
   * Vendor calls one removeBatch makes, when more than one (dotdigital: a contact lookup by email,
   * then the delete). Plans count them, and the sender takes that many tokens of the rate per removal call.
   */
  removalCallsPerBatch?: number;
  /** Import-file vendors: what one batch (an import job) costs besides one token of the rate, for plans. */
  importJob?: ImportJobCost;
}

/** The calls and time of one import job, as the adapter makes them (see shared/plans/predictRun.ts). */
export interface ImportJobCost {
  /** Calls per job besides its uploads and status polls (creating or running it, reading its report). */
  fixedCalls: number;
  /** Members per upload request inside a job (Google Ads: 10,000 operations); absent: one upload per job. */
  membersPerRequest?: number;
  /** The adapter's status polling: first wait, growth factor, longest wait. */
  polling: { firstDelayMs: number; factor: number; maxDelayMs: number };
  /** How long the vendor takes over one job. No vendor documents it: an assumption the plan says it makes. */
  typicalSeconds: number;
}

/** What a segment export to this destination may ask for in `delivery`. */
export interface DestinationCapabilities {
  /** `delivery.mode: 'changes'`: only joined or changed members are sent (engine-side diff). */
  changes: boolean;
  /** `delivery.removals: true`: members who left are removed (needs removeBatch). */
  removals: boolean;
}

export function capabilitiesOf(destination: DestinationAdapter): DestinationCapabilities {
  const segments = destination.exportKinds.includes('segment');
  return { changes: segments, removals: segments && typeof destination.removeBatch === 'function' };
}
