import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { webhookId } from '../shared/webhooks/webhook.js';
import { sendTestEvent } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'testWebhook',
  method: 'POST',
  route: 'webhooks/{id}/test',
  summary: 'Queue a signed webhook.test event to the webhook (admins); its outcome shows in the deliveries.',
  roles: ['admin'],
  params: z.object({ id: webhookId }),
  response: {
    status: 202,
    schema: z.object({ deliveryId: z.string() }),
    description: 'Queued; the delivery id is also its webhook-id header',
  },
  handle: async ({ principal, params }) => json(202, await sendTestEvent(principal, params.id)),
});
