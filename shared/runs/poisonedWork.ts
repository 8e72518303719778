// Work that failed maxDequeueCount times: end it with the last error, never hang.
import { MAX_DEQUEUE_COUNT } from '../storage/hostSettings.js';
import { getChunk, saveChunk } from './runLedger.js';
import { findRun } from './runStore.js';
import { finalizeIfComplete, finishRunEarly } from './finalizeRun.js';

export async function failPoisonedChunk(message: { exportId: string; runId: string; chunkId: string }): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const chunk = await getChunk(message.runId, message.chunkId);
    if (!chunk || chunk.status === 'done' || chunk.status === 'failed' || chunk.status === 'cancelled') break;
    const reason = `Chunk ${chunk.chunkId} failed ${MAX_DEQUEUE_COUNT} times; last error: ${chunk.reason.replace(/^Attempt failed: /, '') || 'unknown'}`;
    const saved = await saveChunk({
      ...chunk,
      status: 'failed',
      reason,
      leaseOwner: '',
      leaseUntil: 0,
      finishedAt: new Date().toISOString(),
    });
    if (saved) break;
  }
  await finalizeIfComplete(message.exportId, message.runId);
}

export async function failPoisonedPlan(message: { exportId: string; runId: string }): Promise<void> {
  const run = await findRun(message.exportId, message.runId);
  if (!run) return;
  await finishRunEarly(run, 'failed', `Planning failed ${MAX_DEQUEUE_COUNT} times; see the logs for run ${run.id}.`);
}
