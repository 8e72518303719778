// The sender: streams one chunk's byte range from the lake, matches fields, sends batches within
// the connection's rate budget, and acknowledges each batch in the ledger. A re-delivered chunk
// that completed is a no-op; a half-done one resumes after its last acknowledged batch.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { lakeContainer, sendQueueMessage, workContainer } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import { getExport } from '../exports/exportStore.js';
import type { BatchResult, MappedMember, RecordFailure } from '../destinations/destination.js';
import { uniqueByEmail } from '../destinations/duplicatesInBatch.js';
import { DestinationError } from '../destinations/destinationError.js';
import { readFieldBatches, readRecordBatches } from '../lake/lakeReader.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import {
  deferWhileSecretsUnavailable,
  destinationAccess,
  destinationConcurrency,
  finalizeIfComplete,
  getChunk,
  getRun,
  invocationBudgetMs,
  invocationDeadline,
  isTerminal,
  recordOutcomes,
  saveChunk,
  secretsOutageNote,
  type ChunkState,
  type DestinationAccess,
  type PlannedSegment,
  type RecordOutcome,
  type RunCounts,
  type RunRecord,
} from '../runs/worker.js';
import { matchRecord, matchingPlan, rowEmail, type MatchingPlan } from './dataMatching.js';
import { RateBudget } from './rateBudget.js';
import { ConcurrencyBudget, NoSlotInTime } from './concurrencyBudget.js';
import { BatchPacer } from './batchPacer.js';
import { claimSenderSlot, slotRetrySeconds } from './senderSlots.js';
import { loadChunkDuplicates } from './duplicateMembers.js';
import type { SendChunkMessage } from './planSegments.js';
import { silentLogger, type Logger } from '../observability/log.js';
import { recordMembers, recordVendorRateLimited } from '../observability/metrics.js';
import { profileKeyColumn } from '../lake/profileKey.js';
import { parseRemoveRow, parseSendRow, type SendRow } from '../delivery/planDelivery.js';
import { recordAccepted, type AcceptedMember } from '../delivery/deliverySnapshot.js';

type ChunkMessage = SendChunkMessage;

/** How long a sender owns a chunk without acknowledging a batch. */
export const LEASE_MS = 30_000;
const MAX_RETRIES = 8;
/** Removal calls acknowledged in one ledger write. */
const REMOVAL_CALLS_PER_ACK = 10;
/** Quick send calls acknowledged in one ledger write, up to SEND_MEMBERS_PER_ACK members. */
const SEND_CALLS_PER_ACK = 2;
const SEND_MEMBERS_PER_ACK = 2_000;
/** A batch within this share of the invocation's budget (read, call, acknowledgement) is quick. */
const QUICK_BATCH_SHARE = 0.01;
const MAX_RATE_LIMITED_RETRIES = 30;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A failure no retry can fix (credentials refused, list gone): the chunk ends failed. */
class ChunkFailed extends Error {}

