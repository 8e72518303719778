// How many chunks may be sending to one connection at a time: as many as its rate can keep busy,
// not as many as the queue hands out. Every sender of a 2 req/s vendor beyond a few would only
// sleep on the shared rate budget — an invocation Flex Consumption bills while it executes, and
// one that grows toward functionTimeout. A chunk that finds every slot taken goes back to the
// queue for a while instead of waiting inside an invocation. The same holds for the calls a
// connection allows in flight at once (maxConcurrentRequests): 48 senders of a vendor that takes
// 4 calls at a time each waited for a dozen calls before their own, and batches outlasted
// functionTimeout on a loaded instance.
import { ConcurrencyBudget } from './concurrencyBudget.js';
import type { RateLimit } from '../runs/worker.js';

/** Requests per second at which a rate stops being what limits a run (no slots then). */
const UNLIMITED_RATE = 50;
/** About how long one batch call takes: the senders a rate keeps busy is rate × this. */
const CALL_SECONDS = 1;
const MAX_SENDERS = 32;
/**
 * Senders per call the connection allows in flight: while one sender's call is out, another reads
 * and matches its next batch or acknowledges its last, so the calls stay busy.
 */
const SENDERS_PER_CALL = 2;
/**
 * When a chunk that found no free slot looks again: soon at first, since a slot frees as soon as
 * a sender ends or hands on its chunk, then twice as long after each miss in a row, up to
 * SLOT_RETRY_MAX_SECONDS. A 2 req/s connection with 20 chunks queued and 3 slots had every
 * waiting chunk look every 1–3 s: most of the run's invocations (2,945 for 1,005 calls at 1M
 * members, BENCHMARKS.md) were such looks, each a few storage reads on a shared machine. Many
 * waiters looking seldom still find a freed slot within about a second between them.
 */
export const SLOT_RETRY_SECONDS = 1;
export const SLOT_RETRY_MAX_SECONDS = 8;

/**
 * Senders one connection may have at a time: what its rate and its calls in flight
 * (`maxConcurrentRequests`) keep busy, or undefined when neither binds.
 */
export function sendersFor(rate: RateLimit, maxConcurrentRequests?: number): number | undefined {
  const byCalls = maxConcurrentRequests !== undefined && maxConcurrentRequests > 0 ? maxConcurrentRequests * SENDERS_PER_CALL : Infinity;
  // One more than the rate keeps busy: a sender handing its chunk on leaves no gap in the rate.
  const byRate = rateBinds(rate) ? Math.max(2, Math.ceil(rate.requestsPerSecond * CALL_SECONDS) + 1) : Infinity;
  const senders = Math.min(byCalls, byRate);
  return Number.isFinite(senders) ? Math.min(MAX_SENDERS, senders) : undefined;
}

/**
 * A claimed sender slot, released when the invocation ends. Its row is held by the process's pool
 * (see concurrencyBudget.ts), which renews it while held and keeps it a moment after release: the
 * process's next chunk of the connection takes it without a list and a write of the slot rows.
 */
export interface SenderSlot {
  release(): Promise<void>;
}

const NO_SLOT_NEEDED: SenderSlot = { release: async () => undefined };

/** Claims one of the connection's sender slots without waiting; undefined when all are held. */
export async function claimSenderSlot(
  connectionId: string,
  rate: RateLimit,
  maxConcurrentRequests?: number,
): Promise<SenderSlot | undefined> {
  const senders = sendersFor(rate, maxConcurrentRequests);
  if (!senders) return NO_SLOT_NEEDED;
  const giveBack = await new ConcurrencyBudget(`senders-${connectionId}`, senders).tryHold();
  return giveBack && { release: async () => giveBack() };
}

/** Whether the connection's rate is what limits its senders. */
function rateBinds(rate: RateLimit): boolean {
  return Number.isFinite(rate.requestsPerSecond) && rate.requestsPerSecond < UNLIMITED_RATE;
}

/**
 * Seconds before a chunk that found no slot `misses` times in a row (this one included) looks
 * again: the base doubles per miss, up to the cap, plus up to as much jitter so waiting chunks do
 * not arrive together. Only where the rate binds: there a sender holds its slot for about its
 * invocation budget (its chunk sized to the rate), while with no rate to bind chunks are short
 * and slots free every moment, so a waiting chunk keeps looking every 1-2 s.
 */
export function slotRetrySeconds(misses: number, rate: RateLimit): number {
  const grown = rateBinds(rate) ? Math.max(0, misses - 1) : 0;
  const base = Math.min(SLOT_RETRY_MAX_SECONDS, SLOT_RETRY_SECONDS * 2 ** grown);
  return base + Math.floor(Math.random() * (base + 1));
}
