// The segment sender's planner: turns a run the core set running into chunk messages. A chunk is
// a byte range of a segment partition aligned to record boundaries; messages carry ranges, never
// member data. Each partition's chunks are recorded and queued as soon as it has been read, so the
// senders start while the rest is read. Planning keeps to the invocation budget as the senders
// do: what is done is kept (planProgress.ts) and the rest is handed to the planner's own
// continuation on the plan queue.
import { z } from 'zod';
import { lakeContainer, sendQueueMessage, workContainer } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import { eligibilityOf } from '../exports/eligibility.js';
import type { DestinationAdapter } from '../destinations/destination.js';
import { DestinationError } from '../destinations/destinationError.js';
import { segmentsOf } from '../lake/segmentCatalog.js';
import { partitionBlobs, readModelVersioned, recordBoundaries, type PartitionBlob } from '../lake/lakeReader.js';
import type { ContainerClient } from '@azure/storage-blob';
import { recordedPrediction } from '../plans/predictionAtStart.js';
import { countable, type PlanningKind } from '../plans/predictRun.js';
import { countedBefore } from '../plans/countedBefore.js';
import { UnionOverLimit, writeSegmentUnion } from './segmentUnion.js';
import {
  hashesMeeting,
  mergeSorted,
  repeatedRowsOfPartition,
  saveChunkDuplicates,
  scanPartitionStretch,
  scanStart,
  sortedHashes,
} from './duplicateMembers.js';
import {
  loadHashes,
  loadPlanProgress,
  PlanSuperseded,
  saveHashes,
  savePlanProgress,
  type ChunkSource,
  type PlanProgress,
  type PlanSetup,
  type StoredProgress,
} from './planProgress.js';
import { matchingPlan } from './dataMatching.js';
import { membersPerChunk } from './chunkSize.js';
import {
  chunkIdFor,
  destinationConcurrency,
  endCancelledPlanning,
  finalizeIfComplete,
  finishRunEarly,
  isTerminal,
  recordPlannedChunks,
  updateRun,
  type ChunkMessage,
  type ChunkRange,
  type PlanJob,
  type PlannedSegment,
  type PlanRunMessage,
  type RunPrediction,
  type RunRecord,
} from '../runs/worker.js';
import { silentLogger, type Logger } from '../observability/log.js';
import { planDelivery } from '../delivery/deliveryRun.js';
import {
  deliveryDone,
  deliveryStage,
  deliveryStart,
  deliveryStep,
  type DeliveryFile,
  type DeliveryProgress,
} from '../delivery/planDelivery.js';
import type { CdmModel } from '../lake/cdmModel.js';

/** The segment id of a run's de-duplicated union of several segments. */
export const UNION_SEGMENT_ID = 'union';

/** The segment sender's chunk message: the core's, plus the retries a continuation carries. */
export interface SendChunkMessage extends ChunkMessage {
  /** Set by a continuation that handed on a batch it was retrying (see sendChunk). */
  retries?: { failures: number; rateLimited: number };
  /** Times in a row the chunk found every sender slot of its connection taken (see senderSlots). */
  slotMisses?: number;
}

/**
 * A chunk message as its function reads it off the queue: every field the core and the sender's
 * continuations put in it (a field left out here is dropped before the sender sees it).
 */
export const sendChunkMessageSchema = z.object({
  exportId: z.string().min(1),
  runId: z.string().min(1),
  chunkId: z.string().min(1),
  secretsUnavailableSince: z.number().int().nonnegative().optional(),
  retries: z.object({ failures: z.number().int().nonnegative(), rateLimited: z.number().int().nonnegative() }).optional(),
  slotMisses: z.number().int().nonnegative().optional(),
});

/** The step kind of the segment sender's chunks. */
export const SEND_STEP = 'send';
/** The step kind of chunks of members to take off the list (delivery.removals). */
export const REMOVE_STEP = 'remove';

/**
 * Plans a segment run: the segments' partitions (or their union) cut into chunks of the 'send'
 * step. Made in steps — set-up, the read of each partition (in stretches), its cut, the ledger,
 * the chunk messages a group at a time — each kept as it ends. Past the job's deadline (and once
 * this invocation has done at least one step) the plan is handed on to a continuation. The run is
 * marked planned only once every chunk is recorded and queued: until then the finalizer leaves it
 * alone, however many of the chunks recorded so far have ended.
 */
