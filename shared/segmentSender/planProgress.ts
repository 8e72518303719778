// A plan too long for one invocation is made in several. What each invocation finished is kept in
// the run's working folder (outflow-work/runs/{runId}/plan/, deleted with the rest when the run
// ends), so the next one — the planner's own continuation, or a message delivered again — goes on
// from there instead of starting over. Every write is conditional on the version read: of two
// planners at work on one run (a continuation and a re-delivered message), the first to write
// goes on and the other stops at its next write.
import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { workContainer } from '../storage/clients.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';
import type { ModelVersion, PartitionBlob } from '../lake/lakeReader.js';
import type { DeliveryFiles, DeliveryPlan, DeliveryProgress } from '../delivery/planDelivery.js';
import type { ChunkRange, PlannedSegment, RunDelivery, RunPrediction } from '../runs/worker.js';
import type { ScanPosition } from './duplicateMembers.js';

/** What the senders read: a segment's partitions, or the run's union of several segments. */
export interface ChunkSource {
  segment: PlannedSegment;
  container: 'lake' | 'work';
  blobs: PartitionBlob[];
}

/** Everything decided before the segment is read: made once per run. */
export interface PlanSetup {
  lakeVersion: ModelVersion;
  sources: ChunkSource[];
  preparedDetails: Record<string, unknown>;
  totalMembers: number;
  chunkMembers: number;
  /**
   * Changes, removals and retries: what the comparison works from (`plan`); its files, and the
   * change counts in `delivery`, once every step of it is done (PlanProgress.delivery).
   */
  delivery: { plan: DeliveryPlan; files: DeliveryFiles; delivery: RunDelivery } | null;
  prediction: RunPrediction | null;
}

/** One stretch of a partition's scan whose email hashes are kept in a blob of their own. */
export interface HashStretch {
  blobName: string;
  file: string;
  count: number;
}

/** How far the read of the segments has come: partition by partition, stretch by stretch. */
export interface ScanProgress {
  source: number;
  blob: number;
  position: ScanPosition;
  /** Cuts found so far in the partition being read (`blob`). */
  partCuts: number[];
  stretches: HashStretch[];
}

/**
 * Each partition's chunks are cut, recorded and queued as soon as the partition has been read,
 * while the rest of the segment is still to read: the senders start after the first partition,
 * not after the whole segment.
 */
export interface PlanProgress {
  setup: PlanSetup;
  scan: ScanProgress;
  /** The comparison of a delivery run, step by step; `done` once its files are in the set-up. */
  delivery?: DeliveryProgress;
  /** The chunks cut so far, in order (their repeated rows saved). */
  chunks: ChunkRange[];
  /** Every chunk is cut: the segments were read to their end (or the delivery files cut). */
  cut: boolean;
  /** The first `recorded` chunks are in the ledger and the run row counts them. */
  recorded: number;
  /** Chunk messages queued, in chunk order (never more than `recorded`). */
  messagesSent: number;
  /** Rows skipped for repeating an earlier row's email, in the chunks cut so far. */
  repeatedRows: number;
  /** Invocations that worked on the plan before this one. */
  handOns: number;
}

/** Another planner wrote the run's plan progress first: it goes on, this one stops. */
export class PlanSuperseded extends Error {
  constructor(runId: string) {
    super(`Another invocation is planning run ${runId}.`);
  }
}

const folderOf = (runId: string) => `runs/${runId}/plan`;

export interface StoredProgress {
  progress: PlanProgress;
  etag: string;
}

export async function loadPlanProgress(runId: string): Promise<StoredProgress | undefined> {
  const blob = (await workContainer()).getBlockBlobClient(`${folderOf(runId)}/progress.json`);
  try {
    const response = await blob.download();
    const text = await streamText(response.readableStreamBody!);
    return { progress: JSON.parse(text) as PlanProgress, etag: response.etag! };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

/** Writes the progress over the version read (`etag`), or as the first (none): PlanSuperseded if another planner wrote meanwhile. */
export async function savePlanProgress(runId: string, progress: PlanProgress, etag: string | undefined): Promise<string> {
  const body = JSON.stringify(progress);
  try {
    const written = await (
      await workContainer()
    )
      .getBlockBlobClient(`${folderOf(runId)}/progress.json`)
      .upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
      });
    return written.etag!;
  } catch (error) {
    // 409 (BlobAlreadyExists) or 412: someone else's version is there.
    if (isPreconditionFailed(error) || (error as { statusCode?: number }).statusCode === 409) throw new PlanSuperseded(runId);
    throw error;
  }
}

/**
 * Keeps one stretch's email hashes (8 bytes a row), in a blob of its own name: a planner that is
 * superseded never overwrites the stretch another one kept.
 */
export async function saveHashes(runId: string, index: number, blobName: string, hashes: Float64Array): Promise<HashStretch> {
  const file = `${folderOf(runId)}/hashes/${index}-${randomUUID()}.bin`;
  const bytes = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  await (await workContainer()).getBlockBlobClient(file).upload(bytes, bytes.length);
  return { blobName, file, count: hashes.length };
}

export async function loadHashes(stretch: HashStretch, container?: ContainerClient): Promise<Float64Array> {
  if (stretch.count === 0) return new Float64Array(0);
  const buffer = await (container ?? (await workContainer())).getBlockBlobClient(stretch.file).downloadToBuffer();
  // A copy: the downloaded buffer need not be 8-byte aligned.
  const hashes = new Float64Array(stretch.count);
  new Uint8Array(hashes.buffer).set(buffer.subarray(0, stretch.count * 8));
  return hashes;
}

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(typeof part === 'string' ? Buffer.from(part) : part);
  return Buffer.concat(parts).toString('utf8');
}
