// The segment sender as a run worker: plans a segment export into 'send' chunks and sends each
// chunk's members to the vendor in batches (planSegments.ts, sendChunk.ts).
import { AZURE_BLOB_TYPE } from '../destinations/azureBlob.js';
import { ZERO_COUNTS, type RunWorker } from '../runs/worker.js';
import { planSegments, REMOVE_STEP, SEND_STEP } from './planSegments.js';
import { settleDeliverySnapshot } from '../delivery/deliveryRun.js';
import { sendChunk } from './sendChunk.js';
import { recordWholeChunkFailures } from './chunkFailures.js';
import { failedWholeForRetryableReason } from '../delivery/retryFailures.js';
import { getExport } from '../exports/exportStore.js';

export const segmentSender: RunWorker = {
  name: 'segmentSender',
  steps: [SEND_STEP, REMOVE_STEP],
  // Segment exports to storage write CDM folders: the data-out writer takes those.
  takes: (record, destination) => record.kind === 'segment' && destination.type !== AZURE_BLOB_TYPE,
  plan: (job, log) => planSegments(job, log),
  runStep: (message, chunk, log) => sendChunk(message, log, chunk),
  // Rows of chunks that failed whole get their outcomes (and counts) while the run's files are still there.
  chunksEnded: async (run, chunks) => {
    const own = chunks.filter((chunk) => chunk.step === SEND_STEP);
    if (!own.some(failedWholeForRetryableReason)) return undefined;
    // Every worker hears every run's end: only this sender's runs are its business.
    const record = await getExport(run.exportId).catch(() => undefined);
    if (!record || record.kind !== 'segment' || record.connectionType === AZURE_BLOB_TYPE) return undefined;
    const { failed, skipped } = await recordWholeChunkFailures(run, record.mapping, own);
    return { ...ZERO_COUNTS, failed, skipped };
  },
  // A changes/removals run that delivered becomes the export's snapshot; any other leaves it.
  runEnded: (run) => settleDeliverySnapshot(run),
};
