// Runs in Table Storage: partition = export id, row key sorts newest first.
import { odata } from '@azure/data-tables';
import { randomUUID } from 'node:crypto';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { fromJson, getEntity, insertEntity, replaceEntity, toJson } from '../storage/entities.js';
import { NotFound } from '../errors.js';
import { ZERO_COUNTS, type RunRecord } from './run.js';
import { redactStored } from '../observability/redactStored.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

interface RunRow {
  trigger: string;
  status: string;
  reason: string;
  requestedBy: string;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  counts: string;
  planned: boolean;
  chunksTotal: number;
  segments: string;
  preparedDetails: string;
  cancelRequested: boolean;
  waitingFor: string;
  tasks: string;
  recoveries?: number;
  recoveredAt?: number;
  prediction?: string;
  provenance?: string;
  retryOf?: string;
  fullResync?: boolean;
  delivery?: string;
}

/** Newest first in a partition scan, unique, and safe in URLs. */
export function newRunId(now = Date.now()): string {
  return `${String(9_999_999_999_999 - now).padStart(13, '0')}-${randomUUID().slice(0, 8)}`;
}

/** When a run id was made (its first part counts down from a fixed epoch). */
export function runIdTime(runId: string): number {
  return 9_999_999_999_999 - Number(runId.split('-')[0]);
}

function toRow(run: RunRecord): RunRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: run.exportId,
    rowKey: run.id,
    trigger: run.trigger,
    status: run.status,
    reason: redactStored(run.reason ?? ''),
    requestedBy: toJson(run.requestedBy),
    createdAt: run.createdAt,
    startedAt: run.startedAt ?? '',
    finishedAt: run.finishedAt ?? '',
    counts: toJson(run.counts),
    planned: run.planned,
    chunksTotal: run.chunksTotal,
    segments: toJson(run.segments),
    preparedDetails: toJson(run.preparedDetails),
    cancelRequested: run.cancelRequested,
    waitingFor: run.waitingFor ?? '',
    tasks: toJson(run.tasks),
    recoveries: run.recoveries ?? 0,
    recoveredAt: run.recoveredAt ?? 0,
    prediction: toJson(run.prediction ?? null),
    provenance: toJson(run.provenance ?? null),
    retryOf: run.retryOf ?? '',
    fullResync: run.fullResync ?? false,
    delivery: toJson(run.delivery ?? null),
  };
}

function fromRow(row: RunRow & { partitionKey?: string; rowKey?: string; etag: string; timestamp?: string }): RunRecord {
  return {
    id: row.rowKey!,
    exportId: row.partitionKey!,
    trigger: row.trigger as RunRecord['trigger'],
    status: row.status as RunRecord['status'],
    reason: row.reason || null,
    requestedBy: fromJson(row.requestedBy, { id: '', name: '' }),
    createdAt: row.createdAt,
    startedAt: row.startedAt || null,
    finishedAt: row.finishedAt || null,
    counts: fromJson(row.counts, ZERO_COUNTS),
    planned: row.planned,
    chunksTotal: row.chunksTotal,
    segments: fromJson(row.segments, []),
    preparedDetails: fromJson(row.preparedDetails, null),
    cancelRequested: row.cancelRequested,
    waitingFor: row.waitingFor || null,
    tasks: fromJson(row.tasks, []),
    recoveries: row.recoveries ?? 0,
    recoveredAt: row.recoveredAt ?? 0,
    retryOf: row.retryOf || null,
    fullResync: row.fullResync ?? false,
    delivery: row.delivery ? fromJson<RunRecord['delivery']>(row.delivery, null) : null,
    writtenAt: Date.parse(row.timestamp ?? '') || 0,
    ...optional('prediction', fromJson<RunRecord['prediction'] | null>(row.prediction ?? '', null)),
    ...optional('provenance', fromJson<RunRecord['provenance'] | null>(row.provenance ?? '', null)),
    etag: row.etag,
  };
}

export async function insertRun(run: RunRecord): Promise<RunRecord> {
  const etag = await insertEntity(await table(TABLES.runs), toRow(run), 'Run');
  return { ...run, etag };
}

export async function findRun(exportId: string, runId: string): Promise<RunRecord | undefined> {
  const row = await getEntity<RunRow>(await table(TABLES.runs), exportId, runId);
  return row ? fromRow(row) : undefined;
}

export async function getRun(exportId: string, runId: string): Promise<RunRecord> {
  const run = await findRun(exportId, runId);
  if (!run) throw new NotFound(`Run '${runId}' of export '${exportId}' does not exist.`);
  return run;
}

/** Conditional replace: throws PreconditionFailed if someone else changed the run meanwhile. */
export async function replaceRun(run: RunRecord): Promise<RunRecord> {
  const etag = await replaceEntity(await table(TABLES.runs), toRow(run), run.etag, 'Run');
  return { ...run, etag };
}

/**
 * Applies `change` to the latest version of the run, retrying on concurrent writes. `change`
 * returns undefined to leave the run as it is.
 */
export async function updateRun(exportId: string, runId: string, change: (run: RunRecord) => RunRecord | undefined): Promise<RunRecord> {
  for (let attempt = 0; ; attempt++) {
    const current = await getRun(exportId, runId);
    const next = change(current);
    if (!next) return current;
    try {
      return await replaceRun(next);
    } catch (error) {
      if (!isPreconditionFailed(error) || attempt >= 20) throw error;
    }
  }
}

export async function listRuns(
  exportId: string,
  top: number,
  continuationToken?: string,
): Promise<{ runs: RunRecord[]; continuationToken?: string }> {
  const client = await table(TABLES.runs);
  const pages = client
    .listEntities<RunRow>({ queryOptions: { filter: odata`PartitionKey eq ${exportId}` } })
    .byPage({ maxPageSize: top, continuationToken });
  const page = await pages.next();
  if (page.done) return { runs: [] };
  return { runs: page.value.map(fromRow), continuationToken: page.value.continuationToken };
}

/** A field present only when stored, so older rows read as they were written. */
function optional<K extends string, V>(key: K, value: V | null): { [P in K]?: V } {
  return (value === null ? {} : { [key]: value }) as { [P in K]?: V };
}