/** Carries out one delivery of a 'send' chunk's message; `known` is its ledger row when the core just read it. */
export async function sendChunk(message: ChunkMessage, log: Logger = silentLogger, known?: ChunkState): Promise<void> {
  // Past this moment the invocation hands the rest of the chunk to a message of its own.
  const deadline = invocationDeadline();
  let chunk = known ?? (await getChunk(message.runId, message.chunkId));
  if (!chunk) {
    log.warn('The chunk is not in the ledger; ignoring the message.');
    return;
  }
  if (chunk.status === 'done' || chunk.status === 'failed' || chunk.status === 'cancelled') {
    // Already ended (a re-delivery): make sure the run was finalized, then nothing to do.
    await finalizeIfComplete(message.exportId, message.runId);
    return;
  }
  const run = await getRun(message.exportId, message.runId);
  if (isTerminal(run.status)) return;
  if (run.cancelRequested) return endChunk(chunk, 'cancelled', 'Run cancelled.', message);

  const owner = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  if (chunk.status === 'sending' && chunk.leaseUntil > Date.now()) return retryLater(message, chunk.leaseUntil - Date.now(), log);

  // A failure before sending keeps the reason in the ledger (no lease is held yet) so the queue's
  // retries and poison queue end the chunk with it.
  const noteFailure = async (error: unknown): Promise<never> => {
    await saveChunk({ ...chunk!, leaseUntil: 0, reason: `Attempt failed: ${(error as Error).message}` }).catch(() => undefined);
    throw error;
  };
  const record = await getExport(message.exportId).catch(noteFailure);
  if (!record.connectionId) return endChunk(chunk, 'failed', 'The export lost its connection during the run.', message);
  const details = run.preparedDetails ?? record.details;
  let access: DestinationAccess;
  try {
    access = await destinationAccess(record.connectionId, details);
  } catch (error) {
    if (!(await deferWhileSecretsUnavailable(QUEUES.exportChunks, message, error))) return noteFailure(error);
    log.warn(secretsOutageNote(message));
    await saveChunk({ ...chunk, leaseUntil: 0, reason: 'Waiting for Key Vault to answer.' }).catch(() => undefined);
    return;
  }
  const segment = run.segments.find((candidate) => candidate.segmentId === chunk!.segmentId);
  if (!segment) return endChunk(chunk, 'failed', `Segment '${chunk.segmentId}' is not in the run's plan.`, message);
  let plan: MatchingPlan;
  try {
    plan = matchingPlan(record.mapping, segment.attributes);
  } catch (error) {
    return noteFailure(error);
  }

  // Only as many senders as the connection's rate and calls in flight keep busy: the others wait in the queue.
  const slot = await claimSenderSlot(access.connection.id, access.rateLimit, destinationConcurrency(access.destination)).catch(noteFailure);
  if (!slot) {
    // The row is written now and then while waiting: that is how the recovery sweep sees the chunk driven.
    if (Date.now() - chunk.writtenAt > WAITING_NOTE_MS) await saveChunk({ ...chunk, leaseUntil: 0 }).catch(() => undefined);
    // Each miss in a row waits longer (the message counts them; a sender's own continuation starts again at none).
    const misses = (message.slotMisses ?? 0) + 1;
    return handOn(
      { ...message, slotMisses: misses },
      slotRetrySeconds(misses, access.rateLimit) * 1000,
      'every sender slot of the connection is taken',
      log,
    );
  }
  try {
    const now = Date.now();
    const claimed = await saveChunk({
      ...chunk,
      status: 'sending',
      leaseOwner: owner,
      leaseUntil: now + LEASE_MS,
      startedAt: chunk.startedAt || new Date(now).toISOString(),
    });
    if (!claimed) return await retryLater(message, LEASE_MS, log);
    chunk = claimed;
    return await sendClaimedChunk(message, chunk, { run, record, details, access, segment, plan, owner, deadline }, log);
  } finally {
    await slot.release().catch(() => undefined);
  }
}

/** How often a chunk waiting for a sender slot writes its row (well inside the recovery sweep's patience). */
const WAITING_NOTE_MS = 60_000;
/** A wait for the rate (or a vendor's Retry-After) longer than this is spent in the queue, not in an invocation. */
export const LONGEST_WAIT_IN_INVOCATION_MS = 3_000;
/** When a chunk that found no call slot within its budget looks again. */
const SLOT_WAIT_RETRY_MS = 1_000;

interface ClaimedChunkSetup {
  run: RunRecord;
  record: ExportRecord;
  details: Record<string, unknown>;
  access: DestinationAccess;
  segment: PlannedSegment;
  plan: MatchingPlan;
  owner: string;
  deadline: number;
}

