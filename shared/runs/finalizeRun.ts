// The finalizer: when every chunk has ended, the run's final status and counts are set exactly
// once (a conditional write on the run), and the export's lastRefreshed/lastRunStatus follow.
import { findExport, replaceExport } from '../exports/exportStore.js';
import { hasUnfinishedChunk, listChunks, type ChunkState } from './runLedger.js';
import { getRun, replaceRun } from './runStore.js';
import { ZERO_COUNTS, addCounts, isTerminal, withRemoved, type RunCounts, type RunRecord, type RunStatus, type RunTask } from './run.js';
import { recordRunFinished } from '../observability/metrics.js';
import { deleteRunWorkFiles } from './retention.js';
import { enqueueRunEnded } from '../webhooks/raiseEvents.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';
import { registeredWorkers } from './workers.js';

export function finalStatusOf(run: RunRecord, chunks: ChunkState[], counts: RunCounts): { status: RunStatus; reason: string | null } {
  const failedChunks = chunks.filter((chunk) => chunk.status === 'failed');
  if (run.cancelRequested || chunks.some((chunk) => chunk.status === 'cancelled')) {
    return { status: 'cancelled', reason: `Cancelled; ${counts.succeeded.toLocaleString('en-US')} members had been sent.` };
  }
  if (failedChunks.length > 0) {
    const reason = `${failedChunks.length} of ${chunks.length} chunks failed: ${failedChunks[0]!.reason}`;
    return { status: counts.succeeded > 0 ? 'partiallySucceeded' : 'failed', reason };
  }
  if (counts.failed + counts.skipped > 0) {
    const notSent = counts.failed + counts.skipped;
    const reason = `${notSent.toLocaleString('en-US')} ${notSent === 1 ? 'record was' : 'records were'} not sent; see the run's records.`;
    return { status: counts.succeeded > 0 ? 'partiallySucceeded' : 'failed', reason };
  }
  return { status: 'succeeded', reason: null };
}

function finishTasks(tasks: RunTask[], status: RunStatus, at: string, counts: RunCounts): RunTask[] {
  const taskStatus = (task: RunTask): RunTask['status'] => {
    if (task.status === 'succeeded' || task.status === 'failed') return task.status;
    if (status === 'cancelled') return 'cancelled';
    if (status === 'skipped') return 'skipped';
    if (status === 'failed' && task.name !== 'finalize') return 'failed';
    return 'succeeded';
  };
  return tasks.map((task) => ({
    ...task,
    status: taskStatus(task),
    startedAt: task.startedAt ?? (task.name === 'finalize' ? at : task.startedAt),
    finishedAt: task.finishedAt ?? at,
    ...(task.name === 'send' ? { counts } : {}),
  }));
}

/** Ends the run now (skipped, failed before sending, cancelled before planning). */
export async function finishRunEarly(run: RunRecord, status: RunStatus, reason: string): Promise<void> {
  const latest = await getRun(run.exportId, run.id);
  if (isTerminal(latest.status)) return;
  const at = new Date().toISOString();
  await commitFinal({
    ...latest,
    status,
    reason,
    finishedAt: at,
    startedAt: latest.startedAt ?? at,
    tasks: finishTasks(latest.tasks, status, at, latest.counts),
  });
}

/** Called after every chunk ends and after planning: finalizes once all chunks have ended. */
export async function finalizeIfComplete(exportId: string, runId: string): Promise<void> {
  const run = await getRun(exportId, runId);
  if (!run.planned || isTerminal(run.status)) return;
  if (await hasUnfinishedChunk(runId)) return;
  const chunks = await listChunks(runId);
  if (chunks.length < run.chunksTotal || chunks.some((chunk) => chunk.status === 'pending' || chunk.status === 'sending')) return;
  const read = chunks.reduce((sum, chunk) => addCounts(sum, chunk.counts), ZERO_COUNTS);
  // Members are what the run planned to send: a chunk that failed before reading all its rows
  // still counts its members (they are the ones the reason speaks of).
  let counts = withRemoved(run, { ...read, members: Math.max(read.members, run.counts.members) });
  let { status, reason } = finalStatusOf(run, chunks, counts);
  if (status === 'failed' || status === 'partiallySucceeded') {
    // Rows of chunks that failed whole were counted by no chunk: the workers count them now.
    for (const worker of registeredWorkers()) {
      const uncounted = await worker
        .chunksEnded?.(run, chunks)
        .catch(
          (error: Error) => void console.warn(`Worker ${worker.name} did not count the ended chunks of run ${run.id}: ${error.message}`),
        );
      if (uncounted) counts = addCounts(counts, uncounted);
    }
    ({ status, reason } = finalStatusOf(run, chunks, counts));
  }
  const at = new Date().toISOString();
  await commitFinal({ ...run, status, reason, counts, finishedAt: at, tasks: finishTasks(run.tasks, status, at, counts) });
}

async function commitFinal(run: RunRecord): Promise<void> {
  try {
    await replaceRun(run);
  } catch (error) {
    // Someone else finalized (or changed) the run at the same moment: they own the outcome.
    if (isPreconditionFailed(error)) return;
    throw error;
  }
  // Only the one writer that set the final status gets here: each run is measured once.
  // Workers settle what the run leaves (a changes snapshot) before the export is released, so the
  // export's next run starts from it.
  for (const worker of registeredWorkers())
    await worker
      .runEnded?.(run)
      .catch((error: Error) => console.warn(`Worker ${worker.name} did not settle run ${run.id}: ${error.message}`));
  const destination = await releaseExport(run);
  // The run's working files hold members' emails and fields: they go with the run (the retention
  // timer, and the container's lifecycle rule, catch what a failure here leaves).
  await deleteRunWorkFiles(run.id).catch(() => undefined);
  recordRunFinished(
    destination || 'unknown',
    run.status,
    (Date.parse(run.finishedAt ?? '') - Date.parse(run.startedAt ?? run.createdAt)) / 1000,
  );
  // Webhook alerts: one queue message; the rules run in their own function (shared/webhooks).
  await enqueueRunEnded(run.exportId, run.id).catch((error: Error) =>
    console.warn(`Webhook events of run ${run.id} not queued: ${error.message}`),
  );
}

/** Frees the export for its next run; answers its destination type. */
async function releaseExport(run: RunRecord): Promise<string | undefined> {
  let destination: string | undefined;
  for (let attempt = 0; attempt < 10; attempt++) {
    const record = await findExport(run.exportId);
    if (!record) return destination;
    destination = record.connectionType;
    const next = {
      ...record,
      activeRunId: record.activeRunId === run.id ? null : record.activeRunId,
      lastRunStatus: run.status,
      // "Refreshed" is when data last reached the destination.
      lastRefreshed: run.status === 'succeeded' || run.status === 'partiallySucceeded' ? run.finishedAt : record.lastRefreshed,
    };
    try {
      await replaceExport(next, record.etag);
      return destination;
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
    }
  }
  return destination;
}
