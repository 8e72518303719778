// The data-out writer: handles the chunks of data-out runs (and segment exports to storage) in
// place of the vendor sender. A run's chunks are steps:
//   copy    (d-eEEE-pPPPPP) — a byte range of a lake partition, mapped (attribute selection and
//            renaming) into one output CSV partition; in incremental runs into per-bucket spill
//            files instead;
//   merge   (d-eEEE-bBBBBB, incremental only) — one key bucket: compares the spilled rows with the
//            previous snapshot, writes the inserts, updates and deletes and the new snapshot;
//   publish (d-publish) — model.json, the snapshot pointer and latest.json, once all else is done.
// Every step writes deterministic names and commits blobs only at the end, so a chunk delivered
// again after a crash simply rewrites its own output. Merge and publish wait for their inputs by
// re-queueing themselves; the chunk that completes a stage also queues the next one at once.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { lakeContainer, sendQueueMessage, workContainer } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import { getExport } from '../exports/exportStore.js';
import { LakeError, readRecords } from '../lake/lakeReader.js';
import { DestinationError } from '../destinations/destinationError.js';
import { destinationContainer, toDestinationError } from '../destinations/azureBlob.js';
import {
  deferWhileSecretsUnavailable,
  destinationAccess,
  finalizeIfComplete,
  getChunk,
  getRun,
  isTerminal,
  listChunks,
  recordOutcomes,
  saveChunk,
  secretsOutageNote,
  ZERO_COUNTS,
  type ChunkMessage,
  type ChunkState,
  type RecordOutcome,
  type RunCounts,
} from '../runs/worker.js';
import { bucketOf, partitionPath, rowHash, stepOf, type DataOutStep } from './dataOutPlan.js';
import { BucketFiles, CsvPartitionWriter } from './csvFiles.js';
import { cleanUpFailedRun, deleteBlobs, listBlobs, loadPlan, snapshotPrefix, spillPrefix } from './workFiles.js';
import { mergeBucket } from './mergeBucket.js';
import { publishFolder } from './publishFolder.js';
import { Cancelled, StepFailed, toLog, type Log, type LogInput, type StepContext } from './stepContext.js';

/** How long a writer owns a chunk without renewing; renewed every RENEW_MS while it works. */
export const LEASE_MS = 20_000;
const RENEW_MS = 5_000;
/** How often a merge or publish step looks again whether its inputs are done. */
const POLL_SECONDS = 5;

class LeaseLost extends Error {}

const ENDED = new Set(['done', 'failed', 'cancelled']);
const isEnded = (chunk: ChunkState) => ENDED.has(chunk.status);