async function sendClaimedChunk(message: ChunkMessage, claimedChunk: ChunkState, setup: ClaimedChunkSetup, log: Logger): Promise<void> {
  let chunk: ChunkState | undefined = claimedChunk;
  let { access } = setup;
  const { record, details, segment, plan, owner, deadline, run } = setup;
  // A delivery file's rows (shared/delivery) carry their key and source; a lake row has its key at the profile key's column.
  const delivery = chunk.delivery;
  const removing = delivery?.kind === 'remove';
  const keyColumn = profileKeyColumn(segment.attributes);
  // Accepted members are written for the snapshot by runs that keep one, into their own, and by a
  // retry run into the committed snapshot it extends (after that run's batches).
  const extended = run.delivery?.extendsSnapshot;
  const keepsSnapshot = Boolean(delivery && (run.delivery?.keepsSnapshot || extended));
  const snapshotRunId = extended ? extended.runId : chunk.runId;
  const batchPrefix = extended ? extended.batchPrefix : '';
  // A failure before sending gives the chunk back (lease released, reason kept) so the queue's
  // retries and poison queue end it; a lease left held would only re-queue the chunk forever.
  const released = async (error: unknown): Promise<never> => {
    await saveChunk({ ...chunk!, leaseUntil: 0, reason: `Attempt failed: ${(error as Error).message}` }).catch(() => undefined);
    throw error;
  };
  const skipRows = chunk.duplicates ? await loadChunkDuplicates(chunk.runId, chunk.chunkId).catch(released) : new Set<number>();
  const budget = new RateBudget(access.connection.id, access.rateLimit);
  const slots = new ConcurrencyBudget(access.connection.id, destinationConcurrency(access.destination));
  const segmentRef = { id: segment.segmentId, name: segment.segmentName, type: segment.type };
  // Removals go in calls of the vendor's removal size (one member where it has no bulk form), and
  // a few calls are acknowledged together: fewer ledger writes, and still a short step to redo.
  const callSize = removing ? (access.destination.removalBatchSize ?? access.destination.batchSize) : access.destination.batchSize;
  const batchSize = removing ? Math.min(access.destination.batchSize, callSize * REMOVAL_CALLS_PER_ACK) : callSize;
  // Sends are acknowledged call by call until the calls prove quick; then two at a time, which
  // halves the ledger writes (a crash re-sends at most the two: upserts). Slow calls (imports,
  // a throttled vendor) keep one per acknowledgement, so the pacing before the budget stays per call.
  const groupedBatchSize = removing || callSize * SEND_CALLS_PER_ACK > SEND_MEMBERS_PER_ACK ? batchSize : callSize * SEND_CALLS_PER_ACK;
  const quickBatchMs = invocationBudgetMs() * QUICK_BATCH_SHARE;
  let membersPerAck = batchSize;
  if (removing && !access.destination.removeBatch)
    return endChunk(chunk, 'failed', `${access.destination.displayName} cannot remove members from a list.`, message);

  const counts: RunCounts = { ...chunk.counts };
  // Counts already in the metrics; a resumed chunk reports only what it adds to its ledger counts.
  let reported: RunCounts = { ...chunk.counts };
  const reportMembers = () => {
    recordMembers(access.destination.type, {
      succeeded: counts.succeeded - reported.succeeded,
      failed: counts.failed - reported.failed,
      skipped: counts.skipped - reported.skipped,
    });
    reported = { ...counts };
  };
  // Cancel is checked before each batch (see cancelRequestedOf).
  const cancelRequested = () => cancelRequestedOf(message.exportId, message.runId);
  // Retries a previous invocation spent on the batch it handed on count toward this one's limits.
  let carriedRetries = message.retries;
  const takeCarriedRetries = () => {
    const carried = carriedRetries;
    carriedRetries = undefined;
    return carried;
  };
  let batch: BatchItem[] = [];
  // Where each vendor call of the batch begins, with the counts and outcomes read before it: a
  // batch handed on after some of its calls is acknowledged up to the first call not sent.
  let callStarts: CallStart[] = [];
  const addToBatch = (item: BatchItem, rowCounted: boolean) => {
    if (batch.length % callSize === 0)
      callStarts.push({
        index: batch.length,
        offset: item.offset,
        members: counts.members - (rowCounted ? 1 : 0),
        skipped: counts.skipped,
        failed: counts.failed,
        outcomes: outcomes.length,
      });
    batch.push(item);
  };
  let outcomes: RecordOutcome[] = [];
  // Emails this chunk sent, so a repeat is not sent twice. A lake chunk needs none: the planner
  // marked every row whose email an earlier row of the segment has (skipRows, with the same
  // trimming and lower-casing), and a set of a whole chunk's emails would keep each email's row
  // in memory until the chunk ends.
  const seenEmails = chunk.container === 'lake' && !delivery ? undefined : new Set<string>();

  /** A row's key and where it came from, for its outcome or the snapshot: built only when one needs them. */
  const aboutRow = (offset: number, values: string[], row?: SendRow): RowAbout =>
    row ? { key: row.key, source: { partition: row.partition, offset: row.position } } : aboutKeyAt(offset, values[keyColumn]);
  /** A file row's: its key column as read, and its partition and offset when the file is a lake partition. */
  const aboutKeyAt = (offset: number, rowKey: string | undefined): RowAbout => ({
    key: (rowKey ?? '').trim(),
    source: chunk!.container === 'lake' ? { partition: chunk!.blobName, offset } : undefined,
  });
  const aboutItem = (item: BatchItem): RowAbout => item.about ?? aboutKeyAt(item.offset, item.rowKey);

  const outcome = (offset: number, failure: RecordFailure, about?: RowAbout): RecordOutcome => ({
    ...failure,
    chunkId: chunk!.chunkId,
    offset,
    segmentId: segment.segmentId,
    ...(about?.key ? { key: about.key } : {}),
    ...(about?.source ? { source: about.source } : {}),
    ...(removing ? { operation: 'remove' as const } : {}),
  });

  // Ledger writes of this sender go one at a time: a lease renewal racing a batch acknowledgement
  // would make one of them fail its ETag check and look like a lost lease.
  let ledgerQueue: Promise<unknown> = Promise.resolve();
  const withLedger = <T>(write: () => Promise<T>): Promise<T> => {
    const next = ledgerQueue.then(write, write);
    ledgerQueue = next.catch(() => undefined);
    return next;
  };

  /**
   * Gives the chunk back (lease released, progress kept) and queues its continuation, visible
   * after `waitMs`: the next invocation resumes after the last acknowledged batch. Released first,
   * so the continuation finds the chunk free; if the message cannot be sent, the error makes the
   * queue deliver this message again, which resumes the same way.
   */
  const handOnChunk = async (waitMs: number, why: string, retries?: CarriedRetries): Promise<void> => {
    await withLedger(async () => {
      const saved = await saveChunk({ ...chunk!, leaseOwner: '', leaseUntil: 0 });
      if (!saved) throw new LeaseLost();
      chunk = saved;
    });
    await handOn(
      { exportId: message.exportId, runId: message.runId, chunkId: message.chunkId, ...(retries ? { retries } : {}) },
      waitMs,
      why,
      log,
    );
  };

  /** Keeps the lease alive while waiting on the vendor. */
  const renewLease = () =>
    withLedger(async () => {
      if (chunk!.leaseUntil - Date.now() > LEASE_MS / 2) return;
      const renewed = await saveChunk({ ...chunk!, leaseUntil: Date.now() + LEASE_MS });
      if (!renewed) throw new LeaseLost();
      chunk = renewed;
    });

  // A batch to send holds each email once (skipRows, seenEmails): the adapters need not look again.
  // Not so for removals, nor for lists keyed by something else (every email empty).
  const sentOnce = (members: MappedMember[]) => (removing || plan.emailColumn < 0 ? members : uniqueByEmail(members));
  const send = async (members: BatchItem[]): Promise<BatchResult> => {
    // Keeps the lease alive even when one vendor call takes minutes (asynchronous imports).
    const heartbeat = setInterval(() => void renewLease().catch(() => undefined), LEASE_MS / 6);
    try {
      const result: BatchResult = { succeeded: 0, failures: [] };
      for (let from = 0; from < members.length; from += callSize) {
        const part = await sendWithRetries(sentOnce(members.slice(from, from + callSize).map((item) => item.member)), {
          budget,
          slots,
          owner,
          deadline,
          carried: takeCarriedRetries(),
          getAccess: () => ({ ...access, call: { ...access.call, segment: segmentRef } }),
          refreshAccess: async () => (access = await destinationAccess(record.connectionId!, details, { fresh: true })),
          renewLease,
          log,
          operation: removing ? 'remove' : 'send',
        }).catch((error: unknown) => {
          throw error instanceof HandOn && from > 0 ? new PartlySent(from, result, error) : error;
        });
        result.succeeded += part.succeeded;
        result.failures.push(...part.failures);
      }
      return result;
    } finally {
      clearInterval(heartbeat);
    }
  };

  /** Sends the batch, then acknowledges it and everything read so far in one ledger write. */
  const flush = async (nextOffset: number): Promise<'continue' | 'cancelled'> => {
    let handedOn: HandOn | undefined;
    if (batch.length > 0) {
      if (await cancelRequested()) {
        reportMembers();
        return 'cancelled';
      }
      let result: BatchResult;
      try {
        result = await send(batch);
      } catch (error) {
        if (!(error instanceof PartlySent)) throw error;
        // Acknowledge the calls sent; the rows from the first call not sent are read again.
        const start = callStarts.find((candidate) => candidate.index === error.sent)!;
        ({ result, handOn: handedOn } = error);
        batch = batch.slice(0, error.sent);
        counts.members = start.members;
        counts.skipped = start.skipped;
        counts.failed = start.failed;
        outcomes.length = start.outcomes;
        nextOffset = start.offset;
      }
      if (removing) counts.removed = (counts.removed ?? 0) + result.succeeded;
      else {
        counts.sent += batch.length;
        counts.succeeded += result.succeeded;
      }
      const notTaken = new Set<string>();
      // Each failure's row, found by email: built only for a batch with failures.
      const items = result.failures.length > 0 ? new Map(batch.map((item) => [item.member.email, item])) : undefined;
      for (const failure of result.failures) {
        if (failure.status === 'skipped') counts.skipped++;
        else counts.failed++;
        notTaken.add(failure.email);
        const item = items?.get(failure.email);
        outcomes.push(outcome(item?.offset ?? nextOffset, failure, item ? aboutItem(item) : undefined));
      }
      // What the destination took joins the snapshot before the batch is acknowledged: a batch
      // sent again after a crash writes the same file (named after its first row) again.
      if (keepsSnapshot) {
        const accepted: AcceptedMember[] = batch
          .filter((item) => item.snapshot && !notTaken.has(item.member.email))
          .map((item) => ({ key: aboutItem(item).key, ...item.snapshot!, email: item.member.email }));
        await recordAccepted(
          record.id,
          snapshotRunId,
          delivery!.bucket,
          `${batchPrefix}${chunk!.chunkId}-${String(batch[0]!.offset).padStart(12, '0')}`,
          removing ? 'removed' : 'sent',
          accepted,
        );
      }
    }
    await recordOutcomes(chunk!.runId, outcomes);
    await withLedger(async () => {
      const saved = await saveChunk({ ...chunk!, resumeOffset: nextOffset, counts: { ...counts }, leaseUntil: Date.now() + LEASE_MS });
      if (!saved) throw new LeaseLost();
      chunk = saved;
    });
    reportMembers();
    batch = [];
    callStarts = [];
    outcomes = [];
    if (handedOn) throw handedOn;
    return 'continue';
  };

  // Hands the chunk on before a batch that would not end inside the budget (see batchPacer.ts).
  const pacer = new BatchPacer(deadline);
  try {
    const source = chunk.container === 'work' ? await workContainer() : lakeContainer();
    pacer.batchStarted();
    const readOptions = { ifMatch: chunk.blobEtag, delimiter: chunk.delimiter, columnHeaders: chunk.columnHeaders };
    // A downloaded piece's records at a time: one await per piece, not per record. A lake row is
    // read for the mapped columns and its key alone; a delivery file's rows are read whole.
    const records = delivery
      ? readRecordBatches(source, chunk.blobName, chunk.resumeOffset, chunk.end, readOptions)
      : readFieldBatches(
          source,
          chunk.blobName,
          chunk.resumeOffset,
          chunk.end,
          [...plan.columns.map(([, index]) => index), keyColumn],
          readOptions,
        );
    for await (const items of records) {
      for (const item of items) {
        if (batch.length >= membersPerAck) {
          if ((await flush(item.offset)) === 'cancelled') return endChunk(chunk, 'cancelled', 'Run cancelled.', message, counts);
          pacer.batchEnded();
          membersPerAck = pacer.longestBatchMs <= quickBatchMs ? groupedBatchSize : batchSize;
          // Everything before this row is acknowledged: when another batch would not end inside
          // the budget, the rest goes to a continuation.
          if (pacer.shouldHandOn())
            return await handOnChunk(
              0,
              Date.now() >= deadline
                ? 'its time budget is spent'
                : `another batch (the longest took ${(pacer.longestBatchMs / 1000).toFixed(1)} s) would outlast its time budget`,
            );
          pacer.batchStarted();
        }
        if (removing) {
          // Who left the segments: what the snapshot remembers of them is what the removal sends.
          const { key, entry } = parseRemoveRow(item.values);
          const fields = JSON.parse(entry.fields || '{}') as Record<string, string>;
          addToBatch(
            { member: { email: entry.email || `#${item.offset}`, fields }, offset: item.offset, about: { key }, snapshot: entry },
            false,
          );
          continue;
        }
        counts.members++;
        const row = delivery ? parseSendRow(item.values) : undefined;
        const values = row ? row.values : item.values;
        // Delivery rows carry their key and source; a lake row's are read from its values only when needed.
        const about = row ? aboutRow(item.offset, values, row) : undefined;
        if (skipRows.has(item.offset) || row?.duplicate) {
          counts.skipped++;
          outcomes.push(
            outcome(item.offset, { email: rowEmail(values, plan.emailColumn), ...DUPLICATE_EMAIL }, about ?? aboutRow(item.offset, values)),
          );
          continue;
        }
        const matched = matchRecord(plan, values);
        const snapshot =
          row && matched.ok ? { hash: row.hash, segmentId: segment.segmentId, fields: JSON.stringify(matched.member.fields) } : undefined;
        if (!matched.ok) {
          counts.skipped++;
          outcomes.push(
            outcome(
              item.offset,
              { email: matched.email, status: 'skipped', category: 'invalidRecord', code: matched.code, message: matched.message },
              about ?? aboutRow(item.offset, values),
            ),
          );
        } else if (!matched.member.email) {
          // No email in this list's key (company lists): the row's offset identifies the member.
          addToBatch(
            {
              member: { ...matched.member, email: `#${item.offset}` },
              offset: item.offset,
              about,
              rowKey: values[keyColumn],
              snapshot,
            },
            true,
          );
        } else if (seenEmails?.has(matched.member.email)) {
          // The vendor keys members by email: a second row with the same email would overwrite the first.
          counts.skipped++;
          outcomes.push(outcome(item.offset, { email: matched.member.email, ...DUPLICATE_EMAIL }, about ?? aboutRow(item.offset, values)));
        } else {
          seenEmails?.add(matched.member.email);
          addToBatch({ member: matched.member, offset: item.offset, about, rowKey: values[keyColumn], snapshot }, true);
        }
      }
    }
    if ((await flush(chunk.end)) === 'cancelled') return endChunk(chunk, 'cancelled', 'Run cancelled.', message, counts);
    log.info('Chunk done', { counts });
    await endChunk(chunk, 'done', '', message, counts);
  } catch (error) {
    if (error instanceof LeaseLost) {
      log.warn('Another sender took the chunk over; stopping here.');
      return;
    }
    if (error instanceof HandOn) {
      // The batch in flight was not acknowledged: the continuation sends it again (an upsert).
      return await handOnChunk(error.waitMs, error.why, error.retries).catch((handOnError: unknown) => {
        if (handOnError instanceof LeaseLost) return;
        throw handOnError;
      });
    }
    if (error instanceof ChunkFailed) {
      log.error('Chunk failed', { reason: error.message });
      await flushOutcomesQuietly(chunk.runId, outcomes);
      reportMembers();
      return endChunk(chunk, 'failed', error.message, message, counts);
    }
    // Anything else is retried by the queue; the ledger keeps the progress and the last error.
    await saveChunk({ ...chunk, leaseUntil: 0, reason: `Attempt failed: ${(error as Error).message}` }).catch(() => undefined);
    throw error;
  }
}

