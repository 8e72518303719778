// The segment sender's planner: turns a run the core set running into chunk messages. A chunk is
// a byte range of a segment partition aligned to record boundaries; messages carry ranges, never
// member data.
import { lakeContainer, sendQueueMessage, workContainer } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import { eligibilityOf } from '../exports/eligibility.js';
import type { DestinationAdapter } from '../destinations/destination.js';
import { DestinationError } from '../destinations/destinationError.js';
import { segmentsOf } from '../lake/segmentCatalog.js';
import { partitionBlobs, readModelVersioned, recordBoundaries, type PartitionBlob } from '../lake/lakeReader.js';
import { recordedPrediction } from '../plans/predictionAtStart.js';
import { UnionOverLimit, writeSegmentUnion } from './segmentUnion.js';
import { duplicatesIn, saveChunkDuplicates, scanSegment } from './duplicateMembers.js';
import { matchingPlan } from './dataMatching.js';
import { membersPerChunk } from './chunkSize.js';
import {
  chunkIdFor,
  finalizeIfComplete,
  finishRunEarly,
  isTerminal,
  recordPlannedChunks,
  updateRun,
  type ChunkMessage,
  type ChunkRange,
  type PlanJob,
  type PlannedSegment,
} from '../runs/worker.js';
import { silentLogger, type Logger } from '../observability/log.js';
import { planDeliveryFiles } from '../delivery/deliveryRun.js';
import type { DeliveryFile } from '../delivery/planDelivery.js';

/** The segment id of a run's de-duplicated union of several segments. */
export const UNION_SEGMENT_ID = 'union';

interface ChunkSource {
  segment: PlannedSegment;
  container: 'lake' | 'work';
  blobs: PartitionBlob[];
}

/** The segment sender's chunk message: the core's, plus the retries a continuation carries. */
export interface SendChunkMessage extends ChunkMessage {
  /** Set by a continuation that handed on a batch it was retrying (see sendChunk). */
  retries?: { failures: number; rateLimited: number };
}

/** The step kind of the segment sender's chunks. */
export const SEND_STEP = 'send';
/** The step kind of chunks of members to take off the list (delivery.removals). */
export const REMOVE_STEP = 'remove';

