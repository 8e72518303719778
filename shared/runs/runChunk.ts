// The core's chunk dispatcher: every chunk message goes to the worker registered for the step
// its ledger row carries (see worker.ts). The worker leases, works and ends the chunk.
import { finalizeIfComplete } from './finalizeRun.js';
import { getChunk, saveChunk, type ChunkMessage } from './runLedger.js';
import { workerForStep } from './workers.js';
import { silentLogger, type Logger } from '../observability/log.js';

export async function runChunk(message: ChunkMessage, log: Logger = silentLogger): Promise<void> {
  const chunk = await getChunk(message.runId, message.chunkId);
  if (!chunk) {
    log.warn('The chunk is not in the ledger; ignoring the message.');
    return;
  }
  const worker = workerForStep(chunk.step);
  if (worker) return worker.runStep(message, chunk, log);
  // No worker of this host knows the step (a row planned by another version): the chunk cannot
  // be carried out here, and the run ends with the reason rather than waiting on it.
  log.error(`No worker carries out step '${chunk.step}'; the chunk fails.`);
  if (chunk.status === 'pending' || (chunk.status === 'sending' && chunk.leaseUntil <= Date.now())) {
    await saveChunk({
      ...chunk,
      status: 'failed',
      reason: `No worker carries out step '${chunk.step || '(none)'}' of this chunk.`,
      leaseOwner: '',
      leaseUntil: 0,
      finishedAt: new Date().toISOString(),
    });
  }
  await finalizeIfComplete(message.exportId, message.runId);
}
