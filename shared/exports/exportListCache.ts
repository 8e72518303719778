// An in-process copy of the export list, so that listing 10,000 exports does not read 10,000 rows
// each time, yet stays correct with many instances writing:
//
// - Every write to an export row goes through the export store (exportStore.ts), which tells the
//   copy after the write lands (`written`): a tombstone for a deleted row, then a bump of a
//   version row. Code that wrote the table directly would be seen only at the next full read.
// - A list reads the version row (one point read). Unchanged: the copy is current. Changed: only
//   the rows written since the last refresh are read (`Timestamp ge` the storage service's own
//   clock at that refresh, less a margin) plus the tombstones, and applied to the copy.
// - A writer that dies between its write and its bump leaves other instances behind until the next
//   bump by anyone, or about FULL_RELOAD_MS, when the copy is read again in full in the background.
// - Tombstones (a key and a time each) are kept for TOMBSTONE_KEEP_MS: a copy last refreshed
//   longer ago than that is read again in full, so once every instance has seen a tombstone — or
//   will reload without it — the retention timer removes it (pruneTombstones).
import { randomUUID } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { isStatus } from '../storage/entities.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

const VERSION_PARTITION = 'exportListVersion';
const VERSION_ROW = 'version';
const TOMBSTONE_PARTITION = 'exportDeleted';
/** Storage clocks and second-resolution Date headers: rows this close to a refresh are read again. */
const CLOCK_MARGIN_MS = 5_000;
export const FULL_RELOAD_MS = 5 * 60_000;
/** How long tombstones are kept; a copy older than half of it is read again in full, not caught up. */
export const TOMBSTONE_KEEP_MS = 60 * 60_000;
const CHANGED_HERE = 'changed here';

interface Snapshot<T> {
  version: string;
  /** Storage time from which the next refresh reads changed rows. */
  since: Date;
  fullAt: number;
  records: Map<string, T>;
}

export interface ExportListSource<T> {
  partition: string;
  /** Every row of the export partition. */
  readAll(client: TableClient): Promise<T[]>;
  /** Rows of the export partition written at or after `since` (storage time). */
  readChangedSince(client: TableClient, since: Date): Promise<T[]>;
  idOf(record: T): string;
}

export class ExportListCache<T> {
  private snapshot: Snapshot<T> | undefined;
  private refreshing: Promise<Snapshot<T>> | undefined;
  private reloading: Promise<void> | undefined;
  private readonly log: (line: string) => void;
  /** Writes this instance made; a refresh that overlapped one does not count as current. */
  private ownWrites = 0;
  /** Reads served from the copy, refreshed from changed rows, or read in full (for tests and benchmarks). */
  readonly stats = { hits: 0, incremental: 0, full: 0 };

  constructor(
    private readonly source: ExportListSource<T>,
    private readonly fullReloadMs = FULL_RELOAD_MS,
    log: (line: string) => void = console.warn,
  ) {
    this.log = log;
  }

  /**
   * Told by the export store after each of its writes to the export partition has landed (with
   * the ids it deleted): bumps the version row, after writing a tombstone for each deleted row.
   * Never fails: the write itself landed, and other instances catch up at their next full read.
   */
  async written(client: TableClient, deleted: readonly string[] = []): Promise<void> {
    // This instance's own copy refreshes on its next read whatever happens below.
    this.ownWrites++;
    if (this.snapshot) this.snapshot = { ...this.snapshot, version: CHANGED_HERE };
    try {
      for (const id of deleted) await client.upsertEntity({ partitionKey: TOMBSTONE_PARTITION, rowKey: id }, 'Replace');
      await client.upsertEntity({ partitionKey: VERSION_PARTITION, rowKey: VERSION_ROW, token: randomUUID() }, 'Replace');
    } catch (error) {
      this.log(`The export list version could not be bumped after a write: ${(error as Error).message}`);
    }
  }

  /** The current list (shallow copies: callers may spread and change them freely). */
  async list(client: TableClient): Promise<T[]> {
    const snapshot = await this.current(client);
    return [...snapshot.records.values()].map((record) => ({ ...record }));
  }

  private async current(client: TableClient): Promise<Snapshot<T>> {
    // One refresh at a time; readers arriving meanwhile take its result.
    while (this.refreshing) await this.refreshing.catch(() => undefined);
    const { version, storageNow } = await readVersion(client);
    const snapshot = this.snapshot;
    if (snapshot && snapshot.version === version) {
      this.stats.hits++;
      if (Date.now() - snapshot.fullAt >= this.fullReloadMs) this.reloadInBackground(client, snapshot, version, storageNow);
      return snapshot;
    }
    if (this.refreshing) return this.current(client);
    this.refreshing = this.refresh(client, snapshot, version, storageNow);
    try {
      return await this.refreshing;
    } finally {
      this.refreshing = undefined;
    }
  }

