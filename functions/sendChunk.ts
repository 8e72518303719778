import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { runChunk } from '../shared/runs/runChunk.js';
import './runWorkers.js';
import { createLogger } from '../shared/observability/log.js';

const chunkMessage = z.object({
  exportId: z.string().min(1),
  runId: z.string().min(1),
  chunkId: z.string().min(1),
  secretsUnavailableSince: z.number().int().nonnegative().optional(),
  retries: z.object({ failures: z.number().int().nonnegative(), rateLimited: z.number().int().nonnegative() }).optional(),
});

app.storageQueue('sendChunk', {
  queueName: QUEUES.exportChunks,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = chunkMessage.safeParse(message);
    if (!parsed.success) return createLogger(context).error('Ignoring a malformed chunk message.', { problem: parsed.error.message });
    const { runId, exportId, chunkId } = parsed.data;
    await runChunk(parsed.data, createLogger(context, { runId, exportId, chunkId }));
  },
});
