// Retention over real Azurite: a run's working files go when it ends; the retention timer removes
// runs, ledgers and record outcomes older than RUN_RETENTION_DAYS (not younger ones, not runs still
// going), settled schedule marks (but each live export's newest), audit rows older than
// AUDIT_RETENTION_DAYS, and export-list tombstones older than any copy can need.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { table, workContainer } from '../../shared/storage/clients.js';
import { TABLES } from '../../shared/storage/names.js';
import { deleteExportRow, insertExport } from '../../shared/exports/exportStore.js';
import { TOMBSTONE_KEEP_MS } from '../../shared/exports/exportListCache.js';
import { pruneExpired } from '../../shared/runs/retention.js';
import { finishRunEarly } from '../../shared/runs/finalizeRun.js';
import { chunkIdFor, listChunks, recordOutcomes, recordPlannedChunks } from '../../shared/runs/runLedger.js';
import { findRun, insertRun, newRunId } from '../../shared/runs/runStore.js';
import type { RunRecord } from '../../shared/runs/run.js';
import { chunkRange, exportRecord, runRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

useLocalServices({ env: { RUN_RETENTION_DAYS: '30', AUDIT_RETENTION_DAYS: '90' } });
const DAY = 24 * 60 * 60_000;

async function anExport(): Promise<string> {
  const record = await insertExport(exportRecord({ id: randomUUID(), name: 'Kept' }));
  return record.id;
}

/** A run created `ageDays` ago, with a chunk row, a record outcome and a working file. */
async function aRun(exportId: string, ageDays: number, status: RunRecord['status']): Promise<RunRecord> {
  const created = Date.now() - ageDays * DAY;
  const at = new Date(created).toISOString();
  const run = await insertRun(runRecord({ id: newRunId(created), exportId, status, createdAt: at, planned: true, chunksTotal: 1 }));
  await recordPlannedChunks(run.id, [chunkRange({ segmentId: 'S', container: 'work', blobName: `runs/${run.id}/members.csv` })]);
  await recordOutcomes(run.id, [
    {
      chunkId: chunkIdFor(0),
      segmentId: 'S',
      offset: 0,
      email: 'someone@example.com',
      status: 'skipped',
      category: 'invalidRecord',
      code: 'duplicateEmail',
      message: 'twice',
    },
  ]);
  await (await workContainer()).getBlockBlobClient(`runs/${run.id}/members.csv`).upload('someone@example.com\n', 20);
  return run;
}

async function workFiles(runId: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of (await workContainer()).listBlobsFlat({ prefix: `runs/${runId}/` })) names.push(blob.name);
  return names;
}

async function recordRows(runId: string): Promise<number> {
  let count = 0;
  for await (const _row of (await table(TABLES.records)).listEntities({ queryOptions: { filter: `PartitionKey eq '${runId}'` } })) count++;
  return count;
}

describe('retention', () => {
  it("deletes a run's working files as soon as it ends", async () => {
    const run = await aRun(await anExport(), 0, 'running');
    expect(await workFiles(run.id)).toHaveLength(1);
    await finishRunEarly(run, 'failed', 'ended for the test');
    expect(await workFiles(run.id)).toEqual([]);
  });

  it('removes ended runs older than RUN_RETENTION_DAYS with their ledger, records and files, and keeps younger or unfinished ones', async () => {
    const exportId = await anExport();
    const old = await aRun(exportId, 31, 'succeeded');
    const young = await aRun(exportId, 29, 'succeeded');
    const stuck = await aRun(exportId, 40, 'running');
    const summary = await pruneExpired();
    expect(summary.runs).toBeGreaterThanOrEqual(1);
    expect(await findRun(exportId, old.id)).toBeUndefined();
    expect(await listChunks(old.id)).toEqual([]);
    expect(await recordRows(old.id)).toBe(0);
    expect(await workFiles(old.id)).toEqual([]);
    for (const kept of [young, stuck]) {
      expect(await findRun(exportId, kept.id)).toBeDefined();
      expect(await listChunks(kept.id)).toHaveLength(1);
      expect(await recordRows(kept.id)).toBe(1);
    }
  });

  it("removes settled schedule marks older than the retention except each live export's newest, and old audit rows", async () => {
    const marks = await table(TABLES.scheduleMarks);
    const live = await anExport();
    const gone = randomUUID();
    const mark = (exportId: string, key: string, ageDays: number, state = 'fired') =>
      marks.createEntity({
        partitionKey: exportId,
        rowKey: key,
        state,
        claimedAt: new Date(Date.now() - ageDays * DAY).toISOString(),
        claimedBy: 'test',
        runId: '',
        reason: '',
      });
    await mark(live, 'due-old', 60);
    await mark(live, 'due-newest-but-old', 45);
    await mark(gone, 'due-old', 60);
    await mark(gone, 'due-young', 1);
    const audit = await table(TABLES.audit);
    const oldAt = new Date(Date.now() - 100 * DAY).toISOString();
    await audit.createEntity({
      partitionKey: oldAt.slice(0, 7),
      rowKey: `old-${randomUUID()}`,
      at: oldAt,
      actor: '{}',
      action: 'test',
      target: '{}',
      details: '{}',
    });
    const newAt = new Date().toISOString();
    await audit.createEntity({
      partitionKey: newAt.slice(0, 7),
      rowKey: `new-${randomUUID()}`,
      at: newAt,
      actor: '{}',
      action: 'test',
      target: '{}',
      details: '{}',
    });

    const summary = await pruneExpired();
    const left = async (exportId: string) => {
      const keys: string[] = [];
      for await (const row of marks.listEntities({ queryOptions: { filter: `PartitionKey eq '${exportId}'` } })) keys.push(row.rowKey!);
      return keys.sort();
    };
    expect(await left(live)).toEqual(['due-newest-but-old']);
    expect(await left(gone)).toEqual(['due-young']);
    expect(summary.auditRows).toBe(1);
    const actions: string[] = [];
    for await (const row of audit.listEntities<{ at: string }>()) actions.push(row.at);
    expect(actions).toEqual([newAt]);
  });

  it('prunes export-list tombstones only once older than any copy can need', async () => {
    const id = await anExport();
    const record = (await (await table(TABLES.exports)).getEntity('export', id)) as { etag: string };
    await deleteExportRow(id, record.etag);
    const exports = await table(TABLES.exports);
    const tombstones = async () => {
      const keys: string[] = [];
      for await (const row of exports.listEntities({ queryOptions: { filter: `PartitionKey eq 'exportDeleted'` } })) keys.push(row.rowKey!);
      return keys;
    };
    expect(await tombstones()).toContain(id);
    expect((await pruneExpired()).tombstones).toBe(0);
    expect((await pruneExpired(Date.now() + TOMBSTONE_KEEP_MS + 60_000)).tombstones).toBeGreaterThanOrEqual(1);
    expect(await tombstones()).not.toContain(id);
  });
});
