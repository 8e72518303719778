import { app } from '@azure/functions';
import { sendChunkMessageSchema as chunkMessage } from '../shared/segmentSender/planSegments.js';
import { QUEUES } from '../shared/storage/names.js';
import { runChunk } from '../shared/runs/runChunk.js';
import './runWorkers.js';
import { createLogger } from '../shared/observability/log.js';

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
