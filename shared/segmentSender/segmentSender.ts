// The segment sender as a run worker: plans a segment export into 'send' chunks and sends each
// chunk's members to the vendor in batches (planSegments.ts, sendChunk.ts).
import { AZURE_BLOB_TYPE } from '../destinations/azureBlob.js';
import type { RunWorker } from '../runs/worker.js';
import { planSegments, SEND_STEP } from './planSegments.js';
import { sendChunk } from './sendChunk.js';

export const segmentSender: RunWorker = {
  name: 'segmentSender',
  steps: [SEND_STEP],
  // Segment exports to storage write CDM folders: the data-out writer takes those.
  takes: (record, destination) => record.kind === 'segment' && destination.type !== AZURE_BLOB_TYPE,
  plan: (job, log) => planSegments(job, log),
  runStep: (message, chunk, log) => sendChunk(message, log, chunk),
};
