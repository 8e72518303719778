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
 * When a chunk that found no free slot looks again (plus up to twice as much jitter): soon, since
 * a slot frees as soon as a sender ends or hands on its chunk; each look is a few point reads.
 */
export const SLOT_RETRY_SECONDS = 1;

/**
 * Senders one connection may have at a time: what its rate and its calls in flight
 * (`maxConcurrentRequests`) keep busy, or undefined when neither binds.
 */
export function sendersFor(rate: RateLimit, maxConcurrentRequests?: number): number | undefined {
  const byCalls = maxConcurrentRequests !== undefined && maxConcurrentRequests > 0 ? maxConcurrentRequests * SENDERS_PER_CALL : Infinity;
  // One more than the rate keeps busy: a sender handing its chunk on leaves no gap in the rate.
  const byRate =
    !Number.isFinite(rate.requestsPerSecond) || rate.requestsPerSecond >= UNLIMITED_RATE
      ? Infinity
      : Math.max(2, Math.ceil(rate.requestsPerSecond * CALL_SECONDS) + 1);
  const senders = Math.min(byCalls, byRate);
  return Number.isFinite(senders) ? Math.min(MAX_SENDERS, senders) : undefined;
}

/** A claimed sender slot, renewed while held and released when the invocation ends. */
export interface SenderSlot {
  renew(): Promise<void>;
  release(): Promise<void>;
}

const NO_SLOT_NEEDED: SenderSlot = { renew: async () => undefined, release: async () => undefined };

/** Claims one of the connection's sender slots without waiting; undefined when all are held. */
export async function claimSenderSlot(
  connectionId: string,
  rate: RateLimit,
  holder: string,
  maxConcurrentRequests?: number,
): Promise<SenderSlot | undefined> {
  const senders = sendersFor(rate, maxConcurrentRequests);
  if (!senders) return NO_SLOT_NEEDED;
  const budget = new ConcurrencyBudget(`senders-${connectionId}`, senders);
  const slot = await budget.tryAcquire(holder);
  if (!slot) return undefined;
  return { renew: async () => void (await budget.renew(slot, holder)), release: () => budget.release(slot, holder) };
}

/** Seconds before a chunk without a slot looks again: jittered so waiting chunks do not arrive together. */
export function slotRetrySeconds(): number {
  return SLOT_RETRY_SECONDS + Math.floor(Math.random() * (2 * SLOT_RETRY_SECONDS + 1));
}
