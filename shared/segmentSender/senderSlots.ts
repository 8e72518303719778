// How many chunks may be sending to one connection at a time: as many as its rate can keep busy,
// not as many as the queue hands out. Every sender of a 2 req/s vendor beyond a few would only
// sleep on the shared rate budget — an invocation Flex Consumption bills while it executes, and
// one that grows toward functionTimeout. A chunk that finds every slot taken goes back to the
// queue for a while instead of waiting inside an invocation.
import { ConcurrencyBudget } from './concurrencyBudget.js';
import type { RateLimit } from '../runs/worker.js';

/** Requests per second at which a rate stops being what limits a run (no slots then). */
const UNLIMITED_RATE = 50;
/** About how long one batch call takes: the senders a rate keeps busy is rate × this. */
const CALL_SECONDS = 1;
const MAX_SENDERS = 32;
/**
 * When a chunk that found no free slot looks again (plus up to twice as much jitter): soon, since
 * a slot frees as soon as a sender ends or hands on its chunk; each look is a few point reads.
 */
export const SLOT_RETRY_SECONDS = 1;

/** Senders one connection may have at a time, or undefined when its rate does not bind. */
export function sendersFor(rate: RateLimit): number | undefined {
  if (!Number.isFinite(rate.requestsPerSecond) || rate.requestsPerSecond >= UNLIMITED_RATE) return undefined;
  // One more than the rate keeps busy: a sender handing its chunk on leaves no gap in the rate.
  return Math.min(MAX_SENDERS, Math.max(2, Math.ceil(rate.requestsPerSecond * CALL_SECONDS) + 1));
}

/** A claimed sender slot, renewed while held and released when the invocation ends. */
export interface SenderSlot {
  renew(): Promise<void>;
  release(): Promise<void>;
}

const NO_SLOT_NEEDED: SenderSlot = { renew: async () => undefined, release: async () => undefined };

/** Claims one of the connection's sender slots without waiting; undefined when all are held. */
export async function claimSenderSlot(connectionId: string, rate: RateLimit, holder: string): Promise<SenderSlot | undefined> {
  const senders = sendersFor(rate);
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
