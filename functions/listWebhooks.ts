import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { webhookView } from '../shared/webhooks/webhook.js';
import { listWebhookViews } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'listWebhooks',
  method: 'GET',
  route: 'webhooks',
  summary: 'Webhook subscriptions (admins); never their signing secrets.',
  roles: ['admin'],
  response: { status: 200, schema: z.array(webhookView), description: 'Webhooks' },
  handle: async () => json(200, await listWebhookViews()),
});