/** Carries out one delivery of a data-out chunk's message; `known` is its ledger row when the core just read it. */
export async function writePartition(message: ChunkMessage, logInput?: LogInput, known?: ChunkState): Promise<void> {
  const log = toLog(logInput);
  const chunk = known ?? (await getChunk(message.runId, message.chunkId));
  const step = stepOf(message.chunkId);
  if (!chunk || !step) return log(`Chunk ${message.chunkId} of run ${message.runId} is not in the ledger; ignoring the message.`);
  if (isEnded(chunk)) {
    // A re-delivery after the chunk ended (maybe before the next stage was queued).
    await startNextSteps(message);
    return finalizeIfComplete(message.exportId, message.runId);
  }
  const run = await getRun(message.exportId, message.runId);
  if (isTerminal(run.status)) return;
  if (run.cancelRequested && step.kind !== 'publish') return endUnclaimed(message, 'cancelled', 'Run cancelled.');

  if (step.kind !== 'copy') {
    const gate = gateOf(step, await listChunks(message.runId));
    if (gate.state === 'waiting') return sendQueueMessage(QUEUES.exportChunks, message, { visibilityTimeoutSeconds: POLL_SECONDS });
    if (gate.state === 'blocked' || run.cancelRequested) {
      // Nothing writes any more: a run that will not publish leaves no files behind.
      if (step.kind === 'publish') await discardRun(message, log);
      return gate.state === 'blocked'
        ? endUnclaimed(message, gate.status, gate.reason)
        : endUnclaimed(message, 'cancelled', 'Run cancelled.');
    }
  }
  if (chunk.status === 'sending' && chunk.leaseUntil > Date.now()) return retryLater(message, chunk.leaseUntil - Date.now(), log);
  const plan = await loadPlan(message.exportId, message.runId);
  if (!plan) return endUnclaimed(message, 'failed', 'The run has no data-out plan (planning did not finish).');

  const lease = await ChunkLease.claim(chunk);
  if (!lease) return retryLater(message, LEASE_MS, log);
  let counts: RunCounts = { ...ZERO_COUNTS };
  lease.keepAlive(() => counts);
  let destination: Promise<ContainerClient> | undefined;
  let cancelCheckedAt = 0;
  const context: StepContext = {
    plan,
    chunk: lease.chunk,
    signal: lease.signal,
    log,
    destination: () =>
      (destination ??= (async () => {
        const record = await getExport(message.exportId);
        if (!record.connectionId) throw new StepFailed('The export lost its connection during the run.');
        return destinationContainer((await destinationAccess(record.connectionId, record.details)).call);
      })()),
    checkpoint: async () => {
      if (lease.signal.aborted) throw new LeaseLost();
      if (Date.now() - cancelCheckedAt < 1000) return;
      cancelCheckedAt = Date.now();
      if ((await getRun(message.exportId, message.runId)).cancelRequested) throw new Cancelled();
    },
  };

  try {
    const track = (next: RunCounts) => (counts = next);
    if (step.kind === 'copy') await copyRange(context, step, track);
    else if (step.kind === 'merge') await mergeBucket(context, step, track);
    else await publishFolder(context, await listChunks(message.runId), track);
    if (!(await lease.end('done', '', counts))) return log(`Chunk ${chunk.chunkId}: another writer took it over; stopping here.`);
  } catch (error) {
    if (error instanceof LeaseLost || lease.signal.aborted)
      return log(`Chunk ${chunk.chunkId}: another writer took it over; stopping here.`);
    if (error instanceof Cancelled || isPermanent(error)) {
      const ended = await lease.end(
        error instanceof Cancelled ? 'cancelled' : 'failed',
        error instanceof Cancelled ? 'Run cancelled.' : messageOf(error),
        counts,
      );
      if (ended && step.kind === 'publish') await discardRun(message, log);
    } else if (await deferWhileSecretsUnavailable(QUEUES.exportChunks, message, error)) {
      await lease.release('Waiting for Key Vault to answer.');
      return log(secretsOutageNote(message));
    } else {
      // Retried by the queue (poison after 5 attempts ends the chunk with this reason).
      await lease.release(`Attempt failed: ${messageOf(error)}`);
      throw error;
    }
  }
  await startNextSteps(message);
  await finalizeIfComplete(message.exportId, message.runId);
}