export async function planSegments(job: PlanJob, log: Logger = silentLogger): Promise<void> {
  try {
    await planInSteps(job, log);
  } catch (error) {
    // A continuation and a message delivered again may both be at work: the first to write goes on.
    if (!(error instanceof PlanSuperseded)) throw error;
    log.info(error.message);
  }
}

async function planInSteps(job: PlanJob, log: Logger): Promise<void> {
  const { run, record } = job;
  const deadline = job.deadline ?? Infinity;
  const began = Date.now();
  let stepStarted = began;
  const stepMs: Record<string, number> = {};
  const timed = (step: string) => {
    const now = Date.now();
    stepMs[step] = (stepMs[step] ?? 0) + now - stepStarted;
    stepStarted = now;
  };
  let worked = false;
  const outOfTime = () => Date.now() >= deadline;
  const handOnDue = () => worked && outOfTime();

  let stored: StoredProgress | undefined = await loadPlanProgress(run.id);
  if (!stored) {
    const setup = await setUpPlan(job, log);
    if (!setup) return;
    timed('setup');
    const first = sourceAt(setup, 0);
    const progress: PlanProgress = {
      setup,
      scan: {
        source: 0,
        blob: 0,
        position: scanStart(first ? targetBytesOf(first, setup.chunkMembers) : 0),
        partCuts: [],
        stretches: [],
      },
      chunks: [],
      cut: false,
      recorded: 0,
      messagesSent: 0,
      repeatedRows: 0,
      handOns: 0,
    };
    stored = { progress, etag: await savePlanProgress(run.id, progress, undefined) };
    worked = true;
  }
  const current = stored;
  const { progress } = current;
  const { setup } = progress;
  const save = async () => {
    current.etag = await savePlanProgress(run.id, progress, current.etag);
  };
  const handOn = (what: string) => handPlanOn(run, current, what, Date.now() - began, stepMs, log);
  const earlier = new EarlierPartitions(setup, progress);

  // Changes, removals and retries: the comparison with the last delivery, a stretch of rows read or
  // a key bucket compared a step.
  if (setup.delivery && !progress.delivery?.done) {
    const comparing = (progress.delivery ??= deliveryStart());
    const { plan } = setup.delivery;
    while (!deliveryDone(plan, comparing)) {
      if (handOnDue()) return handOn(deliveryStage(plan, setup.sources, comparing));
      await deliveryStep(plan, setup.sources, comparing, outOfTime);
      timed('compare');
      await save();
      worked = true;
    }
    await settleComparison(job, setup, comparing, log);
    comparing.done = true;
    timed('compare');
    await save();
    worked = true;
  }

  // Step by step, queueing first: chunks recorded are queued, chunks cut are recorded, and only
  // then is the next stretch of the segment read, so senders work while the rest is read.
  for (;;) {
    const { chunks } = progress;
    if (progress.messagesSent < progress.recorded) {
      if (handOnDue()) return handOn(`${progress.messagesSent} chunk messages queued; reading the segment`);
      const sent = progress.messagesSent;
      const group = chunks.slice(sent, Math.min(progress.recorded, sent + MESSAGES_PER_STEP));
      await sendChunkMessages(
        group.map((chunk) => ({ exportId: run.exportId, runId: run.id, chunkId: chunk.chunkId }) satisfies SendChunkMessage),
      );
      timed('messages');
      progress.messagesSent = sent + group.length;
    } else if (progress.recorded < chunks.length) {
      if (handOnDue()) return handOn(`${chunks.length - progress.recorded} chunks cut; to record`);
      if (!(await recordChunks(run, setup, chunks))) return;
      timed('ledger');
      progress.recorded = chunks.length;
    } else if (!progress.cut) {
      if (handOnDue()) return handOn(`${scannedShare(setup, progress.scan)}% of the segment read`);
      if (setup.delivery) {
        // Delivery runs read their files, cut in one step.
        progress.chunks = await deliveryChunks(setup.delivery.files.files, setup.chunkMembers);
        progress.cut = true;
        timed('cut');
      } else await readOn(run.id, record.mapping, progress, earlier, outOfTime, timed, log);
    } else break;
    await save();
    worked = true;
  }
  const { chunks } = progress;

  const plannedAt = new Date().toISOString();
  const { totalMembers, chunkMembers } = setup;
  await updateRun(run.exportId, run.id, (latest) =>
    isTerminal(latest.status) || latest.planned
      ? undefined
      : {
          ...latest,
          // Also when no chunk was recorded (an empty segment).
          ...planOnRun(setup, latest),
          planned: true,
          chunksTotal: chunks.length,
          tasks: latest.tasks.map((task) =>
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
  timed('planned');
  log.info(`Planned: ${totalMembers} members in ${chunks.length} chunks`, {
    members: totalMembers,
    chunks: chunks.length,
    repeatedRows: progress.repeatedRows,
    handOns: progress.handOns,
    ms: Date.now() - began,
    stepMs,
  });
  // Chunks may all have finished while the plan was being made: the run ends here then.
  await finalizeIfComplete(run.exportId, run.id);
}

/** What the run row holds of the plan: what the senders read from it (the segments, the prepared details) and its figures. */
function planOnRun(setup: PlanSetup, run: RunRecord): Partial<RunRecord> {
  return {
    segments: setup.sources.map((source) => source.segment),
    preparedDetails: setup.preparedDetails,
    counts: { ...run.counts, members: setup.totalMembers },
    prediction: setup.prediction ?? undefined,
    provenance: { lake: setup.lakeVersion, refreshId: run.provenance?.refreshId ?? null },
    delivery: setup.delivery?.delivery ?? null,
  };
}

/**
 * Puts the chunks cut so far in the ledger and their count on the run row (with what the senders
 * read from it: the segments, the prepared details). False when the run ended or was cancelled
 * meanwhile: a cancelled run is ended (its chunks already queued end cancelled), nothing more is
 * recorded or queued.
 */
async function recordChunks(run: RunRecord, setup: PlanSetup, chunks: ChunkRange[]): Promise<boolean> {
  const at = new Date().toISOString();
  const latest = await updateRun(run.exportId, run.id, (current) =>
    mayGoOn(current)
      ? {
          ...current,
          ...planOnRun(setup, current),
          chunksTotal: chunks.length,
          // The senders start with the first chunks, while the plan goes on.
          tasks: current.tasks.map((task) =>
            task.name === 'send' ? { ...task, status: 'running', startedAt: task.startedAt ?? at } : task,
          ),
        }
      : undefined,
  );
  if (!mayGoOn(latest)) {
    if (!isTerminal(latest.status) && latest.cancelRequested && !latest.planned)
      await endCancelledPlanning(latest, 'Cancelled while it was being planned.');
    return false;
  }
  await recordPlannedChunks(run.id, chunks);
  return true;
}

/**
 * Reads the next stretch of the segments; once a partition has been read to its end, cuts its
 * chunks (each with its rows that repeat an earlier row's email, saved for its sender). A row
 * can only repeat rows before it, all read by then: the first row with an email keeps it.
 */
async function readOn(
  runId: string,
  mapping: Record<string, string>,
  progress: PlanProgress,
  earlier: EarlierPartitions,
  outOfTime: () => boolean,
  timed: (step: string) => void,
  log: Logger,
): Promise<void> {
  const { setup, scan } = progress;
  const source = setup.sources[scan.source];
  if (!source) {
    progress.cut = true;
    return;
  }
  if (scan.blob >= source.blobs.length) {
    scan.source++;
    scan.blob = 0;
    scan.partCuts = [];
    const next = sourceAt(setup, scan.source);
    if (next) scan.position = scanStart(targetBytesOf(next, setup.chunkMembers));
    return;
  }
  const from = source.container === 'work' ? await workContainer() : lakeContainer();
  const targetBytes = targetBytesOf(source, setup.chunkMembers);
  const blob = source.blobs[scan.blob]!;
  // A union is de-duplicated already; a segment's own partitions may repeat an email across chunks.
  const emailColumn = source.container === 'lake' ? emailColumnOf(mapping, source.segment.attributes) : -1;
  let cuts: number[];
  let repeated: number[] = [];
  if (emailColumn < 0) {
    cuts = await recordBoundaries(from, blob.blobName, blob.size, targetBytes, { ifMatch: blob.etag });
    timed('scan');
  } else {
    const stretch = await scanPartitionStretch(from, blob, emailColumn, targetBytes, scan.position, outOfTime);
    scan.partCuts.push(...stretch.cuts);
    if (stretch.hashes.length > 0) scan.stretches.push(await saveHashes(runId, scan.stretches.length, blob.blobName, stretch.hashes));
    scan.position = stretch.next;
    timed('scan');
    if (stretch.next.offset < blob.size) return;
    cuts = blob.size > 0 ? [0, ...scan.partCuts, blob.size] : [0];
    repeated = await earlier.repeatedRowsOf(scan.source, scan.blob, from, emailColumn);
    if (repeated.length > 0)
      log.info(`${repeated.length} rows of ${blob.blobName} repeat an earlier member's email; they are skipped`, {
        duplicates: repeated.length,
      });
    progress.repeatedRows += repeated.length;
  }
  for (let index = 0; index + 1 < cuts.length; index++) {
    const chunkId = chunkIdFor(progress.chunks.length);
    const [start, end] = [cuts[index]!, cuts[index + 1]!];
    const inChunk = repeated.filter((offset) => offset >= start && offset < end);
    if (inChunk.length > 0) await saveChunkDuplicates(runId, chunkId, inChunk);
    progress.chunks.push({
      chunkId,
      step: SEND_STEP,
      duplicates: inChunk.length,
      segmentId: source.segment.segmentId,
      container: source.container,
      blobName: blob.blobName,
      blobEtag: blob.etag,
      start,
      end,
      delimiter: blob.format.delimiter ?? ',',
      columnHeaders: blob.format.columnHeaders ?? false,
    });
  }
  timed('cut');
  scan.blob++;
  scan.partCuts = [];
  scan.position = scanStart(targetBytes);
}

/**
 * The email hashes of a segment's partitions read before the current one, sorted (8 bytes a row,
 * as the read keeps them): what a partition's rows are checked against once it has been read.
 * Loaded from the kept stretches when an invocation first needs them, then grown partition by
 * partition.
 */
class EarlierPartitions {
  private source = -1;
  private sorted: Float64Array = new Float64Array(0);

  constructor(
    private readonly setup: PlanSetup,
    private readonly progress: PlanProgress,
  ) {}

  /** The rows of partition `blobIndex` of source `sourceIndex` whose email an earlier row has; then counts the partition as earlier. */
  async repeatedRowsOf(sourceIndex: number, blobIndex: number, from: ContainerClient, emailColumn: number): Promise<number[]> {
    const { blobs } = this.setup.sources[sourceIndex]!;
    if (this.source !== sourceIndex) {
      // Hashes of the partitions before this one, as kept by the invocations that read them.
      const before = await this.hashesOf(blobs.slice(0, blobIndex));
      this.sorted = sortedHashes(concatenated(before.map((part) => part.hashes)));
      this.source = sourceIndex;
    }
    const blob = blobs[blobIndex]!;
    const own = sortedHashes(concatenated((await this.hashesOf([blob])).map((part) => part.hashes)));
    const meeting = hashesMeeting(this.sorted, own);
    this.sorted = mergeSorted(this.sorted, own);
    if (meeting.size === 0) return [];
    // Seldom: only the earlier partitions holding a hash that meets are read again.
    const holding = new Set(
      (await this.hashesOf(blobs.slice(0, blobIndex)))
        .filter((part) => part.hashes.some((hash) => meeting.has(hash)))
        .map((part) => part.blobName),
    );
    return repeatedRowsOfPartition(
      from,
      blobs.slice(0, blobIndex).filter((candidate) => holding.has(candidate.blobName)),
      blob,
      emailColumn,
      meeting,
    );
  }

  private async hashesOf(blobs: PartitionBlob[]): Promise<{ blobName: string; hashes: Float64Array }[]> {
    const names = new Set(blobs.map((blob) => blob.blobName));
    return Promise.all(
      this.progress.scan.stretches
        .filter((stretch) => names.has(stretch.blobName))
        .map(async (stretch) => ({ blobName: stretch.blobName, hashes: await loadHashes(stretch) })),
    );
  }
}

function concatenated(parts: Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** Chunk messages queued per step: the progress is kept after each group. */
const MESSAGES_PER_STEP = 64;

/**
 * Keeps the progress and queues the plan's continuation; or, when the run was cancelled or ended
 * meanwhile, ends it (cancelled) or leaves it, and queues nothing.
 */
async function handPlanOn(
  run: RunRecord,
  stored: StoredProgress,
  what: string,
  ms: number,
  stepMs: Record<string, number>,
  log: Logger,
): Promise<void> {
  stored.progress.handOns++;
  stored.etag = await savePlanProgress(run.id, stored.progress, stored.etag);
  // The run row's write shows the recovery sweep that the plan is moving.
  const latest = await updateRun(run.exportId, run.id, (current) =>
    mayGoOn(current)
      ? {
          ...current,
          tasks: current.tasks.map((task) => (task.name === 'plan' ? { ...task, detail: `Planning: ${what}` } : task)),
        }
      : undefined,
  );
  if (!mayGoOn(latest)) {
    if (!isTerminal(latest.status) && latest.cancelRequested && !latest.planned)
      await endCancelledPlanning(latest, 'Cancelled while it was being planned.');
    return;
  }
  await sendQueueMessage(QUEUES.exportRuns, { exportId: run.exportId, runId: run.id } satisfies PlanRunMessage);
  log.info(`Planning goes on in another invocation (${what})`, { handOns: stored.progress.handOns, ms, stepMs });
}

function mayGoOn(run: RunRecord): boolean {
  return (run.status === 'queued' || run.status === 'running') && !run.cancelRequested && !run.planned;
}

/** Everything decided before the segments are read; undefined when the run was ended instead. */
async function setUpPlan(job: PlanJob, log: Logger): Promise<PlanSetup | undefined> {
  const { run, record, connection, access } = job;
  const { destination } = access;

  const container = lakeContainer();
  const { model, version: lakeVersion } = await readModelVersioned(container);
  const lakeSegments = segmentsOf(model);
  const planned: PlannedSegment[] = [];
  for (const segmentId of record.segments) {
    const segment = lakeSegments.find((candidate) => candidate.id === segmentId);
    if (!segment) return void (await finishRunEarly(run, 'failed', `Segment '${segmentId}' no longer exists in the lake.`));
    const eligibility = eligibilityOf(segment, destination, undefined, record.details);
    if (!eligibility.eligible) return void (await finishRunEarly(run, 'skipped', eligibility.reason!));
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
  const overLimit = async (members: number): Promise<undefined> => {
    await finishRunEarly(
      run,
      'skipped',
      `The export has ${members.toLocaleString('en-US')} members; ${destination.displayName} takes at most ${limit.toLocaleString('en-US')} per export. Nothing was sent.`,
    );
    return undefined;
  };

  // What the senders read: each segment's partitions, or, when several segments share one list,
  // their union without repeated members (written once per run into Outflow's working container).
  let sources: ChunkSource[] = [];
  for (const segment of planned) {
    const entity = model.entities.find((candidate) => candidate.name === segment.entity)!;
    sources.push({ segment, container: 'lake', blobs: await partitionBlobs(container, entity) });
  }
  if (planned.length > 1 && !destination.listPerSegment) {
    const emailAttribute = record.mapping.email;
    if (!emailAttribute)
      return void (await finishRunEarly(run, 'failed', 'Several segments to one list need email mapped, to send each member once.'));
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
        return void (await finishRunEarly(
          run,
          'failed',
          `${destination.displayName} refused the export's setup (${error.category}): ${error.message}`,
        ));
      throw error;
    }
  }

  // Changes, removals and retries: the senders read files of the members to send or remove, made
  // by the comparison with the last delivery that follows the set-up in steps.
  let delivery: Awaited<ReturnType<typeof planDelivery>>;
  try {
    delivery = await planDelivery(run, record, sources, totalMembers);
  } catch (error) {
    if ((error as Error).message.startsWith('The mapping uses'))
      return void (await finishRunEarly(run, 'failed', (error as Error).message));
    throw error;
  }
  // A delivery run's prediction waits for its files: it sends what they hold, and removes who left.
  const prediction = delivery ? undefined : await predictionOf(job, sources, undefined, 'read', model, log);
  return {
    lakeVersion,
    sources,
    preparedDetails,
    totalMembers,
    chunkMembers: membersPerChunk(destination, access.rateLimit.requestsPerSecond, totalMembers, destinationConcurrency(destination)),
    delivery: delivery ? { ...delivery, files: { files: [], members: 0, counts: { joined: 0, changed: 0, unchanged: 0, left: 0 } } } : null,
    prediction: prediction ?? null,
  };
}

/**
 * The prediction a run records: for every member, or for what a delivery run's files send and
 * remove; either way from the run's start, with the planning of that kind (predictRun.ts).
 */
async function predictionOf(
  { run, connection, access }: PlanJob,
  sources: ChunkSource[],
  files: DeliveryFile[] | undefined,
  planning: PlanningKind,
  model: CdmModel,
  log: Logger,
  buckets?: number,
): Promise<RunPrediction | undefined> {
  const { destination } = access;
  const rows = (kind: 'send' | 'remove', segmentId?: string) =>
    files!.filter((file) => file.kind === kind && (!segmentId || file.segmentId === segmentId)).reduce((sum, file) => sum + file.rows, 0);
  const send = files
    ? destination.listPerSegment
      ? sources.map((source) => rows('send', source.segment.segmentId))
      : [rows('send')]
    : destination.listPerSegment
      ? sources.map((source) => source.segment.memberCount)
      : [sources.reduce((sum, source) => sum + source.segment.memberCount, 0)];
  const members = sources.reduce((sum, source) => sum + source.segment.memberCount, 0);
  const pieces = sources.reduce((sum, source) => sum + source.blobs.filter((blob) => blob.size > 0).length, 0);
  // A delivery run's files are per key bucket, each cut into its own chunks (as the plan counts them).
  const spread = buckets ? { buckets, chunkBasis: members } : {};
  // A comparison counted by a plan just before the run is predicted from that count, as the plan was.
  const countedSeconds = countable(planning)
    ? await countedBefore(run.exportId, members, run.startedAt).catch((error: Error) => {
        log.warn(`The plan's count was not read: ${error.message}`);
        return undefined;
      })
    : undefined;
  const work = { send, remove: files ? rows('remove') : 0, ...spread, planning: { kind: planning, members, pieces, countedSeconds } };
  return recordedPrediction(run, connection.id, destination, access.rateLimit, work, model, log);
}

/** The comparison is done: its files and change counts go into the set-up, with the prediction made for them. */
async function settleComparison(job: PlanJob, setup: PlanSetup, comparing: DeliveryProgress, log: Logger): Promise<void> {
  const delivery = setup.delivery!;
  const { counts } = comparing;
  delivery.files = { files: comparing.files, members: comparing.members, counts };
  if (delivery.plan.selection.kind === 'snapshot') delivery.delivery = { ...delivery.delivery, changes: counts };
  log.info(
    job.run.retryOf
      ? `Retrying the retryable failures of run ${job.run.retryOf}: ${comparing.files.reduce((sum, file) => sum + file.rows, 0)} members`
      : delivery.delivery.fullReason
        ? `Delivering everyone (${delivery.delivery.fullReason}); ${counts.left} left the segments`
        : `Delivering changes: ${counts.joined} joined, ${counts.changed} changed, ${counts.unchanged} unchanged, ${counts.left} left`,
    { ...counts },
  );
  const { model } = await readModelVersioned(lakeContainer());
  const planning = job.run.retryOf ? 'retry' : delivery.delivery.fullReason ? 'everyone' : 'changes';
  setup.prediction = (await predictionOf(job, setup.sources, comparing.files, planning, model, log, delivery.delivery.buckets)) ?? null;
}

const sourceAt = (setup: PlanSetup, index: number): ChunkSource | undefined => setup.sources[index];

/** Bytes of a chunk of `chunkMembers` members of this source (at least 64 KB). */
function targetBytesOf(source: ChunkSource, chunkMembers: number): number {
  const totalBytes = source.blobs.reduce((sum, blob) => sum + blob.size, 0);
  const bytesPerMember = source.segment.memberCount > 0 ? totalBytes / source.segment.memberCount : totalBytes;
  return Math.max(64 * 1024, Math.round(bytesPerMember * chunkMembers));
}

/** Percent of the segments' bytes read so far. */
function scannedShare(setup: PlanSetup, scan: PlanProgress['scan']): number {
  const sizes = setup.sources.map((source) => source.blobs.map((blob) => blob.size));
  const total = sizes.flat().reduce((sum, size) => sum + size, 0);
  let read = 0;
  sizes.forEach((blobs, sourceIndex) =>
    blobs.forEach((size, blobIndex) => {
      if (sourceIndex < scan.source || (sourceIndex === scan.source && blobIndex < scan.blob)) read += size;
      else if (sourceIndex === scan.source && blobIndex === scan.blob) read += scan.position.offset;
    }),
  );
  return total > 0 ? Math.floor((read / total) * 100) : 100;
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
