import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { failPoisonedChunk, failPoisonedPlan } from '../shared/runs/poisonedWork.js';

// Messages that failed maxDequeueCount times land in <queue>-poison. These functions end the
// chunk or run they belong to with the reason, so a run never hangs silently.
const chunkMessage = z.object({ exportId: z.string(), runId: z.string(), chunkId: z.string() });
const planMessage = z.object({ exportId: z.string(), runId: z.string() });

app.storageQueue('failPoisonedChunk', {
  queueName: `${QUEUES.exportChunks}-poison`,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = chunkMessage.safeParse(message);
    if (!parsed.success) return context.error(`Unreadable poison message on ${QUEUES.exportChunks}-poison; dropped.`);
    await failPoisonedChunk(parsed.data);
    context.warn(`Chunk ${parsed.data.chunkId} of run ${parsed.data.runId} failed repeatedly and was marked failed.`);
  },
});

app.storageQueue('failPoisonedPlan', {
  queueName: `${QUEUES.exportRuns}-poison`,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = planMessage.safeParse(message);
    if (!parsed.success) return context.error(`Unreadable poison message on ${QUEUES.exportRuns}-poison; dropped.`);
    await failPoisonedPlan(parsed.data);
    context.warn(`Planning run ${parsed.data.runId} failed repeatedly; the run was marked failed.`);
  },
});
