// The data-out writer as a run worker: plans data-out exports (and segment exports to storage)
// into copy, merge and publish steps, and writes each step's files (planDataOut.ts, writePartition.ts).
import { AZURE_BLOB_TYPE } from '../destinations/azureBlob.js';
import type { RunWorker } from '../runs/worker.js';
import { planDataOut } from './planDataOut.js';
import { writePartition } from './writePartition.js';

export const DATA_OUT_STEPS = ['copy', 'merge', 'publish'] as const;

export const dataOutWriter: RunWorker = {
  name: 'dataOutWriter',
  steps: DATA_OUT_STEPS,
  takes: (record, destination) => record.kind === 'dataOut' || destination.type === AZURE_BLOB_TYPE,
  plan: ({ run, record, access }, log) => planDataOut(run, record, access, log),
  runStep: (message, chunk, log) => writePartition(message, log, chunk),
};
