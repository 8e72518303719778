import { defineRoute, json } from '../shared/http/route.js';
import { createWebhookBody, webhookWithSecretView } from '../shared/webhooks/webhook.js';
import { createWebhook, toWebhookView } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'createWebhook',
  method: 'POST',
  route: 'webhooks',
  summary: 'Subscribe a URL to run events (admins). The answer holds the signing secret (whsec_…), shown this once.',
  roles: ['admin'],
  body: createWebhookBody,
  response: { status: 201, schema: webhookWithSecretView, description: 'The webhook and its signing secret (shown once)' },
  handle: async ({ principal, body }) => {
    const { webhook, secret } = await createWebhook(principal, body);
    return json(
      201,
      { ...toWebhookView(webhook), secret },
      { location: `/api/webhooks/${webhook.id}`, etag: webhook.etag, 'cache-control': 'no-store' },
    );
  },
});
