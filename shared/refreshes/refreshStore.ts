// Refreshes in Table Storage: one partition, row key = id, which sorts newest first and starts
// with the start time, so "started since" is a row-key range rather than a scan.
import { odata } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { fromJson, getEntity, insertEntity, listEntities, replaceEntity, toJson } from '../storage/entities.js';
import { NotFound } from '../errors.js';
import type { RefreshRecord, RefreshStatus } from './refresh.js';

const PARTITION = 'refresh';
const MAX_TIME = 9_999_999_999_999;

interface RefreshRow {
  process: string;
  status: string;
  entities: string;
  segments: string;
  reason: string;
  reportedBy: string;
  startedAt: string;
  finishedAt: string;
  updatedAt: string;
}

function timePrefix(at: Date): string {
  return String(MAX_TIME - at.getTime()).padStart(13, '0');
}

export function newRefreshId(startedAt: Date): string {
  return `${timePrefix(startedAt)}-${randomUUID().slice(0, 8)}`;
}

function toRow(refresh: RefreshRecord): RefreshRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: PARTITION,
    rowKey: refresh.id,
    process: refresh.process,
    status: refresh.status,
    entities: toJson(refresh.entities),
    segments: toJson(refresh.segments),
    reason: refresh.reason ?? '',
    reportedBy: toJson(refresh.reportedBy),
    startedAt: refresh.startedAt,
    finishedAt: refresh.finishedAt ?? '',
    updatedAt: refresh.updatedAt,
  };
}

function fromRow(row: RefreshRow & { rowKey?: string; etag: string }): RefreshRecord {
  return {
    id: row.rowKey!,
    process: row.process,
    status: row.status as RefreshStatus,
    entities: fromJson(row.entities, []),
    segments: fromJson(row.segments, []),
    reason: row.reason || null,
    reportedBy: fromJson(row.reportedBy, { id: '', name: '' }),
    startedAt: row.startedAt,
    finishedAt: row.finishedAt || null,
    updatedAt: row.updatedAt,
    etag: row.etag,
  };
}

export async function insertRefresh(refresh: RefreshRecord): Promise<RefreshRecord> {
  const etag = await insertEntity(await table(TABLES.refreshes), toRow(refresh), 'Refresh');
  return { ...refresh, etag };
}

export async function getRefresh(id: string): Promise<RefreshRecord> {
  const row = await getEntity<RefreshRow>(await table(TABLES.refreshes), PARTITION, id);
  if (!row) throw new NotFound(`Refresh '${id}' does not exist.`);
  return fromRow(row);
}

/** Conditional replace: PreconditionFailed if the refresh changed since `etag`. */
export async function replaceRefresh(refresh: RefreshRecord, etag: string): Promise<RefreshRecord> {
  const newEtag = await replaceEntity(await table(TABLES.refreshes), toRow(refresh), etag, 'Refresh');
  return { ...refresh, etag: newEtag };
}

/** Every refresh started at or after `since`, newest first. */
export async function listRefreshesStartedSince(since: Date): Promise<RefreshRecord[]> {
  const filter = odata`PartitionKey eq ${PARTITION} and RowKey lt ${`${timePrefix(since)}.`}`;
  return (await listEntities<RefreshRow>(await table(TABLES.refreshes), filter)).map(fromRow);
}

export interface RefreshPageQuery {
  status?: RefreshStatus;
  process?: string;
  top: number;
  continuationToken?: string;
}

/** One page of refreshes, newest first. */
export async function listRefreshPage(query: RefreshPageQuery): Promise<{ refreshes: RefreshRecord[]; continuationToken?: string }> {
  // Each condition is quoted by odata``; joined with `and`, they stay one valid filter.
  const conditions = [odata`PartitionKey eq ${PARTITION}`];
  if (query.status) conditions.push(odata`status eq ${query.status}`);
  if (query.process) conditions.push(odata`process eq ${query.process}`);
  const client = await table(TABLES.refreshes);
  const pages = client
    .listEntities<RefreshRow>({ queryOptions: { filter: conditions.join(' and ') } })
    .byPage({ maxPageSize: query.top, continuationToken: query.continuationToken });
  const page = await pages.next();
  if (page.done) return { refreshes: [] };
  return { refreshes: page.value.map(fromRow), continuationToken: page.value.continuationToken };
}