class LeaseLost extends Error {}

/** A row's key and where it came from (a lake partition's byte offset), as its outcome records them. */
interface RowAbout {
  key: string;
  source?: { partition: string; offset: number };
}

/** A member on its way to the destination, with what its outcome and the snapshot need. */
interface BatchItem {
  member: MappedMember;
  /** Byte offset of the row in the chunk's file. */
  offset: number;
  /** Known up front for delivery-file rows and removals; a lake row's is made from `rowKey` when needed. */
  about?: RowAbout;
  /**
   * A lake row's key column as read, for its outcome or the snapshot: kept instead of the row's
   * values, so the rest of a batch's rows is garbage as soon as they are matched.
   */
  rowKey?: string;
  /** Set for delivery-file rows: what the snapshot keeps once the destination took the member. */
  snapshot?: { hash: string; segmentId: string; fields: string };
}

/** The cancel flag of each run as this process last read it. */
const cancelReads = new Map<string, { at: number; cancelled: Promise<boolean> }>();
const CANCEL_READ_MS = 1000;

/**
 * Whether the run was cancelled, read at most once a second per run in this process however many
 * of its chunks are sending here (each sender reading it on its own made one storage read per
 * second per sender).
 */
function cancelRequestedOf(exportId: string, runId: string): Promise<boolean> {
  const now = Date.now();
  const last = cancelReads.get(runId);
  if (last && now - last.at <= CANCEL_READ_MS) return last.cancelled;
  const cancelled = getRun(exportId, runId).then((run) => run.cancelRequested);
  cancelReads.set(runId, { at: now, cancelled });
  cancelled.catch(() => cancelReads.delete(runId));
  if (cancelReads.size > 256) for (const [id, read] of cancelReads) if (now - read.at > 60_000) cancelReads.delete(id);
  return cancelled;
}

