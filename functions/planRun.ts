import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { planRun } from '../shared/runs/planRun.js';
import './runWorkers.js';
import { createLogger } from '../shared/observability/log.js';

const planRunMessage = z.object({
  exportId: z.string().min(1),
  runId: z.string().min(1),
  secretsUnavailableSince: z.number().int().nonnegative().optional(),
});

app.storageQueue('planRun', {
  queueName: QUEUES.exportRuns,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = planRunMessage.safeParse(message);
    if (!parsed.success) return createLogger(context).error('Ignoring a malformed plan message.', { problem: parsed.error.message });
    const { runId, exportId } = parsed.data;
    await planRun(parsed.data, createLogger(context, { runId, exportId }));
  },
});
