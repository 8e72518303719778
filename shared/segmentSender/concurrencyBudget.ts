// At most N calls in flight per connection across all senders, runs and instances (vendors such
// as Mailchimp answer 429 beyond 10 simultaneous connections). N slot rows in Table Storage, each
// claimed with a conditional write and a lease, so a crashed sender's slot frees itself.
//
// Calls go through a process-wide pool per connection: a slot row this process holds is handed
// from one of its calls to the next without touching storage, and goes back to the table only
// when no call of the process has wanted it for a moment. Local callers queue in order instead of
// polling the table; storage is asked only for slots the process does not hold yet. The bound is
// the same (at most N rows held, each by one process, each serving one call at a time).
//
// A slot goes back only once it has sat idle for IDLE_SLOT_MS itself, and the most recently freed
// slot serves the next call, so the slots a steady stream of calls keeps busy stay in the pool and
// only the ones it no longer needs are returned. The ETag of each row this process wrote is kept,
// so renewing or returning a slot is one conditional write, not a read and a write: the ETag
// still matching is what proves nobody took the row meanwhile.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { getEntity, isStatus, listEntities } from '../storage/entities.js';
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
  /** Idle rows, oldest first, each with when it was given back. */
  free: { slot: string; since: number }[];
  /** Local callers waiting for a slot, first come first served. */
  waiters: ((slot: string) => void)[];
  /** A claim of a row from the table in progress, and whether it found one. */
  claiming?: Promise<boolean>;
  heartbeat?: NodeJS.Timeout;
  idleTimer?: NodeJS.Timeout;
}

const pools = new Map<string, SlotPool>();

/** No slot came free before the caller's `giveUpAt`: the work was not started. */
export class NoSlotInTime extends Error {
  constructor(key: string) {
    super(`No call slot of ${key} came free in time.`);
  }
}

/** The ETag of each slot row as this process last wrote it, by partition, row and holder. */
const writtenEtags = new Map<string, string>();
const etagKey = (partition: string, rowKey: string, holder: string) => `${partition}\n${rowKey}\n${holder}`;

export class ConcurrencyBudget {
  constructor(
    readonly key: string,
    readonly slots: number | undefined,
  ) {}

  /**
   * Runs `work` holding one slot; waits for a free one first, until `giveUpAt` at most (then
   * throws NoSlotInTime without running it). `holder` names the caller in logs only: the slot row
   * is held by this process's pool (see the file's header).
   */
  async run<T>(_holder: string, work: () => Promise<T>, options: { giveUpAt?: number } = {}): Promise<T> {
    if (!this.slots) return work();
    const pool = this.pool();
    const slot = await this.take(pool, options.giveUpAt ?? Infinity);
    if (slot === undefined) throw new NoSlotInTime(this.key);
    try {
      return await work();
    } finally {
      this.give(pool, slot);
    }
  }

  /**
   * Takes one slot without waiting for one to come free — an idle one this process holds, else a
   * row claimed from the table — and answers the function that gives it back; undefined when
   * every slot is held. A slot given back stays with the process for IDLE_SLOT_MS, as a call's
   * does, so the next holder in this process takes it without touching storage.
   */
  async tryHold(): Promise<(() => void) | undefined> {
    if (!this.slots) return () => undefined;
    const pool = this.pool();
    const slot = await this.take(pool, Date.now());
    if (slot === undefined) return undefined;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.give(pool, slot);
    };
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

