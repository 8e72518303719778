// Progress details: a run's tasks with live chunk counts, throughput and an ETA, read from the
// ledger on request rather than kept in a hot shared counter.
import { listChunks } from './runLedger.js';
import { ZERO_COUNTS, addCounts, isTerminal, withRemoved, type RunRecord, type RunView } from './run.js';

export async function toRunView(run: RunRecord): Promise<RunView> {
  let counts = run.counts;
  let tasks = run.tasks;
  // Chunks are sent while the rest of the run is planned: live counts from the first one recorded.
  if ((run.planned || run.chunksTotal > 0) && !isTerminal(run.status)) {
    const chunks = await listChunks(run.id);
    const sendCounts = chunks.reduce((sum, chunk) => addCounts(sum, chunk.counts), ZERO_COUNTS);
    const done = chunks.filter((chunk) => chunk.status === 'done' || chunk.status === 'cancelled').length;
    const failed = chunks.filter((chunk) => chunk.status === 'failed').length;
    const sendTask = run.tasks.find((task) => task.name === 'send');
    const elapsedSeconds = sendTask?.startedAt ? Math.max(0.001, (Date.now() - Date.parse(sendTask.startedAt)) / 1000) : 0;
    const processed = sendCounts.members;
    const membersPerSecond = elapsedSeconds ? Math.round(processed / elapsedSeconds) : 0;
    const remaining = Math.max(0, run.counts.members - processed);
    counts = { ...sendCounts, members: Math.max(run.counts.members, processed) };
    tasks = run.tasks.map((task) =>
      task.name === 'send'
        ? {
            ...task,
            counts: sendCounts,
            chunks: { total: run.chunksTotal, done, failed },
            membersPerSecond,
            etaSeconds: membersPerSecond > 0 ? Math.ceil(remaining / membersPerSecond) : null,
          }
        : task,
    );
  }
  return {
    id: run.id,
    exportId: run.exportId,
    trigger: run.trigger,
    status: run.status,
    ...(run.reason ? { reason: run.reason } : {}),
    requestedBy: run.requestedBy,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    counts: withRemoved(run, counts),
    tasks,
    ...(run.waitingFor ? { waitingFor: run.waitingFor } : {}),
    ...(run.prediction ? { prediction: run.prediction } : {}),
    actualSeconds: run.startedAt
      ? Math.round((Date.parse(run.finishedAt ?? new Date().toISOString()) - Date.parse(run.startedAt)) / 100) / 10
      : null,
    ...(run.provenance ? { provenance: run.provenance } : {}),
    ...(run.retryOf ? { retryOf: run.retryOf } : {}),
    ...(run.delivery ? { delivery: { fullReason: run.delivery.fullReason, changes: run.delivery.changes } } : {}),
  };
}