  private async refresh(client: TableClient, previous: Snapshot<T> | undefined, version: string, storageNow: Date): Promise<Snapshot<T>> {
    const ownWritesBefore = this.ownWrites;
    const since = new Date(storageNow.getTime() - CLOCK_MARGIN_MS);
    let next: Snapshot<T>;
    // A copy older than the tombstones kept cannot catch up from them (they may be pruned).
    if (!previous || storageNow.getTime() - previous.since.getTime() > TOMBSTONE_KEEP_MS / 2) {
      next = { version, since, fullAt: Date.now(), records: this.byId(await this.source.readAll(client)) };
      this.stats.full++;
    } else {
      // Tombstones are kept, so this is right however old `previous.since` is.
      const [changed, deleted] = await Promise.all([
        this.source.readChangedSince(client, previous.since),
        tombstonesSince(client, previous.since),
      ]);
      const records = new Map(previous.records);
      for (const id of deleted) records.delete(id);
      for (const record of changed) records.set(this.source.idOf(record), freeze(record));
      next = { version, since, fullAt: previous.fullAt, records };
      this.stats.incremental++;
    }
    // A write of ours that landed during the reads may be missing: read changes again next time.
    if (this.ownWrites !== ownWritesBefore) next = { ...next, version: CHANGED_HERE };
    this.snapshot = next;
    return next;
  }

  /**
   * The safety net for a bump that never came: now and then the whole table is read again, off the
   * request path. Its result is kept only if nothing changed the copy meanwhile.
   */
  private reloadInBackground(client: TableClient, basis: Snapshot<T>, version: string, storageNow: Date): void {
    if (this.reloading) return;
    const ownWritesBefore = this.ownWrites;
    this.reloading = this.source
      .readAll(client)
      .then((records) => {
        if (this.snapshot !== basis || this.ownWrites !== ownWritesBefore) return;
        this.snapshot = {
          version,
          since: new Date(storageNow.getTime() - CLOCK_MARGIN_MS),
          fullAt: Date.now(),
          records: this.byId(records),
        };
        this.stats.full++;
      })
      .catch((error: Error) => this.log(`The export list could not be read again in full: ${error.message}`))
      .finally(() => (this.reloading = undefined));
  }

  private byId(records: T[]): Map<string, T> {
    return new Map(records.map((record) => [this.source.idOf(record), freeze(record)]));
  }
}

/** The version row's ETag (or 'none') and the storage service's clock from the same answer. */
async function readVersion(client: TableClient): Promise<{ version: string; storageNow: Date }> {
  let date: string | undefined;
  const onResponse = (response: { headers: { get(name: string): string | undefined } }) => void (date = response.headers.get('date'));
  let version = 'none';
  try {
    version = (await client.getEntity(VERSION_PARTITION, VERSION_ROW, { onResponse })).etag;
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  const storageNow = date ? new Date(date) : new Date();
  return { version, storageNow: Number.isNaN(storageNow.getTime()) ? new Date() : storageNow };
}

async function tombstonesSince(client: TableClient, since: Date): Promise<string[]> {
  const ids: string[] = [];
  const filter = odata`PartitionKey eq ${TOMBSTONE_PARTITION} and Timestamp ge ${since}`;
  for await (const row of client.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) ids.push(row.rowKey!);
  return ids;
}

/**
 * Removes tombstones older than TOMBSTONE_KEEP_MS: every copy that could still catch up from them
 * was refreshed after they were written, and any older copy reads the list again in full.
 */
export async function pruneTombstones(client: TableClient, now = Date.now()): Promise<number> {
  const filter = odata`PartitionKey eq ${TOMBSTONE_PARTITION} and Timestamp lt ${new Date(now - TOMBSTONE_KEEP_MS)}`;
  let removed = 0;
  for await (const row of client.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
    try {
      await client.deleteEntity(TOMBSTONE_PARTITION, row.rowKey!, { etag: row.etag });
      removed++;
    } catch (error) {
      // Deleted again meanwhile (a newer tombstone) or already pruned: that one stays or is gone.
      if (!isPreconditionFailed(error) && !isStatus(error, 404)) throw error;
    }
  }
  return removed;
}

function freeze<T>(record: T): T {
  // Nested values are shared between every caller's copy: freezing makes a change in place fail
  // loudly instead of changing the cached list.
  for (const value of Object.values(record as object) as unknown[]) if (value && typeof value === 'object') deepFreeze(value);
  return record;
}

function deepFreeze(value: object): void {
  Object.freeze(value);
  for (const inner of Object.values(value) as unknown[])
    if (inner && typeof inner === 'object' && !Object.isFrozen(inner)) deepFreeze(inner);
}