/** Copies one byte range of a lake partition, mapped, into its output partition (or spills). */
async function copyRange(context: StepContext, step: DataOutStep & { kind: 'copy' }, track: (counts: RunCounts) => void): Promise<void> {
  const { plan, chunk } = context;
  const entity = plan.entities[step.entity]!;
  const sources = entity.columns.map((column) => column.sourceIndex);
  const counts: RunCounts = { ...ZERO_COUNTS };
  track(counts);
  const outcomes: RecordOutcome[] = [];
  const missingKey = (offset: number): RecordOutcome => ({
    chunkId: chunk.chunkId,
    offset,
    segmentId: entity.name,
    email: '',
    status: 'skipped',
    category: 'invalidRecord',
    code: 'missingKey',
    message: `The row has no value in the key column '${entity.columns[entity.keyColumn]!.name}', so changes to it cannot be tracked.`,
  });
  const records = readRecords(lakeContainer(), chunk.blobName, chunk.start, chunk.end, {
    ifMatch: chunk.blobEtag,
    delimiter: chunk.delimiter,
    columnHeaders: chunk.columnHeaders,
    abortSignal: context.signal,
  });
  const work = await workContainer();

  if (plan.mode === 'incremental') {
    // Rows go to the key bucket their merge step reads; the row itself is written only if it changed.
    const spill = new BucketFiles(plan.buckets, (bucket) =>
      work.getBlockBlobClient(`${spillPrefix(plan.exportId, plan.runId, entity.name, bucket)}${chunk.chunkId}.csv`),
    );
    for await (const record of records) {
      counts.members++;
      const row = sources.map((index) => record.values[index] ?? '');
      const key = row[entity.keyColumn]!;
      if (key === '') {
        counts.skipped++;
        outcomes.push(missingKey(record.offset));
      } else {
        const wait = spill.add(bucketOf(key, plan.buckets), [key, rowHash(row), String(record.offset), ...row]);
        if (wait) await wait;
      }
      if ((counts.members & 1023) === 0) await context.checkpoint();
    }
    await spill.commit();
  } else {
    const destination = await context.destination();
    const writer = new CsvPartitionWriter(destination.getBlockBlobClient(partitionPath(plan, step)), {
      header: plan.includeHeader ? entity.columns.map((column) => column.name) : undefined,
      abortSignal: context.signal,
    });
    // An incremental export's full run also keeps key → hash for the next run to compare with.
    const snapshot = plan.keepSnapshot
      ? new BucketFiles(plan.buckets, (bucket) =>
          work.getBlockBlobClient(`${snapshotPrefix(plan.exportId, plan.runId, entity.name, bucket)}${chunk.chunkId}.csv`),
        )
      : undefined;
    try {
      for await (const record of records) {
        counts.members++;
        const row = sources.map((index) => record.values[index] ?? '');
        const wait = writer.write(row);
        if (wait) await wait;
        const key = row[entity.keyColumn]!;
        if (snapshot && key !== '') {
          const snapshotWait = snapshot.add(bucketOf(key, plan.buckets), [key, rowHash(row)]);
          if (snapshotWait) await snapshotWait;
        }
        if ((counts.members & 1023) === 0) await context.checkpoint();
      }
      await writer.finish();
    } catch (error) {
      writer.abort();
      throw error;
    }
    await snapshot?.commit();
    counts.sent = writer.rows;
  }
  await recordOutcomes(plan.runId, outcomes);
}

type Gate = { state: 'ready' } | { state: 'waiting' } | { state: 'blocked'; status: 'failed' | 'cancelled'; reason: string };

/** Merge waits for its entity's copies; publish for every other chunk. */
export function gateOf(step: DataOutStep, chunks: ChunkState[]): Gate {
  const inputs = chunks.filter((candidate) => {
    const other = stepOf(candidate.chunkId);
    if (!other || other.kind === 'publish') return false;
    return step.kind === 'publish' || (other.kind === 'copy' && step.kind === 'merge' && other.entity === step.entity);
  });
  if (inputs.some((input) => !isEnded(input))) return { state: 'waiting' };
  const failed = inputs.find((input) => input.status === 'failed');
  if (failed)
    return {
      state: 'blocked',
      status: 'failed',
      reason: `Not written, because chunk ${failed.chunkId} failed: ${failed.reason.replace(/^Not written, because chunk [^:]+ failed: /, '')}`,
    };
  if (inputs.some((input) => input.status === 'cancelled')) return { state: 'blocked', status: 'cancelled', reason: 'Run cancelled.' };
  return { state: 'ready' };
}

/** Queues the steps whose inputs have all ended (the pollers would find them a few seconds later). */
async function startNextSteps(message: ChunkMessage): Promise<void> {
  const chunks = await listChunks(message.runId);
  for (const candidate of chunks) {
    const step = stepOf(candidate.chunkId);
    if (!step || step.kind === 'copy' || candidate.status !== 'pending') continue;
    if (gateOf(step, chunks).state === 'waiting') continue;
    await sendQueueMessage(QUEUES.exportChunks, {
      exportId: message.exportId,
      runId: message.runId,
      chunkId: candidate.chunkId,
    } satisfies ChunkMessage);
  }
}