async function flushOutcomesQuietly(runId: string, outcomes: RecordOutcome[]): Promise<void> {
  await recordOutcomes(runId, outcomes).catch(() => undefined);
}

/** Retries spent on a batch, carried by a continuation message so a batch never retries forever. */
export interface CarriedRetries {
  failures: number;
  rateLimited: number;
}

/** A batch's later call had to hand on: the calls before `sent` went out, with `result`. */
class PartlySent extends Error {
  constructor(
    readonly sent: number,
    readonly result: BatchResult,
    readonly handOn: HandOn,
  ) {
    super(handOn.message);
  }
}

/** Where a vendor call begins in the batch, and the counts and outcomes read before its first row. */
interface CallStart {
  index: number;
  offset: number;
  members: number;
  skipped: number;
  failed: number;
  outcomes: number;
}

/** A wait too long to spend inside an invocation: the chunk goes back to the queue for it. */
class HandOn extends Error {
  constructor(
    readonly waitMs: number,
    readonly why: string,
    readonly retries: CarriedRetries,
  ) {
    super(why);
  }
}

export const DUPLICATE_EMAIL = {
  status: 'skipped',
  category: 'invalidRecord',
  code: 'duplicateEmail',
  message: 'Another member of this export has the same email address; it was sent once.',
} as const;

