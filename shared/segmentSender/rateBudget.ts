// A token bucket per connection, kept in Table Storage so every sender of every run on every
// instance shares the vendor's rate. Tokens are taken in small blocks to keep storage round
// trips well below the vendor call rate; a 429 drains the bucket so all senders back off at once.
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { getEntity, isStatus } from '../storage/entities.js';
import type { RateLimit } from '../runs/worker.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

interface BucketRow {
  tokens: number;
  updatedAt: number;
}

const PARTITION = 'bucket';

export type { RateLimit };

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** Tokens this process took but has not used yet, per bucket, with when they expire. */
const localTokens = new Map<string, { tokens: number; expiresAt: number }>();
/**
 * The block being taken from each bucket by this process: its other callers wait for that one
 * instead of each reading and writing the row at once (all but one would be refused by the ETag).
 */
const takingBlocks = new Map<string, Promise<number>>();

export class RateBudget {
  constructor(
    readonly key: string,
    readonly limit: RateLimit,
  ) {}

  /** Waits until one request may be made. */
  async take(signal?: AbortSignal): Promise<void> {
    if (!Number.isFinite(this.limit.requestsPerSecond)) return;
    for (;;) {
      if (signal?.aborted) return;
      const local = localTokens.get(this.key);
      if (local && local.tokens >= 1 && local.expiresAt > Date.now()) {
        local.tokens -= 1;
        return;
      }
      const waitMs = await this.takeBlock();
      if (waitMs > 0) await sleep(waitMs, signal);
    }
  }

  /**
   * Takes one request's token if one comes within `maxWaitMs`: answers 0 once taken, or, giving
   * up, about how long until the rate frees one — so a sender can hand its work back to the queue
   * for that long instead of holding an invocation asleep.
   */
  async tryTake(maxWaitMs: number): Promise<number> {
    if (!Number.isFinite(this.limit.requestsPerSecond)) return 0;
    const giveUpAt = Date.now() + maxWaitMs;
    for (;;) {
      const local = localTokens.get(this.key);
      if (local && local.tokens >= 1 && local.expiresAt > Date.now()) {
        local.tokens -= 1;
        return 0;
      }
      const waitMs = await this.takeBlock();
      if (waitMs <= 0) continue;
      if (Date.now() + waitMs > giveUpAt) return Math.max(waitMs, Math.ceil(1000 / this.limit.requestsPerSecond));
      await sleep(waitMs);
    }
  }

  /** Moves a block of tokens into this process (one move at a time per bucket); returns how long to wait if none were free. */
  private takeBlock(): Promise<number> {
    let taking = takingBlocks.get(this.key);
    if (!taking) {
      taking = this.takeBlockFromTable().finally(() => takingBlocks.delete(this.key));
      takingBlocks.set(this.key, taking);
    }
    return taking;
  }

  private async takeBlockFromTable(): Promise<number> {
    const client = await table(TABLES.rateBuckets);
    const { requestsPerSecond: rate, burst } = this.limit;
    // About a tenth of a second's worth per storage round trip, never more than the burst.
    const block = Math.max(1, Math.min(burst, Math.floor(rate / 10)));
    const row = await getEntity<BucketRow>(client, PARTITION, this.key);
    const now = Date.now();
    const available = row ? Math.min(burst, row.tokens + ((now - row.updatedAt) / 1000) * rate) : burst;
    if (available < 1) return Math.ceil(((1 - available) / rate) * 1000) + Math.floor(Math.random() * 20);
    const taken = Math.min(block, Math.floor(available));
    const entity = { partitionKey: PARTITION, rowKey: this.key, tokens: available - taken, updatedAt: now };
    try {
      if (row) await client.updateEntity(entity, 'Replace', { etag: row.etag });
      else await client.createEntity(entity);
    } catch (error) {
      if (isPreconditionFailed(error) || isStatus(error, 409)) return Math.floor(Math.random() * 10);
      throw error;
    }
    // Unused tokens expire quickly so a block never turns into a late burst.
    localTokens.set(this.key, { tokens: taken, expiresAt: now + 1000 });
    return 0;
  }

  /** The vendor said to wait: drain the shared bucket so every sender waits, not just this one. */
  async penalize(waitMs: number): Promise<void> {
    localTokens.delete(this.key);
    if (!Number.isFinite(this.limit.requestsPerSecond)) return;
    const client = await table(TABLES.rateBuckets);
    const tokens = -((waitMs / 1000) * this.limit.requestsPerSecond);
    await client
      .upsertEntity({ partitionKey: PARTITION, rowKey: this.key, tokens, updatedAt: Date.now() }, 'Replace')
      .catch(() => undefined);
  }
}
