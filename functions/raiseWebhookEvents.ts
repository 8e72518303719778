import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { raiseRunEndedEvents } from '../shared/webhooks/raiseEvents.js';
import { createLogger } from '../shared/observability/log.js';

const runEnded = z.object({ exportId: z.string().min(1), runId: z.string().min(1) });

// A run ended: apply every webhook's rules and queue the deliveries.
app.storageQueue('raiseWebhookEvents', {
  queueName: QUEUES.webhookEvents,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = runEnded.safeParse(message);
    if (!parsed.success)
      return createLogger(context).error('Ignoring a malformed webhook event message.', { problem: parsed.error.message });
    const { deliveries } = await raiseRunEndedEvents(parsed.data);
    if (deliveries) createLogger(context, parsed.data).info('Webhook events raised', { deliveries });
  },
});
