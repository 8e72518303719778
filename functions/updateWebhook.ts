import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { updateWebhookBody, webhookId, webhookView } from '../shared/webhooks/webhook.js';
import { toWebhookView, updateWebhook } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'updateWebhook',
  method: 'PATCH',
  route: 'webhooks/{id}',
  summary: 'Change a webhook: URL, events, filters, thresholds, on/off (admins). Honours If-Match.',
  roles: ['admin'],
  params: z.object({ id: webhookId }),
  body: updateWebhookBody,
  response: { status: 200, schema: webhookView, description: 'The updated webhook' },
  handle: async ({ principal, params, body, ifMatch }) => {
    const webhook = await updateWebhook(principal, params.id, body, ifMatch);
    return json(200, toWebhookView(webhook), { etag: webhook.etag });
  },
});
