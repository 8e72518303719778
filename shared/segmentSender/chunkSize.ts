// The size of the segment sender's chunks, which run plans predict with too (shared/plans).
import type { DestinationAdapter } from '../destinations/destination.js';

/**
 * How many members a chunk should hold (5–50 batches).
 * - Against a rate-limited vendor, enough chunks to keep its rate busy — one sender per half
 *   second of calls at that rate — but no more: every chunk ends with a partial batch, which
 *   costs one extra call of the vendor's budget.
 * - When the rate is high enough not to bind, enough chunks to spread over several hosts'
 *   senders, but no more: each chunk costs its sender set-up reads and writes, a queue hop and
 *   a partial last batch (at 5 batches a chunk, 1M members took 1,072 calls instead of 1,000).
 *   A sender's memory (the batch, the emails it has seen) stays bounded by MAX_BATCHES whatever
 *   the segment's size.
 */
export function membersPerChunk(destination: DestinationAdapter, requestsPerSecond: number, totalMembers: number): number {
  const binds = Number.isFinite(requestsPerSecond) && requestsPerSecond < HIGH_RATE;
  const senders = binds ? Math.min(MAX_PARALLEL_CHUNKS, Math.max(4, Math.ceil(requestsPerSecond / 2))) : MAX_PARALLEL_CHUNKS;
  const batches = Math.ceil(totalMembers / destination.batchSize / senders);
  return destination.batchSize * Math.max(MIN_BATCHES, Math.min(MAX_BATCHES, batches));
}

const MIN_BATCHES = 5;
const MAX_BATCHES = 50;
/** Requests per second above which a vendor's rate is not what limits a run. */
const HIGH_RATE = 50;
/** Several hosts' worth of parallel senders (16 per host), with a short tail at the end. */
const MAX_PARALLEL_CHUNKS = 64;
