// The run core's worker interface: what a worker (the segment sender, the data-out writer) is to
// the core, and the one module through which workers use the core. The core owns the run's
// lifecycle — the run row, the chunk ledger and its leases, continuation through the chunk queue,
// cancel, finalize, progress and recovery — and knows nothing of what a chunk reads or writes.
// A worker plans a run into chunks, each with a step kind of its own, and carries out its steps;
// the entry points register the workers (functions/runWorkers.ts), and the core routes each plan
// to the worker that takes the export and each chunk message to the worker of the chunk's step.

export type { PlanJob, RunWorker } from './workerContract.js';

// The core's services a worker may use.
export {
  ZERO_COUNTS,
  addCounts,
  isTerminal,
  type PlannedSegment,
  type RunCounts,
  type RunDelivery,
  type RunPrediction,
  type RunRecord,
} from './run.js';
export {
  chunkIdFor,
  getChunk,
  listChunks,
  recordOutcomes,
  recordPlannedChunks,
  saveChunk,
  type ChunkMessage,
  type ChunkRange,
  type ChunkState,
  type RecordOutcome,
} from './runLedger.js';
export { getRun, updateRun } from './runStore.js';
export { finalizeIfComplete, finishRunEarly } from './finalizeRun.js';
export { endCancelledPlanning } from './cancelRun.js';
export { destinationAccess, destinationConcurrency, type DestinationAccess, type RateLimit } from './destinationAccess.js';
export { deferWhileSecretsUnavailable, secretsOutageNote, type WaitsForSecrets } from './secretsOutage.js';
export { invocationBudgetMs, invocationDeadline } from './invocationBudget.js';
export type { PlanRunMessage } from './startRun.js';
