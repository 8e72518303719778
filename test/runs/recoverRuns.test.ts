// The recovery sweep and the planner's guard, over real Azurite: a run whose plan message was lost
// is planned again, then ended with the reason if nothing moves it (its export freed, so its
// schedule fires again); chunks no sender holds or re-queues are sent again; a run whose chunks all
// ended is finalized; a claim by a run that never got written is released; and the planner never
// sets an ended or cancelled run running again.
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { QueueClient } from '@azure/storage-queue';
import { findExport, insertExport, replaceExport } from '../../shared/exports/exportStore.js';
import { recoverRuns, MAX_RECOVERIES, STALE_MS } from '../../shared/runs/recoverRuns.js';
import { planRun } from '../../shared/runs/planRun.js';
import '../../functions/runWorkers.js';
import { chunkIdFor, getChunk, recordPlannedChunks, saveChunk } from '../../shared/runs/runLedger.js';
import { getRun, insertRun, newRunId } from '../../shared/runs/runStore.js';
import { startRun, type PlanRunMessage } from '../../shared/runs/startRun.js';
import { finishRunEarly } from '../../shared/runs/finalizeRun.js';
import { ZERO_COUNTS, type RunRecord } from '../../shared/runs/run.js';
import { QUEUES } from '../../shared/storage/names.js';
import { chunkRange, exportRecord, runRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

const local = useLocalServices();

const planQueue = () => new QueueClient(local.azurite.connectionString, QUEUES.exportRuns);
const chunkQueue = () => new QueueClient(local.azurite.connectionString, QUEUES.exportChunks);

beforeEach(async () => {
  for (const queue of [planQueue(), chunkQueue()]) {
    await queue.createIfNotExists();
    await queue.clearMessages();
  }
});

async function messagesOn(queue: QueueClient): Promise<{ runId: string; chunkId?: string }[]> {
  const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 1 });
  for (const item of receivedMessageItems) await queue.deleteMessage(item.messageId, item.popReceipt);
  return receivedMessageItems.map((item) => JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')));
}

/** An export (no connection needed: the sweep does not call the vendor) claimed by a run in `status`. */
async function activeRun(status: RunRecord['status'], extra: Partial<RunRecord> = {}): Promise<RunRecord> {
  const now = new Date().toISOString();
  const record = await insertExport(exportRecord({ id: randomUUID(), name: 'Recovered', createdAt: now }));
  const run = await insertRun(
    runRecord({
      id: newRunId(),
      exportId: record.id,
      trigger: 'schedule',
      status,
      requestedBy: { id: 'scheduler', name: 'Scheduler' },
      createdAt: now,
      startedAt: status === 'queued' ? null : now,
      tasks: [
        { name: 'plan', status: 'pending', startedAt: null, finishedAt: null },
        { name: 'send', status: 'pending', startedAt: null, finishedAt: null },
        { name: 'finalize', status: 'pending', startedAt: null, finishedAt: null },
      ],
      ...extra,
    }),
  );
  await replaceExport({ ...record, activeRunId: run.id }, record.etag);
  return run;
}

const later = (minutes: number) => Date.now() + minutes * 60_000;

