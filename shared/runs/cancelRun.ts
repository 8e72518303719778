// Cancel: flags the run; senders check the flag before every batch and stop within seconds.
import type { Principal } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { Conflict } from '../errors.js';
import { getRun, updateRun } from './runStore.js';
import { finalizeIfComplete, finishRunEarly } from './finalizeRun.js';
import { isTerminal, type RunRecord } from './run.js';
import { listChunks, type ChunkMessage } from './runLedger.js';
import { sendQueueMessage } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';

export async function cancelRun(principal: Principal, exportId: string, runId: string): Promise<RunRecord> {
  const current = await getRun(exportId, runId);
  if (isTerminal(current.status)) throw new Conflict(`Run '${runId}' has already ended (${current.status}).`);
  const run = await updateRun(exportId, runId, (latest) => (isTerminal(latest.status) ? undefined : { ...latest, cancelRequested: true }));
  await recordAudit(principal, 'run.cancelled', { type: 'run', id: runId }, { exportId });
  // Not yet sending anything: end it now. Otherwise the senders end their chunks.
  if (run.status === 'queued' || run.status === 'waiting') await finishRunEarly(run, 'cancelled', 'Cancelled before it started.');
  else await finalizeIfComplete(exportId, runId);
  return getRun(exportId, runId);
}

/**
 * Ends a run cancelled while it was being planned. A planner queues each partition's chunks as
 * soon as it has read it, so some may be sending or done already: the run then counts as planned
 * as far as it got (the chunks in the ledger), the chunks not ended are queued again so their
 * senders end them cancelled at once, and the finalizer sums what was sent. A run with no chunk
 * recorded yet ends now with `reason`.
 */
export async function endCancelledPlanning(run: RunRecord, reason: string): Promise<void> {
  const chunks = await listChunks(run.id);
  if (chunks.length === 0) return finishRunEarly(run, 'cancelled', reason);
  const at = new Date().toISOString();
  const latest = await updateRun(run.exportId, run.id, (current) =>
    isTerminal(current.status) || current.planned
      ? undefined
      : {
          ...current,
          planned: true,
          chunksTotal: chunks.length,
          tasks: current.tasks.map((task) =>
            task.name === 'plan' ? { ...task, status: 'cancelled', finishedAt: at, detail: 'Cancelled while it was being planned.' } : task,
          ),
        },
  );
  if (isTerminal(latest.status)) return;
  for (const chunk of chunks.filter((candidate) => candidate.status === 'pending'))
    await sendQueueMessage(QUEUES.exportChunks, { exportId: run.exportId, runId: run.id, chunkId: chunk.chunkId } satisfies ChunkMessage);
  await finalizeIfComplete(run.exportId, run.id);
}
