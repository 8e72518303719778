// The run ledger: one row per chunk (its byte range, progress and completion marker) and one row
// per failed or skipped record. Rows are keyed deterministically so a re-delivered chunk or a
// resumed one overwrites, never duplicates.
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { fromJson, getEntity, isStatus, listEntities, toJson } from '../storage/entities.js';
import type { RecordFailure } from '../destinations/destination.js';
import { ZERO_COUNTS, type RunCounts } from './run.js';
import { redactStored } from '../observability/redactStored.js';
import type { WaitsForSecrets } from './secretsOutage.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

export type ChunkStatus = 'pending' | 'sending' | 'done' | 'failed' | 'cancelled';

export interface ChunkRange {
  chunkId: string;
  /**
   * What the chunk is to the worker that planned it (the segment sender's 'send', the data-out
   * writer's 'copy', 'merge', 'publish'): the core hands each chunk message to the worker
   * registered for its step (see workers.ts).
   */
  step: string;
  segmentId: string;
  /** Where the blob is: the lake, or Outflow's working container (a multi-segment union). */
  container: 'lake' | 'work';
  blobName: string;
  /** ETag of the partition blob when planned: the run reads one consistent snapshot. */
  blobEtag: string;
  start: number;
  end: number;
  /** The partition's CSV format, from model.json. */
  delimiter: string;
  columnHeaders: boolean;
  /** Rows of the range the planner found repeating an earlier member's email (see duplicateMembers.ts). */
  duplicates?: number;
  /** Set when the range is of a delivery file (shared/delivery): members to send or to remove, and their key bucket. */
  delivery?: { kind: 'send' | 'remove'; bucket: number };
}

export interface ChunkState extends ChunkRange {
  runId: string;
  status: ChunkStatus;
  /** Byte offset of the first record not yet acknowledged by the destination. */
  resumeOffset: number;
  counts: RunCounts;
  leaseOwner: string;
  leaseUntil: number;
  reason: string;
  startedAt: string;
  finishedAt: string;
  /** When the row was last written (storage time, epoch ms): how the recovery sweep tells a chunk still driven. */
  writtenAt: number;
  etag: string;
}

interface ChunkRow {
  step?: string;
  segmentId: string;
  container: string;
  blobName: string;
  blobEtag: string;
  start: number;
  end: number;
  delimiter: string;
  columnHeaders: boolean;
  status: string;
  resumeOffset: number;
  counts: string;
  leaseOwner: string;
  leaseUntil: number;
  reason: string;
  startedAt: string;
  finishedAt: string;
  duplicates?: number;
  delivery?: string;
}

export function chunkIdFor(index: number): string {
  return `c${String(index).padStart(6, '0')}`;
}

/** The message that drives one chunk (a worker may add fields of its own; see the worker's step). */
export interface ChunkMessage extends WaitsForSecrets {
  exportId: string;
  runId: string;
  chunkId: string;
}

function toRow(
  runId: string,
  chunk: Omit<ChunkState, 'runId' | 'etag' | 'writtenAt'>,
): ChunkRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: runId,
    rowKey: chunk.chunkId,
    step: chunk.step,
    segmentId: chunk.segmentId,
    container: chunk.container,
    blobName: chunk.blobName,
    blobEtag: chunk.blobEtag,
    start: chunk.start,
    end: chunk.end,
    delimiter: chunk.delimiter,
    columnHeaders: chunk.columnHeaders,
    status: chunk.status,
    resumeOffset: chunk.resumeOffset,
    counts: toJson(chunk.counts),
    leaseOwner: chunk.leaseOwner,
    leaseUntil: chunk.leaseUntil,
    reason: redactStored(chunk.reason),
    startedAt: chunk.startedAt,
    finishedAt: chunk.finishedAt,
    duplicates: chunk.duplicates ?? 0,
    ...(chunk.delivery ? { delivery: toJson(chunk.delivery) } : {}),
  };
}

function fromRow(row: ChunkRow & { partitionKey?: string; rowKey?: string; etag: string; timestamp?: string }): ChunkState {
  return {
    runId: row.partitionKey!,
    chunkId: row.rowKey!,
    step: row.step ?? '',
    segmentId: row.segmentId,
    container: row.container === 'work' ? 'work' : 'lake',
    blobName: row.blobName,
    blobEtag: row.blobEtag,
    start: row.start,
    end: row.end,
    delimiter: row.delimiter || ',',
    columnHeaders: row.columnHeaders ?? false,
    status: row.status as ChunkStatus,
    resumeOffset: row.resumeOffset,
    leaseOwner: row.leaseOwner,
    leaseUntil: row.leaseUntil,
    reason: row.reason,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    duplicates: row.duplicates ?? 0,
    ...(row.delivery ? { delivery: fromJson<ChunkRange['delivery']>(row.delivery, undefined) } : {}),
    counts: fromJson(row.counts, ZERO_COUNTS),
    writtenAt: Date.parse(row.timestamp ?? '') || 0,
    etag: row.etag,
  };
}

async function submitInBatches(client: TableClient, actions: TransactionAction[]): Promise<void> {
  // Entity-group transactions take at most 100 actions, all in one partition.
  for (let index = 0; index < actions.length; index += 100) await client.submitTransaction(actions.slice(index, index + 100));
}

/**
 * Records the plan. Existing rows are left alone, so a re-planned run (the planner's message
 * delivered twice) never resets a chunk that has already made progress.
 */
