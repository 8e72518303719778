// At most N calls in flight per connection across all senders, runs and instances (vendors such
// as Mailchimp answer 429 beyond 10 simultaneous connections). N slot rows in Table Storage, each
// claimed with a conditional write and a lease, so a crashed sender's slot frees itself.
//
// Calls go through a process-wide pool per connection: a slot row this process holds is handed
// from one of its calls to the next without touching storage, and goes back to the table only
// when no call of the process has wanted it for a moment. Local callers queue in order instead of
// polling the table; storage is asked only for slots the process does not hold yet. The bound is
// the same (at most N rows held, each by one process, each serving one call at a time).
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
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
/** How long a slot this process holds stays with it, idle, before it goes back to the table. */
export const IDLE_SLOT_MS = 250;

/** The holder name of this process's pooled slots. */
const PROCESS_HOLDER = `pool-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;

interface SlotPool {
  /** Rows this process holds, each idle (free) or serving one call. */
  held: Set<string>;
  free: string[];
  /** Local callers waiting for a slot, first come first served. */
  waiters: ((slot: string) => void)[];
  heartbeat?: NodeJS.Timeout;
  idleTimer?: NodeJS.Timeout;
}

const pools = new Map<string, SlotPool>();

export class ConcurrencyBudget {
  constructor(
    readonly key: string,
    readonly slots: number | undefined,
  ) {}

  /**
   * Runs `work` holding one slot; waits for a free one first. `holder` names the caller in logs
   * only: the slot row is held by this process's pool (see the file's header).
   */
  async run<T>(_holder: string, work: () => Promise<T>): Promise<T> {
    if (!this.slots) return work();
    const pool = this.pool();
    const slot = await this.take(pool);
    try {
      return await work();
    } finally {
      this.give(pool, slot);
    }
  }

  private partition(): string {
    return `slots-${this.key}`;
  }

  private pool(): SlotPool {
    let pool = pools.get(this.key);
    if (!pool) {
      pool = { held: new Set(), free: [], waiters: [] };
      pools.set(this.key, pool);
    }
    return pool;
  }

  /** A slot for one call: an idle one this process holds, a new row from the table, or the next one a local call gives back. */
  private async take(pool: SlotPool): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const idle = pool.free.pop();
      if (idle !== undefined) return idle;
      if (pool.held.size < this.slots!) {
        const slot = await this.tryAcquire(PROCESS_HOLDER).catch(() => undefined);
        if (slot) {
          pool.held.add(slot);
          this.keepAlive(pool);
          return slot;
        }
      }
      // Every slot is taken: by this process (one comes back soon, handed over directly) or by others (look again later).
      const handedOver = await new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(
          () => {
            const index = pool.waiters.indexOf(wake);
            if (index >= 0) pool.waiters.splice(index, 1);
            resolve(undefined);
          },
          Math.min(1000, 25 * 2 ** Math.min(attempt, 5)) + Math.floor(Math.random() * 25),
        );
        const wake = (slot: string) => {
          clearTimeout(timer);
          resolve(slot);
        };
        pool.waiters.push(wake);
      });
      if (handedOver !== undefined) return handedOver;
    }
  }

  /** A call is done with its slot: straight to the next local caller, else idle for a moment, then back to the table. */
  private give(pool: SlotPool, slot: string): void {
    if (!pool.held.has(slot)) return; // lost meanwhile (the lease ran out and another process took the row)
    const next = pool.waiters.shift();
    if (next) return next(slot);
    pool.free.push(slot);
    pool.idleTimer ??= setTimeout(() => {
      pool.idleTimer = undefined;
      for (const idle of pool.free.splice(0)) {
        pool.held.delete(idle);
        void this.release(idle, PROCESS_HOLDER).catch(() => undefined);
      }
      this.keepAlive(pool);
    }, IDLE_SLOT_MS);
  }

  /** Renews the pool's rows while it holds any (long vendor calls such as asynchronous imports). */
  private keepAlive(pool: SlotPool): void {
    if (pool.held.size === 0) {
      clearInterval(pool.heartbeat);
      pool.heartbeat = undefined;
      return;
    }
    pool.heartbeat ??= setInterval(() => {
      for (const slot of pool.held) {
        void this.renew(slot, PROCESS_HOLDER).then(
          (kept) => {
            if (kept) return;
            pool.held.delete(slot);
            pool.free = pool.free.filter((candidate) => candidate !== slot);
          },
          () => undefined,
        );
      }
    }, LEASE_MS / 3);
    pool.heartbeat.unref();
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

  /** Extends the lease of a slot still held (long vendor calls such as asynchronous imports); false when it is no longer the holder's. */
  async renew(rowKey: string, holder: string): Promise<boolean> {
    const client = await table(TABLES.rateBuckets);
    const row = await client.getEntity<SlotRow>(this.partition(), rowKey);
    if (row.holder !== holder) return false;
    await client.updateEntity({ partitionKey: this.partition(), rowKey, holder, leaseUntil: Date.now() + LEASE_MS }, 'Replace', {
      etag: row.etag,
    });
    return true;
  }

  async release(rowKey: string, holder: string): Promise<void> {
    const client = await table(TABLES.rateBuckets);
    const row = await client.getEntity<SlotRow>(this.partition(), rowKey);
    if (row.holder !== holder) return;
    await client.updateEntity({ partitionKey: this.partition(), rowKey, holder: '', leaseUntil: 0 }, 'Replace', { etag: row.etag });
  }
}