/** A run that will not publish: its half-written folder and its work files go (best effort). */
async function discardRun(message: ChunkMessage, log: Log): Promise<void> {
  try {
    const plan = await loadPlan(message.exportId, message.runId);
    if (plan) {
      const record = await getExport(message.exportId);
      if (record.connectionId) {
        const destination = destinationContainer((await destinationAccess(record.connectionId, record.details)).call);
        const prefix = `${plan.exportFolder}/${plan.folderName}/`;
        await deleteBlobs(
          destination,
          (await listBlobs(destination, prefix)).map((blob) => blob.name),
        );
      }
    }
    await cleanUpFailedRun(message.exportId, message.runId);
  } catch (error) {
    log(`Could not remove the files of unpublished run ${message.runId}: ${messageOf(error)}`);
  }
}

function isPermanent(error: unknown): boolean {
  if (error instanceof StepFailed || error instanceof LakeError) return true;
  const mapped =
    error instanceof DestinationError
      ? error
      : (error as { statusCode?: number }).statusCode
        ? toDestinationError(error, 'writing')
        : undefined;
  return !!mapped && !mapped.retryable && mapped.category !== 'network';
}

function messageOf(error: unknown): string {
  if ((error as { statusCode?: number }).statusCode !== undefined && !(error instanceof DestinationError))
    return toDestinationError(error, 'writing the folder').message;
  return (error as Error).message ?? String(error);
}

/** Ends a chunk nobody holds (cancelled or blocked before it started). */
async function endUnclaimed(message: ChunkMessage, status: 'failed' | 'cancelled', reason: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const latest = await getChunk(message.runId, message.chunkId);
    if (!latest || isEnded(latest)) break;
    if (latest.status === 'sending' && latest.leaseUntil > Date.now()) break; // its holder ends it
    if (await saveChunk({ ...latest, status, reason, leaseOwner: '', leaseUntil: 0, finishedAt: new Date().toISOString() })) break;
  }
  await startNextSteps(message);
  await finalizeIfComplete(message.exportId, message.runId);
}

/** Someone else holds the chunk: look again after their lease, without spending a dequeue. */
async function retryLater(message: ChunkMessage, afterMs: number, log: Log): Promise<void> {
  log(`Chunk ${message.chunkId} is held by another writer; checking again in ${Math.ceil(afterMs / 1000)} s.`);
  await sendQueueMessage(QUEUES.exportChunks, message, { visibilityTimeoutSeconds: Math.ceil(afterMs / 1000) + 1 });
}

/** A claimed chunk: renews its lease while the step works; ledger writes go one at a time. */
class ChunkLease {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(public chunk: ChunkState) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  static async claim(chunk: ChunkState): Promise<ChunkLease | undefined> {
    const owner = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    // A new attempt starts the step over (its output is rewritten whole), so its counts do too.
    const claimed = await saveChunk({
      ...chunk,
      status: 'sending',
      leaseOwner: owner,
      leaseUntil: Date.now() + LEASE_MS,
      counts: ZERO_COUNTS,
      startedAt: chunk.startedAt || new Date().toISOString(),
    });
    return claimed && new ChunkLease(claimed);
  }

  /** Renews the lease (with the counts so far, for progress details) until the step ends. */
  keepAlive(counts: () => RunCounts): void {
    this.timer = setInterval(() => {
      void this.write(async () => {
        const renewed = await saveChunk({ ...this.chunk, leaseUntil: Date.now() + LEASE_MS, counts: { ...counts() } });
        if (renewed) this.chunk = renewed;
        else this.controller.abort();
      }).catch(() => undefined);
    }, RENEW_MS);
  }

  async end(status: 'done' | 'failed' | 'cancelled', reason: string, counts: RunCounts): Promise<boolean> {
    clearInterval(this.timer);
    return this.write(async () => {
      if (this.controller.signal.aborted) return false;
      return !!(await saveChunk({
        ...this.chunk,
        status,
        reason,
        counts,
        leaseOwner: '',
        leaseUntil: 0,
        finishedAt: new Date().toISOString(),
      }));
    });
  }

  async release(reason: string): Promise<void> {
    clearInterval(this.timer);
    await this.write(() => saveChunk({ ...this.chunk, leaseUntil: 0, reason })).catch(() => undefined);
  }

  private write<T>(action: () => Promise<T>): Promise<T> {
    const next = this.writes.then(action, action);
    this.writes = next.catch(() => undefined);
    return next;
  }
}