/** Plans a segment run: the segments' partitions (or their union) cut into chunks of the 'send' step. */
export async function planSegments({ run, record, connection, access }: PlanJob, log: Logger = silentLogger): Promise<void> {
  const { destination } = access;

  const container = lakeContainer();
  const { model, version: lakeVersion } = await readModelVersioned(container);
  const lakeSegments = segmentsOf(model);
  const planned: PlannedSegment[] = [];
  for (const segmentId of record.segments) {
    const segment = lakeSegments.find((candidate) => candidate.id === segmentId);
    if (!segment) return finishRunEarly(run, 'failed', `Segment '${segmentId}' no longer exists in the lake.`);
    const eligibility = eligibilityOf(segment, destination, undefined, record.details);
    if (!eligibility.eligible) return finishRunEarly(run, 'skipped', eligibility.reason!);
    planned.push({
      segmentId: segment.id,
      segmentName: segment.name,
      type: segment.type,
      entity: segment.id,
      attributes: segment.attributes,
      memberCount: segment.memberCount,
    });
  }
  const limit = maxMembersFor(destination, connection.limits);
  const overLimit = (members: number) =>
    finishRunEarly(
      run,
      'skipped',
      `The export has ${members.toLocaleString('en-US')} members; ${destination.displayName} takes at most ${limit.toLocaleString('en-US')} per export. Nothing was sent.`,
    );

  // What the senders read: each segment's partitions, or, when several segments share one list,
  // their union without repeated members (written once per run into Outflow's working container).
  let sources: ChunkSource[] = [];
  for (const segment of planned) {
    const entity = model.entities.find((candidate) => candidate.name === segment.entity)!;
    sources.push({ segment, container: 'lake', blobs: await partitionBlobs(container, entity) });
  }
  if (planned.length > 1 && !destination.listPerSegment) {
    const emailAttribute = record.mapping.email;
    if (!emailAttribute) return finishRunEarly(run, 'failed', 'Several segments to one list need email mapped, to send each member once.');
    try {
      const union = await writeSegmentUnion(
        run.id,
        sources.map((source) => ({ attributes: source.segment.attributes, blobs: source.blobs })),
        emailAttribute,
        limit,
      );
      const merged: PlannedSegment = {
        segmentId: UNION_SEGMENT_ID,
        segmentName: planned.map((segment) => segment.segmentName).join(' + '),
        type: planned[0]!.type,
        entity: '',
        attributes: planned[0]!.attributes,
        memberCount: union.memberCount,
      };
      sources = [
        {
          segment: merged,
          container: 'work',
          blobs: [
            {
              blobName: union.blobName,
              size: union.size,
              etag: union.etag,
              format: { delimiter: ',', columnHeaders: false } as PartitionBlob['format'],
            },
          ],
        },
      ];
      log.info(`${union.memberCount} distinct members in ${planned.length} segments (${union.duplicates} repeated rows left out)`, {
        members: union.memberCount,
        segments: planned.length,
        duplicates: union.duplicates,
      });
    } catch (error) {
      if (error instanceof UnionOverLimit) return overLimit(planned.reduce((sum, segment) => sum + segment.memberCount, 0));
      throw error;
    }
  }
  const totalMembers = sources.reduce((sum, source) => sum + source.segment.memberCount, 0);
  if (totalMembers > limit) return overLimit(totalMembers);

  let preparedDetails = record.details;
  if (destination.prepareRun) {
    try {
      preparedDetails = (await destination.prepareRun(access.call, {
        segments: planned.map((segment) => ({ id: segment.segmentId, name: segment.segmentName, type: segment.type })),
        segmentNames: planned.map((segment) => segment.segmentName),
        mappedFields: Object.keys(record.mapping),
      })) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof DestinationError && !error.retryable)
        return finishRunEarly(run, 'failed', `${destination.displayName} refused the export's setup (${error.category}): ${error.message}`);
      throw error;
    }
  }

  // Changes, removals and retries: the senders read files of the members to send or remove.
  let delivery: Awaited<ReturnType<typeof planDeliveryFiles>>;
  try {
    delivery = await planDeliveryFiles(run, record, sources, totalMembers);
  } catch (error) {
    if ((error as Error).message.startsWith('The mapping uses')) return finishRunEarly(run, 'failed', (error as Error).message);
    throw error;
  }
  if (delivery) {
    const { counts } = delivery.files;
    log.info(
      run.retryOf
        ? `Retrying the retryable failures of run ${run.retryOf}: ${delivery.files.files.reduce((sum, file) => sum + file.rows, 0)} members`
        : delivery.delivery.fullReason
          ? `Delivering everyone (${delivery.delivery.fullReason}); ${counts.left} left the segments`
          : `Delivering changes: ${counts.joined} joined, ${counts.changed} changed, ${counts.unchanged} unchanged, ${counts.left} left`,
      { ...counts },
    );
  }

  const chunkMembers = membersPerChunk(destination, access.rateLimit.requestsPerSecond, totalMembers);
  const chunks: ChunkRange[] = delivery ? await deliveryChunks(delivery.files.files, chunkMembers) : [];
  for (const { segment, container: where, blobs } of delivery ? [] : sources) {
    const from = where === 'work' ? await workContainer() : container;
    const totalBytes = blobs.reduce((sum, blob) => sum + blob.size, 0);
    const bytesPerMember = segment.memberCount > 0 ? totalBytes / segment.memberCount : totalBytes;
    const targetBytes = Math.max(64 * 1024, Math.round(bytesPerMember * chunkMembers));
    // A union is de-duplicated already; a segment's own partitions may repeat an email across
    // chunks. One read of the segment finds both those rows and the chunk boundaries.
    const scan = await scanSegment(from, blobs, where === 'lake' ? emailColumnOf(record.mapping, segment.attributes) : -1, targetBytes);
    const duplicates = scan.duplicates;
    const duplicateCount = [...duplicates.values()].reduce((sum, offsets) => sum + offsets.length, 0);
    if (duplicateCount > 0)
      log.info(`${duplicateCount} rows of segment ${segment.segmentName} repeat an earlier member's email; they are skipped`, {
        duplicates: duplicateCount,
      });
    for (const blob of blobs) {
      if (blob.size === 0) continue;
      const cuts = scan.cuts.get(blob.blobName)!;
      for (let index = 0; index + 1 < cuts.length; index++) {
        const chunkId = chunkIdFor(chunks.length);
        const repeated = duplicatesIn(duplicates, blob.blobName, cuts[index]!, cuts[index + 1]!);
        if (repeated.length > 0) await saveChunkDuplicates(run.id, chunkId, repeated);
        chunks.push({
          chunkId,
          step: SEND_STEP,
          duplicates: repeated.length,
          segmentId: segment.segmentId,
          container: where,
          blobName: blob.blobName,
          blobEtag: blob.etag,
          start: cuts[index]!,
          end: cuts[index + 1]!,
          delimiter: blob.format.delimiter ?? ',',
          columnHeaders: blob.format.columnHeaders ?? false,
        });
      }
    }
  }

  // A delivery run sends what its files hold, and removes who left; otherwise every member is sent.
  const deliveryRows = (kind: 'send' | 'remove', segmentId?: string) =>
    delivery!.files.files
      .filter((file) => file.kind === kind && (!segmentId || file.segmentId === segmentId))
      .reduce((sum, file) => sum + file.rows, 0);
  const send = delivery
    ? destination.listPerSegment
      ? sources.map((source) => deliveryRows('send', source.segment.segmentId))
      : [deliveryRows('send')]
    : destination.listPerSegment
      ? sources.map((source) => source.segment.memberCount)
      : [totalMembers];
  const prediction = await recordedPrediction(
    run,
    connection.id,
    destination,
    access.rateLimit,
    { send, remove: delivery ? deliveryRows('remove') : 0 },
    model,
    log,
  );
  await updateRun(run.exportId, run.id, (current) =>
    isTerminal(current.status)
      ? undefined
      : {
          ...current,
          segments: sources.map((source) => source.segment),
          preparedDetails,
          chunksTotal: chunks.length,
          prediction,
          provenance: { lake: lakeVersion, refreshId: current.provenance?.refreshId ?? null },
          delivery: delivery?.delivery ?? null,
        },
  );
  await recordPlannedChunks(run.id, chunks);
  await sendChunkMessages(
    chunks.map((chunk) => ({ exportId: run.exportId, runId: run.id, chunkId: chunk.chunkId }) satisfies SendChunkMessage),
  );
  const plannedAt = new Date().toISOString();
  await updateRun(run.exportId, run.id, (current) =>
    isTerminal(current.status)
      ? undefined
      : {
          ...current,
          planned: true,
          counts: { ...current.counts, members: totalMembers },
          tasks: current.tasks.map((task) =>
            task.name === 'plan'
              ? {
                  ...task,
                  status: 'succeeded',
                  finishedAt: plannedAt,
                  detail: `${chunks.length} chunk${chunks.length === 1 ? '' : 's'} of up to ${chunkMembers.toLocaleString('en-US')} members`,
                }
              : task.name === 'send'
                ? { ...task, status: 'running', startedAt: task.startedAt ?? plannedAt }
                : task,
          ),
        },
  );
  log.info(`Planned: ${totalMembers} members in ${chunks.length} chunks`, { members: totalMembers, chunks: chunks.length });
  // Chunks may all have finished while the plan was being recorded.
  await finalizeIfComplete(run.exportId, run.id);
}