  /**
   * A slot for one call: an idle one this process holds, a new row from the table, or the next one
   * a local call gives back; undefined once `giveUpAt` has passed without one.
   */
  private async take(pool: SlotPool, giveUpAt: number): Promise<string | undefined> {
    for (let attempt = 0; ;) {
      // The most recently freed: the slots the calls keep busy stay warm, the others age out.
      const idle = pool.free.pop();
      if (idle !== undefined) return idle.slot;
      if (pool.held.size < this.slots!) {
        // One claim at a time per process: claims made together race for the same free row, and
        // all but one are refused (a wasted read and write each).
        if (pool.claiming) {
          if (await pool.claiming) continue;
        } else {
          const claim = this.tryAcquire(PROCESS_HOLDER).catch(() => undefined);
          pool.claiming = claim.then((slot) => slot !== undefined);
          const slot = await claim;
          pool.claiming = undefined;
          if (slot) {
            pool.held.add(slot);
            this.keepAlive(pool);
            return slot;
          }
        }
      }
      // Every slot is taken: by this process (one comes back soon, handed over directly) or by others (look again later).
      const left = giveUpAt - Date.now();
      if (left <= 0) return undefined;
      const handedOver = await new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(
          () => {
            const index = pool.waiters.indexOf(wake);
            if (index >= 0) pool.waiters.splice(index, 1);
            resolve(undefined);
          },
          Math.min(left, Math.min(1000, 25 * 2 ** Math.min(attempt++, 5)) + Math.floor(Math.random() * 25)),
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

  /** A call is done with its slot: straight to the next local caller, else idle until it is wanted or has idled IDLE_SLOT_MS. */
  private give(pool: SlotPool, slot: string): void {
    if (!pool.held.has(slot)) return; // lost meanwhile (the lease ran out and another process took the row)
    const next = pool.waiters.shift();
    if (next) return next(slot);
    pool.free.push({ slot, since: Date.now() });
    this.releaseWhenIdle(pool);
  }

  /** Gives the slots idle for IDLE_SLOT_MS back to the table, checking again when the next one will have been. */
  private releaseWhenIdle(pool: SlotPool): void {
    const oldest = pool.free[0];
    if (pool.idleTimer || !oldest) return;
    pool.idleTimer = setTimeout(
      () => {
        pool.idleTimer = undefined;
        const idleSince = Date.now() - IDLE_SLOT_MS;
        while (pool.free.length > 0 && pool.free[0]!.since <= idleSince) {
          const { slot } = pool.free.shift()!;
          pool.held.delete(slot);
          void this.release(slot, PROCESS_HOLDER).catch(() => undefined);
        }
        this.keepAlive(pool);
        this.releaseWhenIdle(pool);
      },
      Math.max(0, oldest.since + IDLE_SLOT_MS - Date.now()),
    );
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
            pool.free = pool.free.filter((candidate) => candidate.slot !== slot);
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
        const written = row ? await client.updateEntity(entity, 'Replace', { etag: row.etag }) : await client.createEntity(entity);
        this.remember(rowKey, holder, written.etag);
        return rowKey;
      } catch (error) {
        if (!isPreconditionFailed(error) && !isStatus(error, 409)) throw error;
      }
    }
    return undefined;
  }

  /** Extends the lease of a slot still held (long vendor calls such as asynchronous imports); false when it is no longer the holder's. */
  async renew(rowKey: string, holder: string): Promise<boolean> {
    const written = await this.writeHeld(rowKey, holder, { holder, leaseUntil: Date.now() + LEASE_MS });
    if (written) this.remember(rowKey, holder, written);
    return written !== undefined;
  }

  async release(rowKey: string, holder: string): Promise<void> {
    try {
      await this.writeHeld(rowKey, holder, { holder: '', leaseUntil: 0 });
    } finally {
      writtenEtags.delete(etagKey(this.partition(), rowKey, holder));
    }
  }

  private remember(rowKey: string, holder: string, etag: string | undefined): void {
    if (etag) writtenEtags.set(etagKey(this.partition(), rowKey, holder), etag);
  }

  /**
   * Writes a row `holder` holds: conditional on the ETag of this process's last write of it (one
   * round trip), or on the ETag read with the row when that one is unknown or refused (another
   * write of this process, a renewal racing a release, got there first). The new ETag, or
   * undefined when the row is not the holder's.
   */
  private async writeHeld(rowKey: string, holder: string, row: SlotRow): Promise<string | undefined> {
    const client = await table(TABLES.rateBuckets);
    const key = etagKey(this.partition(), rowKey, holder);
    let etag = writtenEtags.get(key);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!etag) {
        const current = await getEntity<SlotRow>(client, this.partition(), rowKey);
        if (current?.holder !== holder) break;
        etag = current.etag;
      }
      try {
        return (await client.updateEntity({ partitionKey: this.partition(), rowKey, ...row }, 'Replace', { etag })).etag;
      } catch (error) {
        if (!isPreconditionFailed(error) && !isStatus(error, 404)) throw error;
        etag = undefined;
      }
    }
    writtenEtags.delete(key);
    return undefined;
  }
}
