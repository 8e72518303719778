import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { webhookId, webhookView } from '../shared/webhooks/webhook.js';
import { getWebhook, toWebhookView } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'getWebhook',
  method: 'GET',
  route: 'webhooks/{id}',
  summary: 'One webhook subscription (admins), with its ETag; never its signing secret.',
  roles: ['admin'],
  params: z.object({ id: webhookId }),
  response: { status: 200, schema: webhookView, description: 'The webhook' },
  handle: async ({ params }) => {
    const webhook = await getWebhook(params.id);
    return json(200, toWebhookView(webhook), { etag: webhook.etag });
  },
});