interface SendContext {
  budget: RateBudget;
  slots: ConcurrencyBudget;
  owner: string;
  /** When the invocation should hand on; waits that would pass it are spent in the queue. */
  deadline?: number;
  carried?: CarriedRetries;
  getAccess(): DestinationAccess;
  refreshAccess(): Promise<DestinationAccess>;
  renewLease(): Promise<void>;
  log: Logger;
  /** Send members (default), or remove them from the list (removeBatch). */
  operation?: 'send' | 'remove';
}

/** Backoff with jitter, honouring the vendor's wait when it gives one. */
function backoffMs(attempt: number, vendorWaitMs: number | undefined): number {
  if (vendorWaitMs !== undefined) return vendorWaitMs + Math.floor(Math.random() * 100);
  return Math.min(30_000, 250 * 2 ** attempt) + Math.floor(Math.random() * 250);
}

/**
 * The wait after a throttle. A vendor that says when to come back (Retry-After, X-RateLimit-Reset)
 * is waited for. Most document no Retry-After (Mailchimp, Iterable, LinkedIn, Google Ads; see
 * shared/destinations/vendorFacts.ts) and their limits run per second up to per minute, so without
 * one the wait doubles from 1 s to at most a minute instead of knocking again every second.
 */
export function rateLimitedWaitMs(attempt: number, vendorWaitMs: number | undefined): number {
  if (vendorWaitMs !== undefined) return vendorWaitMs + Math.floor(Math.random() * 100);
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1)) + Math.floor(Math.random() * 250);
}

