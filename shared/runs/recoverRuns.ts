// The recovery sweep: a run is driven by queue messages, and a message can be lost (its send
// failed after the run row was written, the process died in between, a queue was cleared). Every
// minute this finds the runs nothing drives any more — no ledger write, no live lease for a while
// — and sends their messages again: the plan message of a run not planned, the chunk messages of
// chunks not done. Re-sent messages are safe twice over: the planner re-plans idempotently, and a
// chunk is sent by whoever holds its lease, from its last acknowledged batch. A run that stays
// still after several re-drives is ended with the reason, which frees its export (and so its
// schedule) for the next run.
import pLimit from 'p-limit';
import { findExport, listExports, replaceExport } from '../exports/exportStore.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { sendQueueMessage } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import { listChunks, saveChunk, type ChunkState } from './runLedger.js';
import { findRun, replaceRun, runIdTime } from './runStore.js';
import { enqueuePlan } from './startRun.js';
import { finalizeIfComplete, finishRunEarly } from './finalizeRun.js';
import { isTerminal, type RunRecord } from './run.js';
import { functionTimeoutMs } from './invocationBudget.js';
import type { ChunkMessage } from './runLedger.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';
import { setting } from '../settings.js';

/** How long a run (or chunk) may go without a write before it counts as not driven (RUN_RECOVERY_STALE_SECONDS). */
export const STALE_MS = 2 * 60_000;
/** STALE_MS, or RUN_RECOVERY_STALE_SECONDS where a test shortens it so a lost message is re-driven sooner. */
export function staleMs(): number {
  const seconds = Number(setting('RUN_RECOVERY_STALE_SECONDS'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : STALE_MS;
}
/** Re-drives in a row that found the run still before it is ended. */
export const MAX_RECOVERIES = 5;
/** Storage and host clocks may differ a little: a write this close to a re-drive is the re-drive's own. */
const CLOCK_MARGIN_MS = 5_000;

export interface RecoveryAction {
  exportId: string;
  runId: string;
  action: 'replanned' | 'chunksResent' | 'finalized' | 'ended' | 'claimReleased';
  detail: string;
}

/** Runs every export's active run through `recoverRun`; one export's failure does not stop the others. */
export async function recoverRuns(
  now = Date.now(),
): Promise<{ actions: RecoveryAction[]; errors: { exportId: string; message: string }[] }> {
  const records = (await listExports()).filter((record) => record.activeRunId);
  const actions: RecoveryAction[] = [];
  const errors: { exportId: string; message: string }[] = [];
  const limit = pLimit(8);
  await Promise.all(
    records.map((record) =>
      limit(async () => {
        try {
          const action = await recoverExport(record, now);
          if (action) actions.push(action);
        } catch (error) {
          errors.push({ exportId: record.id, message: (error as Error).message });
        }
      }),
    ),
  );
  return { actions, errors };
}

async function recoverExport(record: ExportRecord, now: number): Promise<RecoveryAction | undefined> {
  const runId = record.activeRunId!;
  const run = await findRun(record.id, runId);
  // A claim whose run row was never written (the start died in between; starts take a minute at
  // most), or whose run ended without freeing it (the finalizer died in between).
  if ((!run && now - runIdTime(runId) > 5 * 60_000) || (run && isTerminal(run.status))) {
    return (await releaseClaim(record.id, runId))
      ? { exportId: record.id, runId, action: 'claimReleased', detail: run ? `run already ${run.status}` : 'run never written' }
      : undefined;
  }
  if (!run) return undefined;
  return recoverRun(run, now);
}

/** What the sweep does for one run that has not ended. */
export async function recoverRun(run: RunRecord, now = Date.now()): Promise<RecoveryAction | undefined> {
  // Waiting runs wait for a refresh; the schedule sweep settles them (dependencies.ts).
  if (run.status === 'waiting') return undefined;
  const act = (action: RecoveryAction['action'], detail: string): RecoveryAction => ({
    exportId: run.exportId,
    runId: run.id,
    action,
    detail,
  });
  const recoveredAt = run.recoveredAt ?? 0;

  if (!run.planned) {
    // A planner at work writes the run row as it starts; one still at work after the runtime's
    // timeout was killed, and its message comes back by itself: give that time before re-driving.
    const patience = run.status === 'queued' ? staleMs() : functionTimeoutMs() + staleMs();
    if (now - (run.writtenAt ?? 0) < patience) return undefined;
    const stillSince = (run.writtenAt ?? 0) <= recoveredAt + CLOCK_MARGIN_MS;
    const recoveries = stillSince ? (run.recoveries ?? 0) : 0;
    if (recoveries >= MAX_RECOVERIES) {
      await finishRunEarly(
        run,
        'failed',
        `Planning never started or never finished: its message was sent again ${recoveries} times without the run moving.`,
      );
      return act('ended', 'not planned');
    }
    if (!(await markRecovered(run, recoveries + 1, now))) return undefined;
    await enqueuePlan(run);
    return act('replanned', `plan message sent again (${recoveries + 1} of ${MAX_RECOVERIES})`);
  }

  const chunks = await listChunks(run.id);
  const open = chunks.filter((chunk) => chunk.status === 'pending' || chunk.status === 'sending');
  if (open.length === 0 && chunks.length >= run.chunksTotal) {
    // Every chunk ended but the run was not finalized (its last sender died in between).
    await finalizeIfComplete(run.exportId, run.id);
    return act('finalized', 'every chunk had ended');
  }
  const stale = open.filter((chunk) => isStale(chunk, now));
  if (stale.length === 0) return undefined;
  const moved = chunks.some((chunk) => chunk.writtenAt > recoveredAt + CLOCK_MARGIN_MS);
  const recoveries = moved ? 0 : (run.recoveries ?? 0);
  if (recoveries >= MAX_RECOVERIES) {
    const reason = `No sender took the chunk up: its message was sent again ${recoveries} times without progress.`;
    for (const chunk of stale) await endStaleChunk(chunk, reason);
    await finalizeIfComplete(run.exportId, run.id);
    return act('ended', `${stale.length} chunks failed`);
  }
  if (!(await markRecovered(run, recoveries + 1, now))) return undefined;
  for (const chunk of stale)
    await sendQueueMessage(QUEUES.exportChunks, { exportId: run.exportId, runId: run.id, chunkId: chunk.chunkId } satisfies ChunkMessage);
  return act('chunksResent', `${stale.length} chunk messages sent again (${recoveries + 1} of ${MAX_RECOVERIES})`);
}

/** Not held by a live lease and not written for a while: nothing is sending or re-queueing it. */
export function isStale(chunk: Pick<ChunkState, 'leaseUntil' | 'writtenAt'>, now: number): boolean {
  return chunk.leaseUntil <= now && now - chunk.writtenAt >= staleMs();
}

/** Counts the re-drive on the run, conditional on the version read: of two sweeps, one re-drives. */
async function markRecovered(run: RunRecord, recoveries: number, now: number): Promise<boolean> {
  try {
    // The write's own time (the sweep may have started a while ago), so the row's timestamp does not read as progress.
    await replaceRun({ ...run, recoveries, recoveredAt: Math.max(now, Date.now()) });
    return true;
  } catch (error) {
    if (isPreconditionFailed(error)) return false;
    throw error;
  }
}

async function endStaleChunk(chunk: ChunkState, reason: string): Promise<void> {
  await saveChunk({ ...chunk, status: 'failed', reason, leaseOwner: '', leaseUntil: 0, finishedAt: new Date().toISOString() });
}

async function releaseClaim(exportId: string, runId: string): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const record = await findExport(exportId);
    if (!record || record.activeRunId !== runId) return false;
    try {
      await replaceExport({ ...record, activeRunId: null }, record.etag);
      return true;
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
    }
  }
  return false;
}