/** Chunks over the delivery files: each holds rows of one key bucket (the snapshot writes per bucket). */
async function deliveryChunks(files: DeliveryFile[], chunkMembers: number): Promise<ChunkRange[]> {
  const work = await workContainer();
  const chunks: ChunkRange[] = [];
  for (const file of files) {
    if (file.size === 0) continue;
    const targetBytes = Math.max(64 * 1024, Math.round((file.size / Math.max(1, file.rows)) * chunkMembers));
    const cuts = await recordBoundaries(work, file.blobName, file.size, targetBytes, { ifMatch: file.etag });
    for (let index = 0; index + 1 < cuts.length; index++) {
      chunks.push({
        chunkId: chunkIdFor(chunks.length),
        step: file.kind === 'remove' ? REMOVE_STEP : SEND_STEP,
        segmentId: file.segmentId,
        container: 'work',
        blobName: file.blobName,
        blobEtag: file.etag,
        start: cuts[index]!,
        end: cuts[index + 1]!,
        delimiter: ',',
        columnHeaders: false,
        delivery: { kind: file.kind, bucket: file.bucket },
      });
    }
  }
  return chunks;
}

/** Queues the chunks' messages a few at a time: one after another, the last chunk waited for a round trip per chunk before it. */
async function sendChunkMessages(messages: SendChunkMessage[]): Promise<void> {
  let next = 0;
  const sender = async () => {
    while (next < messages.length) await sendQueueMessage(QUEUES.exportChunks, messages[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(MESSAGES_IN_FLIGHT, messages.length) }, sender));
}
const MESSAGES_IN_FLIGHT = 8;

/** The column holding the email the destination keys members by; -1 when none (or unmapped). */
function emailColumnOf(mapping: Record<string, string>, attributes: string[]): number {
  try {
    return matchingPlan(mapping, attributes).emailColumn;
  } catch {
    // A mapping the segment cannot satisfy: the senders end the run with that reason.
    return -1;
  }
}

function maxMembersFor(destination: DestinationAdapter, settings: Record<string, unknown>): number {
  const own = Number(settings.maxMembersPerExport);
  return Number.isFinite(own) && own > 0 ? Math.min(own, destination.limits.maxMembersPerExport) : destination.limits.maxMembersPerExport;
}
