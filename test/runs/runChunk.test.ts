// The core hands each chunk message to the worker registered for the step in the chunk's ledger
// row (never by its id), and a chunk whose step no worker carries out ends failed with the
// reason, so its run finalizes instead of waiting on it. Over real Azurite.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { insertExport } from '../../shared/exports/exportStore.js';
import { runChunk } from '../../shared/runs/runChunk.js';
import { chunkIdFor, getChunk, recordPlannedChunks } from '../../shared/runs/runLedger.js';
import { getRun, insertRun, newRunId } from '../../shared/runs/runStore.js';
import type { RunRecord } from '../../shared/runs/run.js';
import { registerRunWorker } from '../../shared/runs/workers.js';
import type { ChunkMessage, ChunkState, RunWorker } from '../../shared/runs/worker.js';
import { chunkRange, exportRecord, runRecord } from '../support/engineRecords.js';
import { useLocalServices } from '../support/localServices.js';

useLocalServices();

const seen: { message: ChunkMessage; chunk: ChunkState }[] = [];
const probe: RunWorker = {
  name: 'probe',
  steps: ['probe-step'],
  takes: () => false,
  plan: async () => undefined,
  runStep: async (message, chunk) => void seen.push({ message, chunk }),
};
registerRunWorker(probe);

async function plannedRun(step: string): Promise<{ run: RunRecord; message: ChunkMessage }> {
  const now = new Date().toISOString();
  const record = await insertExport(exportRecord({ id: randomUUID(), name: 'Dispatched', createdAt: now }));
  const run = await insertRun(
    runRecord({
      id: newRunId(),
      exportId: record.id,
      createdAt: now,
      planned: true,
      chunksTotal: 1,
      tasks: [
        { name: 'plan', status: 'succeeded', startedAt: now, finishedAt: now },
        { name: 'send', status: 'running', startedAt: now, finishedAt: null },
        { name: 'finalize', status: 'pending', startedAt: null, finishedAt: null },
      ],
    }),
  );
  const chunk = chunkRange({ step });
  await recordPlannedChunks(run.id, [chunk]);
  return { run, message: { exportId: run.exportId, runId: run.id, chunkId: chunk.chunkId } };
}

describe('the core chunk dispatcher', () => {
  it("hands the message to the worker of the chunk's step, with the ledger row it read", async () => {
    const { run, message } = await plannedRun('probe-step');
    await runChunk(message);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.message).toEqual(message);
    expect(seen[0]!.chunk).toMatchObject({ runId: run.id, chunkId: message.chunkId, step: 'probe-step', status: 'pending' });
  });

  it('ends a chunk whose step no worker carries out, and the run with it', async () => {
    const { run, message } = await plannedRun('no-such-step');
    await runChunk(message);
    expect(await getChunk(run.id, message.chunkId)).toMatchObject({
      status: 'failed',
      reason: "No worker carries out step 'no-such-step' of this chunk.",
    });
    expect(await getRun(run.exportId, run.id)).toMatchObject({ status: 'failed', reason: expect.stringContaining('no-such-step') });
  });

  it('ignores a message whose chunk is not in the ledger', async () => {
    const { run } = await plannedRun('probe-step');
    const before = seen.length;
    await runChunk({ exportId: run.exportId, runId: run.id, chunkId: chunkIdFor(9) });
    expect(seen).toHaveLength(before);
  });
});
