// The size of the segment sender's chunks, which run plans predict with too (shared/plans).
import type { DestinationAdapter } from '../destinations/destination.js';
import { sendersFor } from './senderSlots.js';

/**
 * How many members a chunk should hold (5–50 batches).
 * - Against a rate-limited vendor, enough chunks to keep its rate busy — one sender per half
 *   second of calls at that rate — but no more: every chunk ends with a partial batch, which
 *   costs one extra call of the vendor's budget.
 * - When the rate is high enough not to bind, enough chunks to keep every sender the connection
 *   allows busy (its sender slots, bound by the calls it takes in flight; several hosts' worth
 *   where nothing bounds them), in whole rounds of that many, but no more: each chunk costs its
 *   sender set-up reads and writes, a queue hop and a partial last batch (at 5 batches a chunk,
 *   1M members took 1,072 calls instead of 1,000). Chunks beyond the slots only wait in the
 *   queue, and a last round of a few chunks leaves the other slots idle while it runs.
 *   A sender's memory (the batch, the emails it has seen) stays bounded by MAX_BATCHES whatever
 *   the segment's size.
 */
export function membersPerChunk(
  destination: DestinationAdapter,
  requestsPerSecond: number,
  totalMembers: number,
  maxConcurrentRequests?: number,
): number {
  const totalBatches = Math.ceil(totalMembers / destination.batchSize);
  const binds = Number.isFinite(requestsPerSecond) && requestsPerSecond < HIGH_RATE;
  if (binds) {
    const senders = Math.min(MAX_PARALLEL_CHUNKS, Math.max(4, Math.ceil(requestsPerSecond / 2)));
    return destination.batchSize * clampBatches(Math.ceil(totalBatches / senders));
  }
  const slots = sendersFor({ requestsPerSecond, burst: 1 }, maxConcurrentRequests);
  const senders = Math.min(MAX_PARALLEL_CHUNKS, slots ?? Infinity);
  const rounds = Math.max(1, Math.ceil(totalBatches / (senders * MAX_BATCHES)));
  return destination.batchSize * clampBatches(Math.ceil(totalBatches / (senders * rounds)));
}

const clampBatches = (batches: number) => Math.max(MIN_BATCHES, Math.min(MAX_BATCHES, batches));

const MIN_BATCHES = 5;
const MAX_BATCHES = 50;
/** Requests per second above which a vendor's rate is not what limits a run. */
const HIGH_RATE = 50;
/** Several hosts' worth of parallel senders (16 per host), with a short tail at the end. */
const MAX_PARALLEL_CHUNKS = 64;
