import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { webhookId, webhookWithSecretView } from '../shared/webhooks/webhook.js';
import { rotateWebhookSecret, toWebhookView } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'rotateWebhookSecret',
  method: 'POST',
  route: 'webhooks/{id}/rotate-secret',
  summary: "Replace the webhook's signing secret (admins); the new one is in the answer, shown this once. Honours If-Match.",
  roles: ['admin'],
  params: z.object({ id: webhookId }),
  response: { status: 200, schema: webhookWithSecretView, description: 'The webhook and its new signing secret (shown once)' },
  handle: async ({ principal, params, ifMatch }) => {
    const { webhook, secret } = await rotateWebhookSecret(principal, params.id, ifMatch);
    return json(200, { ...toWebhookView(webhook), secret }, { etag: webhook.etag, 'cache-control': 'no-store' });
  },
});
