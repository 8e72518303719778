// At most N calls in flight per connection across all senders, runs and instances (vendors such
// as Mailchimp answer 429 beyond 10 simultaneous connections). N slot rows in Table Storage, each
// claimed with a conditional write and a lease, so a crashed sender's slot frees itself.
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { isStatus, listEntities } from '../storage/entities.js';
import { odata } from '@azure/data-tables';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

interface SlotRow {
  holder: string;
  leaseUntil: number;
}

/** A slot's lease: short, so a crashed sender's slot frees itself soon; renewed while in use. */
const LEASE_MS = 30_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ConcurrencyBudget {
  constructor(
    readonly key: string,
    readonly slots: number | undefined,
  ) {}

  /** Runs `work` holding one slot; waits for a free one first. */
  async run<T>(holder: string, work: () => Promise<T>): Promise<T> {
    if (!this.slots) return work();
    const slot = await this.acquire(holder);
    const heartbeat = setInterval(() => void this.renew(slot, holder).catch(() => undefined), LEASE_MS / 3);
    try {
      return await work();
    } finally {
      clearInterval(heartbeat);
      await this.release(slot, holder).catch(() => undefined);
    }
  }

  private partition(): string {
    return `slots-${this.key}`;
  }

  private async acquire(holder: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const slot = await this.tryAcquire(holder);
      if (slot) return slot;
      await sleep(Math.min(1000, 25 * 2 ** Math.min(attempt, 5)) + Math.floor(Math.random() * 25));
    }
  }

  /** Claims a free slot without waiting: its row key, or undefined when all are held. */
  async tryAcquire(holder: string): Promise<string | undefined> {
    const client = await table(TABLES.rateBuckets);
    const rows = new Map(
      (await listEntities<SlotRow>(client, odata`PartitionKey eq ${this.partition()}`)).map((row) => [row.rowKey!, row]),
    );
    const now = Date.now();
    for (let index = 0; index < this.slots!; index++) {
      const rowKey = String(index).padStart(3, '0');
      const row = rows.get(rowKey);
      if (row && row.holder && row.leaseUntil > now) continue;
      const entity = { partitionKey: this.partition(), rowKey, holder, leaseUntil: now + LEASE_MS };
      try {
        if (row) await client.updateEntity(entity, 'Replace', { etag: row.etag });
        else await client.createEntity(entity);
        return rowKey;
      } catch (error) {
        if (!isPreconditionFailed(error) && !isStatus(error, 409)) throw error;
      }
    }
    return undefined;
  }

  /** Extends the lease of a slot still held (long vendor calls such as asynchronous imports). */
  async renew(rowKey: string, holder: string): Promise<void> {
    const client = await table(TABLES.rateBuckets);
    const row = await client.getEntity<SlotRow>(this.partition(), rowKey);
    if (row.holder !== holder) return;
    await client.updateEntity({ partitionKey: this.partition(), rowKey, holder, leaseUntil: Date.now() + LEASE_MS }, 'Replace', {
      etag: row.etag,
    });
  }

  async release(rowKey: string, holder: string): Promise<void> {
    const client = await table(TABLES.rateBuckets);
    const row = await client.getEntity<SlotRow>(this.partition(), rowKey);
    if (row.holder !== holder) return;
    await client.updateEntity({ partitionKey: this.partition(), rowKey, holder: '', leaseUntil: 0 }, 'Replace', { etag: row.etag });
  }
}
