import { app } from '@azure/functions';
import { z } from 'zod';
import { QUEUES } from '../shared/storage/names.js';
import { deliverWebhook } from '../shared/webhooks/deliverWebhook.js';
import { createLogger } from '../shared/observability/log.js';

const deliveryMessage = z.object({ webhookId: z.string().min(1), deliveryId: z.string().min(1) });

// One attempt of one signed delivery; a failed one is queued again with a delay (not thrown, so
// the queue's own few retries are kept for storage or Key Vault being out of reach).
app.storageQueue('deliverWebhook', {
  queueName: QUEUES.webhookDeliveries,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => {
    const parsed = deliveryMessage.safeParse(message);
    if (!parsed.success)
      return createLogger(context).error('Ignoring a malformed webhook delivery message.', { problem: parsed.error.message });
    const { result, delivery } = await deliverWebhook(parsed.data);
    if (result === 'skipped') return;
    // The URL is not logged (it may carry a token in its path); ids, status and attempts only.
    const fields = {
      webhookId: parsed.data.webhookId,
      deliveryId: parsed.data.deliveryId,
      result,
      attempts: delivery?.attempts,
      responseStatus: delivery?.responseStatus,
      nextAttemptAt: delivery?.nextAttemptAt,
    };
    if (result === 'succeeded') createLogger(context).info('Webhook delivered', fields);
    else createLogger(context).warn(`Webhook delivery ${result}`, { ...fields, error: delivery?.error });
  },
});
