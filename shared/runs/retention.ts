// Personal data is kept only as long as it serves: a run's working files (emails and mapped fields)
// go when the run ends; its rows — the run, its ledger, its record outcomes (which hold emails) —
// and settled schedule marks go after RUN_RETENTION_DAYS; audit rows after AUDIT_RETENTION_DAYS;
// export-list tombstones once no instance's copy can still need them.
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import pLimit from 'p-limit';
import { table, workContainer } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { isStatus } from '../storage/entities.js';
import { setting } from '../settings.js';
import { findExport, pruneExportTombstones } from '../exports/exportStore.js';
import { TERMINAL_STATUSES } from './run.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

const DAY_MS = 24 * 60 * 60_000;

/** Deletes `runs/{runId}/…` in the working container (the union file, duplicate lists). */
export async function deleteRunWorkFiles(runId: string): Promise<number> {
  const container = await workContainer();
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: `runs/${runId}/` })) names.push(blob.name);
  const limit = pLimit(8);
  await Promise.all(
    names.map((name) =>
      limit(() =>
        container.deleteBlob(name).catch((error: { statusCode?: number }) => {
          if (error.statusCode !== 404) throw error;
        }),
      ),
    ),
  );
  return names.length;
}

function days(name: 'RUN_RETENTION_DAYS' | 'AUDIT_RETENTION_DAYS'): number {
  const value = Number(setting(name));
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`Setting ${name} must be a positive number of days; it is '${setting(name)}'.`);
  return value;
}

export interface RetentionSummary {
  runs: number;
  ledgerRows: number;
  recordRows: number;
  workFiles: number;
  scheduleMarks: number;
  auditRows: number;
  tombstones: number;
}

/** One pass of the retention timer; `now` is a parameter so tests can move the clock. */
export async function pruneExpired(now = Date.now()): Promise<RetentionSummary> {
  const summary: RetentionSummary = { runs: 0, ledgerRows: 0, recordRows: 0, workFiles: 0, scheduleMarks: 0, auditRows: 0, tombstones: 0 };
  const runCutoff = now - days('RUN_RETENTION_DAYS') * DAY_MS;
  await pruneRuns(runCutoff, summary);
  summary.scheduleMarks = await pruneScheduleMarks(runCutoff);
  summary.auditRows = await pruneAudit(now - days('AUDIT_RETENTION_DAYS') * DAY_MS);
  summary.tombstones = await pruneExportTombstones(now);
  return summary;
}

/** Row keys of runs sort newest first (runStore.newRunId): older than the cutoff is greater than this. */
function runKeyAt(time: number): string {
  return String(9_999_999_999_999 - time).padStart(13, '0');
}

async function pruneRuns(cutoff: number, summary: RetentionSummary): Promise<void> {
  const runs = await table(TABLES.runs);
  const filter = odata`RowKey gt ${runKeyAt(cutoff)}`;
  for await (const row of runs.listEntities<{ status: string }>({
    queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'status'] },
  })) {
    // A run that never ended is the recovery sweep's to end first.
    if (!TERMINAL_STATUSES.includes(row.status as (typeof TERMINAL_STATUSES)[number])) continue;
    const runId = row.rowKey!;
    summary.ledgerRows += await deletePartition(await table(TABLES.chunks), runId);
    summary.recordRows += await deletePartition(await table(TABLES.records), runId);
    summary.workFiles += await deleteRunWorkFiles(runId);
    // The run row goes last: were this pass to stop half-way, the next one finds the run again.
    try {
      await runs.deleteEntity(row.partitionKey!, runId);
      summary.runs++;
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
}

/** Deletes every row of a partition, 100 to a transaction; answers how many. */
export async function deletePartition(client: TableClient, partitionKey: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const keys: string[] = [];
    for await (const row of client.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ['RowKey'] } })) {
      keys.push(row.rowKey!);
      if (keys.length >= 1000) break;
    }
    if (keys.length === 0) return deleted;
    for (let index = 0; index < keys.length; index += 100) {
      const actions: TransactionAction[] = keys.slice(index, index + 100).map((rowKey) => ['delete', { partitionKey, rowKey }]);
      await client.submitTransaction(actions);
    }
    deleted += keys.length;
  }
}

interface MarkRow {
  state: string;
  claimedAt: string;
}

/**
 * Settled marks older than the cutoff go, except each live export's newest: the sweep compares
 * the latest due time with it, and a monthly schedule's may be older than the retention.
 */
async function pruneScheduleMarks(cutoff: number): Promise<number> {
  const client = await table(TABLES.scheduleMarks);
  const byExport = new Map<string, (MarkRow & { rowKey: string; etag: string })[]>();
  for await (const row of client.listEntities<MarkRow>({ queryOptions: { select: ['PartitionKey', 'RowKey', 'state', 'claimedAt'] } })) {
    const rows = byExport.get(row.partitionKey!) ?? [];
    rows.push({ state: row.state, claimedAt: row.claimedAt, rowKey: row.rowKey!, etag: row.etag });
    byExport.set(row.partitionKey!, rows);
  }
  let removed = 0;
  for (const [exportId, rows] of byExport) {
    const exists = (await findExport(exportId)) !== undefined;
    const newest = rows.reduce((latest, row) => (row.claimedAt > latest.claimedAt ? row : latest), rows[0]!);
    for (const row of rows) {
      if (row.state === 'claimed' || Date.parse(row.claimedAt) >= cutoff || (exists && row === newest)) continue;
      try {
        await client.deleteEntity(exportId, row.rowKey, { etag: row.etag });
        removed++;
      } catch (error) {
        if (!isPreconditionFailed(error) && !isStatus(error, 404)) throw error;
      }
    }
  }
  return removed;
}

/** Audit rows are partitioned by month ('YYYY-MM') and carry their time in `at`. */
async function pruneAudit(cutoff: number): Promise<number> {
  const client = await table(TABLES.audit);
  const cutoffIso = new Date(cutoff).toISOString();
  const filter = odata`PartitionKey le ${cutoffIso.slice(0, 7)} and at lt ${cutoffIso}`;
  const rows: { partitionKey: string; rowKey: string }[] = [];
  for await (const row of client.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } }))
    rows.push({ partitionKey: row.partitionKey!, rowKey: row.rowKey! });
  const byPartition = new Map<string, string[]>();
  for (const row of rows) byPartition.set(row.partitionKey, [...(byPartition.get(row.partitionKey) ?? []), row.rowKey]);
  for (const [partitionKey, keys] of byPartition) {
    for (let index = 0; index < keys.length; index += 100) {
      await client.submitTransaction(
        keys.slice(index, index + 100).map((rowKey): TransactionAction => ['delete', { partitionKey, rowKey }]),
      );
    }
  }
  return rows.length;
}
