import { z } from 'zod';
import type { SegmentType } from '../destinations/destination.js';

export const runId = z
  .string()
  .max(22)
  .regex(/^\d{13}-[0-9a-f]{8}$/, 'a run id looks like 8236019958123-1a2b3c4d');

export const RUN_STATUSES = ['queued', 'waiting', 'running', 'succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'];
export const TRIGGERS = ['manual', 'schedule', 'runAll', 'systemRefresh', 'retry'] as const;
export type RunTrigger = (typeof TRIGGERS)[number];

export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const runCounts = z.object({
  members: z.number(),
  sent: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  skipped: z.number(),
  /** Members taken off the destination list because they left the segments (delivery.removals); absent on runs stored before removals existed. */
  removed: z.number().optional(),
});
export type RunCounts = z.infer<typeof runCounts>;

export const ZERO_COUNTS: RunCounts = { members: 0, sent: 0, succeeded: 0, failed: 0, skipped: 0 };

export function addCounts(a: RunCounts, b: RunCounts): RunCounts {
  // `removed` is counted only where members were removed (exports with delivery.removals).
  const removed = a.removed === undefined && b.removed === undefined ? undefined : (a.removed ?? 0) + (b.removed ?? 0);
  return {
    members: a.members + b.members,
    sent: a.sent + b.sent,
    succeeded: a.succeeded + b.succeeded,
    failed: a.failed + b.failed,
    skipped: a.skipped + b.skipped,
    ...(removed === undefined ? {} : { removed }),
  };
}

/** A run of an export with removals shows `removed`, 0 when nobody left. */
export function withRemoved(run: Pick<RunRecord, 'delivery'>, counts: RunCounts): RunCounts {
  return run.delivery?.removals ? { ...counts, removed: counts.removed ?? 0 } : counts;
}

/** How a run of a snapshot-keeping export was planned (see shared/delivery). */
export interface RunDelivery {
  /** The run records what the destination accepts, and commits it as the export's snapshot if it succeeds. */
  keepsSnapshot: boolean;
  fingerprint: string;
  buckets: number;
  /** Why everyone was sent (first run, full mode, fullResync, mapping or segments changed), or null. */
  fullReason: string | null;
  /** The export removes members who left (delivery.removals): the run counts `removed`. */
  removals: boolean;
  changes: { joined: number; changed: number; unchanged: number; left: number } | null;
  /**
   * A retry run of an export that keeps a snapshot: the committed run whose snapshot the members
   * the destination accepts are added to (shared/delivery/deliveryRun.ts), and the batch-name
   * prefix that keeps them after that run's own batches and apart from other retries'.
   */
  extendsSnapshot?: { runId: string; batchPrefix: string };
}

export const runTask = z.object({
  name: z.enum(['plan', 'send', 'finalize']),
  status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled']),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  counts: runCounts.optional(),
  chunks: z.object({ total: z.number(), done: z.number(), failed: z.number() }).optional(),
  membersPerSecond: z.number().optional(),
  etaSeconds: z.number().nullable().optional(),
  detail: z.string().optional(),
});
export type RunTask = z.infer<typeof runTask>;

/** One slice of one segment partition, in bytes aligned to record boundaries. */
export interface PlannedSegment {
  segmentId: string;
  segmentName: string;
  type: SegmentType;
  entity: string;
  attributes: string[];
  memberCount: number;
}

export interface RunRecord {
  id: string;
  exportId: string;
  trigger: RunTrigger;
  status: RunStatus;
  reason: string | null;
  requestedBy: { id: string; name: string };
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  counts: RunCounts;
  /** Set once planning has sent every chunk; the finalizer waits for it. */
  planned: boolean;
  chunksTotal: number;
  segments: PlannedSegment[];
  /** Details returned by the adapter's prepareRun (e.g. a list id it found or created). */
  preparedDetails: Record<string, unknown> | null;
  cancelRequested: boolean;
  /** The refresh a waiting run waits for. */
  waitingFor: string | null;
  /** A retry run: the run whose retryable failures it sends again. */
  retryOf?: string | null;
  /** Ask for everyone to be sent and the snapshot rebuilt (POST .../runs {fullResync: true}). */
  fullResync?: boolean;
  /** Set by the planner for snapshot-keeping segment exports. */
  delivery?: RunDelivery | null;
  tasks: RunTask[];
  /** Times the recovery sweep re-drove the run in a row without it moving (see recoverRuns.ts). */
  recoveries?: number;
  /** When the recovery sweep last re-drove it (epoch ms). */
  recoveredAt?: number;
  /** When the row was last written (storage time, epoch ms; read-only). */
  writtenAt?: number;
  /** What the run was predicted to cost when it started (shared/plans/predictRun.ts). */
  prediction?: RunPrediction;
  /** What the run read: the lake's model.json version, and the refresh that fired it. */
  provenance?: RunProvenance;
  etag: string;
}

export const runPrediction = z.object({
  members: z.number().describe('Members the prediction was made for (sent and removed).'),
  calls: z.number().describe('Vendor calls predicted: batches, removals, import jobs with their polls.'),
  rateCalls: z.number().describe("Of those, calls that each take a token of the connection's rate."),
  predictedSeconds: z.number().describe('Predicted time from the start of planning to the end of the run.'),
  calibration: z.number().optional().describe("Factor the recent runs on the connection put on the model's sending time (1: none yet)."),
  planningCalibration: z
    .number()
    .optional()
    .describe("Factor this deployment's recent runs of the same kind put on the model's planning time (1: none yet)."),
  model: z
    .object({
      planningKind: z.enum(['read', 'everyone', 'changes', 'retry']).nullable(),
      planningSeconds: z.number(),
      sendSeconds: z.number(),
      overlapped: z.boolean(),
      countedSeconds: z
        .number()
        .optional()
        .describe(
          "Seconds per pass over the members the plan's count of the changes took just before the run: the comparison was predicted from it.",
        ),
    })
    .optional()
    .describe("The model's own part times before calibration (planning, sending), which later predictions learn from."),
});
export type RunPrediction = z.infer<typeof runPrediction>;

export const runProvenance = z.object({
  lake: z
    .object({ etag: z.string(), lastModified: z.string() })
    .nullable()
    .describe("The lake snapshot the run read: model.json's ETag and last-modified time."),
  refreshId: z.string().nullable().describe('The refresh whose end fired the run, if one did.'),
});
export type RunProvenance = z.infer<typeof runProvenance>;

export const runView = z.object({
  id: z.string(),
  exportId: z.string(),
  trigger: z.enum(TRIGGERS),
  status: z.enum(RUN_STATUSES),
  reason: z.string().optional(),
  requestedBy: z.object({ id: z.string(), name: z.string() }),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  counts: runCounts,
  tasks: z.array(runTask),
  waitingFor: z.string().optional(),
  prediction: runPrediction
    .optional()
    .describe('What the run was predicted to cost when it started (as POST /exports/{id}/plan predicts).'),
  actualSeconds: z
    .number()
    .nullable()
    .optional()
    .describe('Seconds since the run started, to its end once ended: beside prediction.predictedSeconds.'),
  provenance: runProvenance.optional(),
  retryOf: z.string().optional().describe('The run whose retryable failures this retry run sends again'),
  delivery: z
    .object({
      fullReason: z.string().nullable().describe('Why every member was sent this time, or null when only changes were'),
      changes: z.object({ joined: z.number(), changed: z.number(), unchanged: z.number(), left: z.number() }).nullable(),
    })
    .optional()
    .describe('How a changes/removals delivery was planned'),
});
export type RunView = z.infer<typeof runView>;