async function waitKeepingLease(ms: number, context: SendContext): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await context.renewLease();
    await sleep(Math.min(until - Date.now(), LEASE_MS / 3));
  }
}

/** Waits `ms` here, or, when that is long or would pass the invocation's deadline, hands the chunk on for it. */
async function waitOrHandOn(ms: number, why: string, retries: CarriedRetries, context: SendContext): Promise<void> {
  if (context.deadline !== undefined && (ms > LONGEST_WAIT_IN_INVOCATION_MS || Date.now() + ms > context.deadline))
    throw new HandOn(ms, why, retries);
  await waitKeepingLease(ms, context);
}

export async function sendWithRetries(members: MappedMember[], context: SendContext): Promise<BatchResult> {
  let failures = context.carried?.failures ?? 0;
  let rateLimited = context.carried?.rateLimited ?? 0;
  let refreshedSecrets = false;
  for (;;) {
    // One token of the connection's rate per vendor call: a removal that costs several calls
    // (dotdigital's look-up and delete, Klaviyo's id look-up and removal) takes that many.
    const tokens = context.operation === 'remove' ? Math.max(1, context.getAccess().destination.removalCallsPerBatch ?? 1) : 1;
    for (let token = 0; token < tokens; token++) {
      if (context.deadline === undefined) await context.budget.take();
      else {
        const waitMs = await context.budget.tryTake(Math.max(0, Math.min(LONGEST_WAIT_IN_INVOCATION_MS, context.deadline - Date.now())));
        if (waitMs > 0) throw new HandOn(waitMs, "the connection's rate has no request free soon", { failures, rateLimited });
      }
    }
    const { destination, call } = context.getAccess();
    try {
      return await context.slots.run(
        context.owner,
        () => (context.operation === 'remove' ? destination.removeBatch!(call, members) : destination.sendBatch(call, members)),
        // Waiting for one of the connection's call slots ends with the budget, as waiting for the rate does.
        { giveUpAt: context.deadline },
      );
    } catch (error) {
      if (error instanceof NoSlotInTime)
        throw new HandOn(SLOT_WAIT_RETRY_MS, `no call slot of ${destination.displayName} came free within the time budget`, {
          failures,
          rateLimited,
        });
      if (!(error instanceof DestinationError)) throw error;
      if (error.category === 'rateLimited') recordVendorRateLimited(destination.type);
      if (error.category === 'rateLimited' && rateLimited++ < MAX_RATE_LIMITED_RETRIES) {
        const wait = rateLimitedWaitMs(rateLimited, error.options.retryAfterMs);
        await context.budget.penalize(wait);
        await waitOrHandOn(wait, `${destination.displayName} asked to wait`, { failures, rateLimited }, context);
        continue;
      }
      if (error.retryable && failures++ < MAX_RETRIES) {
        await waitOrHandOn(
          backoffMs(failures, error.options.retryAfterMs),
          `${destination.displayName} failed the call; retrying`,
          { failures, rateLimited },
          context,
        );
        continue;
      }
      if (error.category === 'auth' && !refreshedSecrets) {
        // The secret may have been rotated since it was cached: read it again once.
        refreshedSecrets = true;
        await context.refreshAccess();
        continue;
      }
      if (error.category === 'invalidRecord') return isolateBadRecords(members, error, context);
      if (error.retryable) throw error;
      throw new ChunkFailed(`${destination.displayName} refused the batch (${error.category}): ${error.message}`);
    }
  }
}

