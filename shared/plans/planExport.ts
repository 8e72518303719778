// `POST /exports/{id}/plan`: what a run of the export would do if started now — members,
// eligibility, changes since the last delivery, vendor calls and the time at the connection's
// rate with the other runs on that connection. Nothing is sent and nothing stored but an audit line
// (with the time counting the changes took, which the run's own prediction takes up).
import { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { Unprocessable } from '../errors.js';
import { getExportWithConnection } from '../exports/manageExports.js';
import { eligibilityOf, maxMembersFor } from '../exports/eligibility.js';
import { destinationFor } from '../destinations/registry.js';
import { loadLakeModel, segmentsOf, type SegmentSummary } from '../lake/segmentCatalog.js';
import { countChanges } from './countChanges.js';
import type { CdmModel } from '../lake/cdmModel.js';
import { rateLimitFor } from '../runs/destinationAccess.js';
import { AZURE_BLOB_TYPE } from '../destinations/azureBlob.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import type { DestinationAdapter } from '../destinations/destination.js';
import { connectionLoad } from './connectionLoad.js';
import { predictRun, type RunWork } from './predictRun.js';
import { calibrationFor, partFactors } from './calibration.js';

export const exportPlan = z.object({
  members: z
    .number()
    .describe(
      "Members the export's segments hold now (several segments to one list: the sum, an upper bound until the run removes repeats).",
    ),
  eligible: z.boolean().describe('Whether a run started now would send (false: it would be skipped or fail; warnings say why).'),
  warnings: z.array(z.string()),
  changes: z
    .object({ added: z.number(), updated: z.number(), removed: z.number(), unchanged: z.number() })
    .nullable()
    .describe(
      'Delivery mode changes: members joined, changed, left and unchanged since the last delivery; null when the run sends everyone.',
    ),
  calls: z
    .number()
    .describe(
      'Vendor calls the run would make: batches, removal calls, import jobs with their uploads and status polls (not the one-time setup such as finding the list).',
    ),
  predictedSeconds: z
    .number()
    .describe(
      "Predicted time from start to end at the connection's rate, sharing it with the runs active or scheduled on that connection within the hour.",
    ),
  basis: z.object({
    requestsPerSecond: z.number().nullable().describe("The connection's rate (null: not limited)."),
    rateSeconds: z.number(),
    pipelineSeconds: z.number(),
    jobSeconds: z.number(),
    sharedSeconds: z.number().describe('Seconds added by other runs on the connection.'),
    diffSeconds: z.number().describe('Seconds the run spends comparing the segments with the last delivery (changes delivery, removals).'),
    readSeconds: z.number().describe("Seconds a plain run's planner spends reading the segment before (or while) its members are sent."),
    sendSeconds: z
      .number()
      .describe('Seconds of sending: the longest of the rate (with the shared part), the pipeline and the import jobs.'),
    overlapped: z
      .boolean()
      .describe('Whether sending starts while the planner still reads (the run then takes about the longer of the two).'),
    startSeconds: z.number(),
    calibration: z
      .number()
      .describe("Factor on the sending time learnt from the connection's recent runs (actual over predicted; 1 with no history)."),
    planningCalibration: z
      .number()
      .describe(
        "Factor on the planning time (read or comparison) learnt from this deployment's recent runs of the same kind (1 with no history).",
      ),
    countedSeconds: z
      .number()
      .nullable()
      .describe(
        'Seconds per pass over the members (the segments read, the snapshot loaded) this plan took to count the changes (null: nothing to compare): the comparison is predicted from it.',
      ),
    countedRatio: z
      .number()
      .nullable()
      .describe("The comparison's time over the count's: learnt from this deployment's counted runs, else the benchmark's figure."),
    otherRuns: z.array(
      z.object({ exportId: z.string(), runId: z.string().optional(), rateCalls: z.number(), startsInSeconds: z.number() }),
    ),
  }),
});
export type ExportPlan = z.infer<typeof exportPlan>;

/** The members a run sends, one figure per list it sends to. */
function membersPerList(destination: DestinationAdapter, segments: SegmentSummary[]): number[] {
  const counts = segments.map((segment) => segment.memberCount);
  return destination.listPerSegment ? counts : [counts.reduce((sum, count) => sum + count, 0)];
}

/** The pieces a plain run's planner reads and queues one by one: the partitions, or the one union file of several segments. */
function readPieces(model: CdmModel, segments: SegmentSummary[], destination: DestinationAdapter): number {
  if (segments.length > 1 && !destination.listPerSegment) return 1;
  return segments.reduce((sum, segment) => sum + (model.entities.find((entity) => entity.name === segment.id)?.partitions.length ?? 1), 0);
}

function requirePlannable(record: ExportRecord): asserts record is ExportRecord & { connectionId: string } {
  if (record.kind === 'dataOut' || record.connectionType === AZURE_BLOB_TYPE) {
    throw new Unprocessable(
      `Export '${record.name}' writes files to storage, with no vendor calls or rate to predict. Plans are for segment exports to a marketing destination; this export's runs show their files and rows in GET /api/exports/${record.id}/runs.`,
    );
  }
  if (!record.connectionId)
    throw new Unprocessable(
      `Export '${record.name}' has no connection; choose one (PATCH /api/exports/${record.id} with connectionId) before planning it.`,
    );
}

export async function planExport(principal: Principal, exportId: string, now = new Date()): Promise<ExportPlan> {
  const { record, connection } = await getExportWithConnection(exportId);
  requirePlannable(record);
  if (!connection) throw new Unprocessable(`Export '${record.name}' lost its connection; choose another before planning it.`);
  const destination = destinationFor(connection.type);
  const rate = rateLimitFor(destination, connection);
  const model = await loadLakeModel();
  const lakeSegments = segmentsOf(model);

  const warnings: string[] = [];
  let eligible = true;
  const chosen: SegmentSummary[] = [];
  for (const id of record.segments) {
    const segment = lakeSegments.find((candidate) => candidate.id === id);
    if (!segment) {
      eligible = false;
      warnings.push(`Segment '${id}' no longer exists in the lake: a run would fail.`);
      continue;
    }
    const eligibility = eligibilityOf(segment, destination, undefined, record.details);
    if (!eligibility.eligible) {
      eligible = false;
      warnings.push(`${eligibility.reason} A run would be skipped.`);
    }
    chosen.push(segment);
  }
  const send = membersPerList(destination, chosen);
  const members = send.reduce((sum, count) => sum + count, 0);
  const limit = maxMembersFor(destination, connection.limits);
  if (send.some((count) => count > limit)) {
    eligible = false;
    warnings.push(
      `The export has ${members.toLocaleString('en-US')} members; ${destination.displayName} takes at most ${limit.toLocaleString('en-US')} per export, so a run would be skipped.`,
    );
  }
  if (chosen.length > 1 && !destination.listPerSegment) {
    warnings.push(
      'Several segments share one list: members are counted once per segment here; the run sends each email once, so it may send fewer.',
    );
  }
  if (destination.importJob) {
    warnings.push(
      `${destination.displayName} documents no import duration: the time assumes ${destination.importJob.typicalSeconds} s per import job of up to ${destination.batchSize.toLocaleString('en-US')} members.`,
    );
  }

  const changes = eligible ? await countChanges(record, chosen, model, destination.listPerSegment ?? false) : undefined;
  if (changes?.fullReason) warnings.push(`A run would send everyone (${changes.fullReason}).`);
  const load = await connectionLoad(record.id, connection.id, destination, rate, lakeSegments, now);
  warnings.push(...load.notes);
  // A list per segment: the changes are spread over the lists as the members are.
  const share = (count: number) =>
    send.map((members) => Math.round((count * members) / Math.max(1, members > 0 ? send.reduce((sum, each) => sum + each, 0) : 1)));
  const work: RunWork = !eligible
    ? { send: [], remove: 0 }
    : changes
      ? {
          send: share(changes.send),
          remove: changes.remove,
          buckets: changes.buckets,
          chunkBasis: members,
          planning: { kind: changes.fullReason ? 'everyone' : 'changes', members, countedSeconds: changes.countedSeconds },
        }
      : { send, remove: 0, planning: { kind: 'read', members, pieces: readPieces(model, chosen, destination) } };
  const calibration = await calibrationFor([record.id, ...load.exportIds], load.deploymentExportIds, work.planning?.kind);
  const prediction = predictRun(destination, rate, work, load.competing, partFactors(calibration));
  if (calibration.runs > 0 && calibration.factor !== 1) {
    warnings.push(
      `The connection's last ${calibration.runs} run${calibration.runs === 1 ? '' : 's'} sent in ${calibration.factor} × the model's time (machine load, vendor latency): the sending is scaled by that.`,
    );
  }
  if (prediction.basis.countedRatio !== null) {
    warnings.push(
      `Counting the changes took ${prediction.basis.countedSeconds} s a pass over the members: the comparison is predicted at ${prediction.basis.countedRatio} × that (${calibration.countedRuns > 0 ? `this deployment's last ${calibration.countedRuns} counted run${calibration.countedRuns === 1 ? '' : 's'}` : 'as measured in the benchmark'}).`,
    );
  } else if (calibration.planningRuns > 0 && calibration.planning !== 1) {
    warnings.push(
      `This deployment's last ${calibration.planningRuns} planned run${calibration.planningRuns === 1 ? '' : 's'} took ${calibration.planning} × the model's planning time (machine load): the planning is scaled by that.`,
    );
  }
  if (prediction.basis.sharedSeconds > 0) {
    warnings.push(
      `${load.competing.length} other run${load.competing.length === 1 ? '' : 's'} share${load.competing.length === 1 ? 's' : ''} this connection's rate within the hour, adding about ${Math.round(prediction.basis.sharedSeconds)} s.`,
    );
  }
  const plan: ExportPlan = {
    members,
    eligible,
    warnings,
    changes: changes ? { added: changes.added, updated: changes.updated, removed: changes.removed, unchanged: changes.unchanged } : null,
    calls: prediction.calls,
    predictedSeconds: prediction.predictedSeconds,
    basis: {
      ...prediction.basis,
      otherRuns: load.competing.map((other) => ({ ...other, startsInSeconds: Math.round(other.startsInSeconds) })),
    },
  };
  await recordAudit(
    principal,
    'export.plan',
    { type: 'export', id: record.id, name: record.name },
    {
      members,
      eligible,
      calls: plan.calls,
      predictedSeconds: plan.predictedSeconds,
      // The run this plan precedes predicts its comparison from the count's time (countedBefore.ts).
      ...(changes?.countedSeconds !== undefined ? { countedSeconds: changes.countedSeconds } : {}),
    },
  );
  return plan;
}
