// What a worker (the segment sender, the data-out writer) is to the run core. Workers import it
// through worker.ts; the core's registry reads only this file, so finalizeRun → workers does not
// come back round through the services worker.ts re-exports. The core owns the run's
// lifecycle — the run row, the chunk ledger and its leases, continuation through the chunk queue,
// cancel, finalize, progress and recovery — and knows nothing of what a chunk reads or writes.
// A worker plans a run into chunks, each with a step kind of its own, and carries out its steps;
// the entry points register the workers (functions/runWorkers.ts), and the core routes each plan
// to the worker that takes the export and each chunk message to the worker of the chunk's step.
import type { ConnectionRecord } from '../connections/connection.js';
import type { DestinationAdapter } from '../destinations/destination.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import type { Logger } from '../observability/log.js';
import type { DestinationAccess } from './destinationAccess.js';
import type { ChunkMessage, ChunkState } from './runLedger.js';
import type { RunCounts, RunRecord } from './run.js';
import type { PlanRunMessage } from './startRun.js';

/** What the core hands a worker to plan: a run it has set running, with its export and access. */
export interface PlanJob {
  message: PlanRunMessage;
  run: RunRecord;
  record: ExportRecord;
  connection: ConnectionRecord;
  access: DestinationAccess;
  /**
   * When this invocation should hand the rest of the plan on (invocationBudget.ts): a worker whose
   * plan may take longer keeps what it did and queues the plan message again; unset, no limit.
   */
  deadline?: number;
}

export interface RunWorker {
  /** For logs and the registry. */
  readonly name: string;
  /** The step kinds this worker's chunks carry in the ledger; no two workers share one. */
  readonly steps: readonly string[];
  /** Whether this worker carries out runs of this export to this destination. */
  takes(record: ExportRecord, destination: DestinationAdapter): boolean;
  /**
   * Cuts the run into chunks (recordPlannedChunks, each with one of `steps`), queues their
   * messages, marks the run planned, and calls finalizeIfComplete; or ends the run early.
   */
  plan(job: PlanJob, log: Logger): Promise<void>;
  /** Carries out one delivery of a chunk message; `chunk` is the ledger row as just read. */
  runStep(message: ChunkMessage, chunk: ChunkState, log: Logger): Promise<void>;
  /**
   * Called when every chunk of a run that did not fully deliver has ended, before its final status
   * and counts are written (and while its working files are there): answers counts to add for
   * rows no chunk counted (chunks that failed whole). Two finalizers at once may both call it: it
   * must be idempotent.
   */
  chunksEnded?(run: RunRecord, chunks: ChunkState[]): Promise<RunCounts | undefined>;
  /**
   * Called once when any run ends (its final status written), before the export is released:
   * the worker settles what it keeps between runs. A failure is logged, never fails the run.
   */
  runEnded?(run: RunRecord): Promise<void>;
}