/** The vendor rejected a whole batch for its content: split it to find the records at fault. */
async function isolateBadRecords(members: MappedMember[], error: DestinationError, context: SendContext): Promise<BatchResult> {
  if (members.length === 1) {
    return {
      succeeded: 0,
      failures: [
        {
          email: members[0]!.email,
          status: 'failed',
          category: 'invalidRecord',
          code: error.options.code ?? String(error.options.status ?? 'rejected'),
          message: error.message,
        },
      ],
    };
  }
  const middle = Math.ceil(members.length / 2);
  const left = await sendWithRetries(members.slice(0, middle), context);
  const right = await sendWithRetries(members.slice(middle), context);
  return { succeeded: left.succeeded + right.succeeded, failures: [...left.failures, ...right.failures] };
}

async function endChunk(
  chunk: ChunkState,
  status: 'done' | 'failed' | 'cancelled',
  reason: string,
  message: ChunkMessage,
  counts: RunCounts = chunk.counts,
): Promise<void> {
  const latest = (await getChunk(chunk.runId, chunk.chunkId)) ?? chunk;
  if (latest.status === 'done' || latest.status === 'failed' || latest.status === 'cancelled')
    return finalizeIfComplete(message.exportId, message.runId);
  await saveChunk({ ...latest, status, reason, counts, leaseOwner: '', leaseUntil: 0, finishedAt: new Date().toISOString() });
  await finalizeIfComplete(message.exportId, message.runId);
}

/** Queues the chunk's message again, visible after `waitMs`, and ends this invocation's part. */
async function handOn(message: ChunkMessage, waitMs: number, why: string, log: Logger): Promise<void> {
  const seconds = Math.max(0, Math.ceil(waitMs / 1000));
  log.info(`Handing the chunk on (${why}); it continues in ${seconds} s.`, { handOnSeconds: seconds });
  await sendQueueMessage(QUEUES.exportChunks, message, { visibilityTimeoutSeconds: seconds });
}

/** Someone else holds the chunk: look again after their lease, without spending a dequeue. */
async function retryLater(message: ChunkMessage, afterMs: number, log: Logger): Promise<void> {
  log.info(`The chunk is held by another sender; checking again in ${Math.ceil(afterMs / 1000)} s.`);
  await sendQueueMessage(QUEUES.exportChunks, message, { visibilityTimeoutSeconds: Math.ceil(afterMs / 1000) + 1 });
}