describe('the recovery sweep', () => {
  it('sends a lost plan message again, and ends the run with the reason (freeing its export) when nothing moves it', async () => {
    const run = await activeRun('queued');
    // Within the patience nothing is done: the message may just be waiting its turn.
    expect((await recoverRuns(Date.now() + STALE_MS / 2)).actions.filter((action) => action.runId === run.id)).toEqual([]);

    let clock = later(3);
    const first = await recoverRuns(clock);
    expect(first.actions.find((action) => action.runId === run.id)).toMatchObject({ action: 'replanned' });
    expect(await messagesOn(planQueue())).toEqual([{ exportId: run.exportId, runId: run.id }]);
    // Each later sweep that finds the run still not moved sends it again, up to the limit…
    for (let round = 2; round <= MAX_RECOVERIES; round++) {
      clock += STALE_MS + 60_000;
      expect((await recoverRuns(clock)).actions.find((action) => action.runId === run.id)).toMatchObject({ action: 'replanned' });
    }
    clock += STALE_MS + 60_000;
    expect((await recoverRuns(clock)).actions.find((action) => action.runId === run.id)).toMatchObject({ action: 'ended' });
    const ended = await getRun(run.exportId, run.id);
    expect(ended.status).toBe('failed');
    expect(ended.reason).toMatch(/Planning never started or never finished/);
    expect((await findExport(run.exportId))!.activeRunId).toBeNull();
  });

  it('plans a run started over HTTP whose plan message never went out (the output binding is sent after the function returns: an instance that died first sent nothing)', async () => {
    const record = await insertExport(exportRecord({ id: randomUUID(), name: 'Started over HTTP', connectionId: 'connection-1' }));
    const handed: PlanRunMessage[] = [];
    const run = await startRun({ id: 'alice', name: 'Alice', roles: ['admin'] }, record.id, 'manual', {
      sendPlan: (message) => void handed.push(message),
    });
    // The message went to the binding only, after the run row was written.
    expect(handed).toEqual([{ exportId: record.id, runId: run.id }]);
    expect((await getRun(record.id, run.id)).status).toBe('queued');
    expect(await messagesOn(planQueue())).toEqual([]);

    const swept = await recoverRuns(later(3));
    expect(swept.actions.find((action) => action.runId === run.id)).toMatchObject({ action: 'replanned' });
    expect(await messagesOn(planQueue())).toEqual([{ exportId: record.id, runId: run.id }]);
    // Ended here, so later sweeps in this file do not see it.
    await finishRunEarly(await getRun(record.id, run.id), 'cancelled', 'Test over.');
  });

  it('counts a run as not driven after RUN_RECOVERY_STALE_SECONDS when it is set (the reliability ci profile shortens the wait)', async () => {
    const run = await activeRun('queued');
    const previous = process.env.RUN_RECOVERY_STALE_SECONDS;
    process.env.RUN_RECOVERY_STALE_SECONDS = '10';
    try {
      expect((await recoverRuns(Date.now() + 5_000)).actions.filter((action) => action.runId === run.id)).toEqual([]);
      expect((await recoverRuns(Date.now() + 15_000)).actions.find((action) => action.runId === run.id)).toMatchObject({
        action: 'replanned',
      });
      expect(await messagesOn(planQueue())).toEqual([{ exportId: run.exportId, runId: run.id }]);
    } finally {
      if (previous === undefined) delete process.env.RUN_RECOVERY_STALE_SECONDS;
      else process.env.RUN_RECOVERY_STALE_SECONDS = previous;
    }
  });

  it('sends the messages of chunks nobody holds or re-queues again, and leaves a chunk under a live lease alone', async () => {
    const run = await activeRun('running', { planned: true, chunksTotal: 3 });
    await recordPlannedChunks(
      run.id,
      [0, 1, 2].map((index) => chunkRange({ chunkId: chunkIdFor(index) })),
    );
    const held = (await getChunk(run.id, chunkIdFor(1)))!;
    await saveChunk({ ...held, status: 'sending', leaseOwner: 'alive', leaseUntil: later(10) });
    const done = (await getChunk(run.id, chunkIdFor(2)))!;
    await saveChunk({ ...done, status: 'done', finishedAt: new Date().toISOString() });

    const swept = await recoverRuns(later(3));
    expect(swept.actions.find((action) => action.runId === run.id)).toMatchObject({ action: 'chunksResent' });
    expect(await messagesOn(chunkQueue())).toEqual([{ exportId: run.exportId, runId: run.id, chunkId: chunkIdFor(0) }]);
  });

  it('finalizes a run whose chunks all ended but whose finalizer never ran', async () => {
    const run = await activeRun('running', { planned: true, chunksTotal: 1 });
    await recordPlannedChunks(run.id, [chunkRange()]);
    const chunk = (await getChunk(run.id, chunkIdFor(0)))!;
    await saveChunk({
      ...chunk,
      status: 'done',
      counts: { ...ZERO_COUNTS, members: 2, sent: 2, succeeded: 2 },
      finishedAt: new Date().toISOString(),
    });
    expect((await recoverRuns()).actions.find((action) => action.runId === run.id)).toMatchObject({ action: 'finalized' });
    expect((await getRun(run.exportId, run.id)).status).toBe('succeeded');
    expect((await findExport(run.exportId))!.activeRunId).toBeNull();
  });

  it('releases an export claimed by a run whose row was never written', async () => {
    const run = await activeRun('succeeded');
    const record = (await findExport(run.exportId))!;
    const ghost = newRunId(Date.now() - 10 * 60_000);
    await replaceExport({ ...record, activeRunId: ghost }, record.etag);
    expect((await recoverRuns()).actions.find((action) => action.runId === ghost)).toMatchObject({ action: 'claimReleased' });
    expect((await findExport(run.exportId))!.activeRunId).toBeNull();
  });
});

describe('the planner', () => {
  it('never sets an ended run running again', async () => {
    for (const status of ['cancelled', 'failed'] as const) {
      const run = await activeRun(status, { finishedAt: new Date().toISOString(), reason: 'ended before planning' });
      await planRun({ exportId: run.exportId, runId: run.id });
      const after = await getRun(run.exportId, run.id);
      expect(after.status).toBe(status);
      expect(after.etag, 'the run row was not written at all').toBe(run.etag);
    }
  });

  it('ends a run cancelled before it was planned as cancelled, once', async () => {
    const run = await activeRun('running', { cancelRequested: true });
    await planRun({ exportId: run.exportId, runId: run.id });
    const ended = await getRun(run.exportId, run.id);
    expect(ended.status).toBe('cancelled');
    await planRun({ exportId: run.exportId, runId: run.id });
    expect((await getRun(run.exportId, run.id)).etag).toBe(ended.etag);
  });
});
