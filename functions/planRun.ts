import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { planRun } from '../shared/runs/planRun.js';

const planRunMessage = z.object({ exportId: z.string().min(1), runId: z.string().min(1) });

app.storageQueue('planRun', {
  queueName: QUEUES.exportRuns,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = planRunMessage.safeParse(message);
    if (!parsed.success) return context.error(`Ignoring a malformed plan message: ${parsed.error.message}`);
    await planRun(parsed.data, (line) => context.log(line));
  },
});
