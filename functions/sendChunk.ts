import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { sendChunk } from '../shared/runs/sendChunk.js';

const chunkMessage = z.object({ exportId: z.string().min(1), runId: z.string().min(1), chunkId: z.string().min(1) });

app.storageQueue('sendChunk', {
  queueName: QUEUES.exportChunks,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = chunkMessage.safeParse(message);
    if (!parsed.success) return context.error(`Ignoring a malformed chunk message: ${parsed.error.message}`);
    const { runId, chunkId } = parsed.data;
    await sendChunk(parsed.data, (line) => context.log(`[run ${runId} chunk ${chunkId}] ${line}`));
  },
});
