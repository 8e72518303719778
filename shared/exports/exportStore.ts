// Exports in Table Storage: one partition (the list view reads them all), row key = id. The list
// is served from an in-process copy kept current across instances (see exportListCache.ts).
import { odata } from '@azure/data-tables';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { fromJson, getEntity, insertEntity, listEntities, replaceEntity, toJson, deleteEntityIfMatch } from '../storage/entities.js';
import { NotFound } from '../errors.js';
import { DEFAULT_DELIVERY, DEFAULT_SCHEDULE, type ExportRecord, type Schedule } from './exportDefinition.js';
import { ExportListCache, pruneTombstones } from './exportListCache.js';

const PARTITION = 'export';

interface ExportRow {
  name: string;
  connectionId: string;
  connectionType: string;
  kind: string;
  segments: string;
  mapping: string;
  details: string;
  entities: string;
  schedule: string;
  /** Absent on rows written before delivery modes: today's full delivery. */
  delivery?: string;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  lastRefreshed: string;
  lastRunStatus: string;
  activeRunId: string;
}

function toRow(record: ExportRecord): ExportRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: PARTITION,
    rowKey: record.id,
    name: record.name,
    connectionId: record.connectionId ?? '',
    connectionType: record.connectionType,
    kind: record.kind,
    segments: toJson(record.segments),
    mapping: toJson(record.mapping),
    details: toJson(record.details),
    entities: toJson(record.entities),
    schedule: toJson(record.schedule),
    delivery: toJson(record.delivery ?? DEFAULT_DELIVERY),
    createdAt: record.createdAt,
    createdBy: toJson(record.createdBy),
    updatedAt: record.updatedAt,
    lastRefreshed: record.lastRefreshed ?? '',
    lastRunStatus: record.lastRunStatus ?? '',
    activeRunId: record.activeRunId ?? '',
  };
}

function fromRow(row: ExportRow & { rowKey?: string; etag: string }): ExportRecord {
  return {
    id: row.rowKey!,
    name: row.name,
    connectionId: row.connectionId || null,
    connectionType: row.connectionType,
    kind: row.kind as ExportRecord['kind'],
    segments: fromJson(row.segments, []),
    mapping: fromJson(row.mapping, {}),
    details: fromJson(row.details, {}),
    entities: fromJson(row.entities, []),
    schedule: fromJson(row.schedule, DEFAULT_SCHEDULE),
    delivery: row.delivery ? fromJson(row.delivery, DEFAULT_DELIVERY) : DEFAULT_DELIVERY,
    createdAt: row.createdAt,
    createdBy: fromJson(row.createdBy, { id: '', name: '' }),
    updatedAt: row.updatedAt,
    lastRefreshed: row.lastRefreshed || null,
    lastRunStatus: row.lastRunStatus || null,
    activeRunId: row.activeRunId || null,
    etag: row.etag,
  };
}

export async function insertExport(record: ExportRecord): Promise<ExportRecord> {
  const client = await table(TABLES.exports);
  const etag = await insertEntity(client, toRow(record), 'Export');
  await exportListCache.written(client);
  return { ...record, etag };
}

export async function findExport(id: string): Promise<ExportRecord | undefined> {
  const row = await getEntity<ExportRow>(await table(TABLES.exports), PARTITION, id);
  return row ? fromRow(row) : undefined;
}

export async function getExport(id: string): Promise<ExportRecord> {
  const record = await findExport(id);
  if (!record) throw new NotFound(`Export '${id}' does not exist.`);
  return record;
}

export const exportListCache = new ExportListCache<ExportRecord>({
  partition: PARTITION,
  readAll: async (client) => (await listEntities<ExportRow>(client, odata`PartitionKey eq ${PARTITION}`)).map(fromRow),
  readChangedSince: async (client, since) =>
    (await listEntities<ExportRow>(client, odata`PartitionKey eq ${PARTITION} and Timestamp ge ${since}`)).map(fromRow),
  idOf: (record) => record.id,
});

// Every write below tells the copies (exportListCache.written): export rows are written here only.

export async function listExports(): Promise<ExportRecord[]> {
  return exportListCache.list(await table(TABLES.exports));
}

/** Tombstones of deleted exports no copy of the list can still need (see exportListCache.ts). */
export async function pruneExportTombstones(now = Date.now()): Promise<number> {
  return pruneTombstones(await table(TABLES.exports), now);
}

export async function replaceExport(record: ExportRecord, etag: string): Promise<ExportRecord> {
  const client = await table(TABLES.exports);
  const newEtag = await replaceEntity(client, toRow(record), etag, 'Export');
  await exportListCache.written(client);
  return { ...record, etag: newEtag };
}

export async function deleteExportRow(id: string, etag: string): Promise<void> {
  const client = await table(TABLES.exports);
  await deleteEntityIfMatch(client, PARTITION, id, etag, 'Export');
  await exportListCache.written(client, [id]);
}

/**
 * Sets the schedule of several exports in one transaction, each under its ETag: all or none.
 * Answers each export's new ETag, in the order given. A transaction refused as a whole throws
 * the storage error (412 when one of the exports changed meanwhile).
 */
export async function replaceSchedules(
  changes: { id: string; etag: string; schedule: Schedule }[],
  updatedAt: string,
): Promise<(string | undefined)[]> {
  const client = await table(TABLES.exports);
  const result = await client.submitTransaction(
    changes.map(({ id, etag, schedule }) => [
      'update',
      { partitionKey: PARTITION, rowKey: id, schedule: toJson(schedule), updatedAt },
      'Merge',
      { etag },
    ]),
  );
  await exportListCache.written(client);
  return changes.map((change) => result.subResponses.find((response) => response.rowKey === change.id)?.etag);
}