export async function recordPlannedChunks(runId: string, chunks: ChunkRange[]): Promise<void> {
  const client = await table(TABLES.chunks);
  const existing = new Set((await listEntities<ChunkRow>(client, odata`PartitionKey eq ${runId}`)).map((row) => row.rowKey));
  const actions: TransactionAction[] = chunks
    .filter((chunk) => !existing.has(chunk.chunkId))
    .map((chunk): TransactionAction => [
      'create',
      {
        ...toRow(runId, {
          ...chunk,
          status: 'pending',
          resumeOffset: chunk.start,
          counts: ZERO_COUNTS,
          leaseOwner: '',
          leaseUntil: 0,
          reason: '',
          startedAt: '',
          finishedAt: '',
        }),
      },
    ]);
  await submitInBatches(client, actions);
}

export async function getChunk(runId: string, chunkId: string): Promise<ChunkState | undefined> {
  const row = await getEntity<ChunkRow>(await table(TABLES.chunks), runId, chunkId);
  return row ? fromRow(row) : undefined;
}

export async function listChunks(runId: string): Promise<ChunkState[]> {
  return (await listEntities<ChunkRow>(await table(TABLES.chunks), odata`PartitionKey eq ${runId}`)).map(fromRow);
}

/**
 * Whether any chunk of the run is still pending or sending: one row at most comes back, so the
 * check after every chunk's end does not read the whole ledger while the run is far from done.
 */
export async function hasUnfinishedChunk(runId: string): Promise<boolean> {
  const client = await table(TABLES.chunks);
  const pages = client
    .listEntities<ChunkRow>({
      queryOptions: { filter: odata`PartitionKey eq ${runId} and (status eq 'pending' or status eq 'sending')`, select: ['status'] },
    })
    .byPage({ maxPageSize: 1 });
  for await (const page of pages) if (page.length > 0) return true;
  return false;
}

/** Writes the chunk only if nobody changed it since it was read; false when someone did. */
export async function saveChunk(chunk: ChunkState): Promise<ChunkState | undefined> {
  const client = await table(TABLES.chunks);
  try {
    const result = await client.updateEntity(toRow(chunk.runId, chunk), 'Replace', { etag: chunk.etag });
    return { ...chunk, etag: result.etag!, writtenAt: Date.now() };
  } catch (error) {
    if (isPreconditionFailed(error) || isStatus(error, 404)) return undefined;
    throw error;
  }
}

export interface RecordOutcome extends RecordFailure {
  chunkId: string;
  /** Byte offset of the record in its chunk's file: a stable key across retries. */
  offset: number;
  segmentId: string;
  /** The profile's key (the entity's primary key), or '' when the row has none. */
  key?: string;
  /** The source row: its lake partition and the byte offset where the row starts. */
  source?: { partition: string; offset: number };
  /** What failed for this record: sending it (default) or removing it from the list. */
  operation?: 'send' | 'remove';
}

/** One record outcome as the API shows it (JSON and CSV). */
export interface RecordView {
  email: string;
  key: string;
  status: string;
  category: string;
  code: string;
  message: string;
  segmentId: string;
  operation: 'send' | 'remove';
  /** Lake partition blob of the source row, and the row's byte offset in it. */
  partition: string;
  position: number | null;
}

interface RecordRow {
  key?: string;
  partition?: string;
  position?: number;
  operation?: string;
  email: string;
  status: string;
  category: string;
  code: string;
  message: string;
  segmentId: string;
}

export async function recordOutcomes(runId: string, outcomes: RecordOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  const client = await table(TABLES.records);
  const actions: TransactionAction[] = outcomes.map((outcome) => [
    'upsert',
    {
      partitionKey: runId,
      rowKey: `${outcome.chunkId}-${outcome.segmentId}-${String(outcome.offset).padStart(12, '0')}`,
      email: outcome.email,
      status: outcome.status,
      category: outcome.category,
      code: outcome.code,
      message: redactStored(outcome.message).slice(0, 1000),
      segmentId: outcome.segmentId,
      key: outcome.key ?? '',
      partition: outcome.source?.partition ?? '',
      position: outcome.source?.offset ?? -1,
      operation: outcome.operation ?? 'send',
    } satisfies RecordRow & { partitionKey: string; rowKey: string },
    'Replace',
  ]);
  await submitInBatches(client, actions);
}

export interface RecordPage {
  records: RecordView[];
  continuationToken?: string;
}

export async function listRecordOutcomes(
  runId: string,
  options: { status?: 'failed' | 'skipped'; top: number; continuationToken?: string },
): Promise<RecordPage> {
  const client = await table(TABLES.records);
  const filter = options.status ? odata`PartitionKey eq ${runId} and status eq ${options.status}` : odata`PartitionKey eq ${runId}`;
  const page = await client
    .listEntities<RecordRow>({ queryOptions: { filter } })
    .byPage({ maxPageSize: options.top, continuationToken: options.continuationToken })
    .next();
  if (page.done) return { records: [] };
  return {
    records: page.value.map(recordView),
    continuationToken: page.value.continuationToken,
  };
}

function recordView(row: RecordRow): RecordView {
  return {
    email: row.email,
    key: row.key ?? '',
    status: row.status,
    category: row.category,
    code: row.code,
    message: row.message,
    segmentId: row.segmentId,
    operation: row.operation === 'remove' ? 'remove' : 'send',
    partition: row.partition ?? '',
    position: row.position !== undefined && row.position >= 0 ? row.position : null,
  };
}
