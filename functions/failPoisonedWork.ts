import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { failPoisonedChunk, failPoisonedPlan } from '../shared/runs/poisonedWork.js';
import { createLogger } from '../shared/observability/log.js';

// Messages that failed maxDequeueCount times land in <queue>-poison. These functions end the
// chunk or run they belong to with the reason, so a run never hangs silently.
const chunkMessage = z.object({ exportId: z.string(), runId: z.string(), chunkId: z.string() });
const planMessage = z.object({ exportId: z.string(), runId: z.string() });

app.storageQueue('failPoisonedChunk', {
  queueName: `${QUEUES.exportChunks}-poison`,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = chunkMessage.safeParse(message);
    if (!parsed.success)
      return createLogger(context).error('Unreadable poison message; dropped.', { queue: `${QUEUES.exportChunks}-poison` });
    const { runId, exportId, chunkId } = parsed.data;
    await failPoisonedChunk(parsed.data);
    createLogger(context, { runId, exportId, chunkId }).warn('The chunk failed repeatedly and was marked failed.');
  },
});

app.storageQueue('failPoisonedPlan', {
  queueName: `${QUEUES.exportRuns}-poison`,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = planMessage.safeParse(message);
    if (!parsed.success)
      return createLogger(context).error('Unreadable poison message; dropped.', { queue: `${QUEUES.exportRuns}-poison` });
    const { runId, exportId } = parsed.data;
    await failPoisonedPlan(parsed.data);
    createLogger(context, { runId, exportId }).warn('Planning failed repeatedly; the run was marked failed.');
  },
});
