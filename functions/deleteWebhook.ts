import { z } from 'zod';
import { defineRoute } from '../shared/http/route.js';
import { webhookId } from '../shared/webhooks/webhook.js';
import { deleteWebhook } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'deleteWebhook',
  method: 'DELETE',
  route: 'webhooks/{id}',
  summary: 'Remove a webhook and its signing secret (admins); deliveries not yet sent are dropped. Honours If-Match.',
  roles: ['admin'],
  params: z.object({ id: webhookId }),
  response: { status: 204, description: 'Removed' },
  handle: async ({ principal, params, ifMatch }) => {
    await deleteWebhook(principal, params.id, ifMatch);
    return { status: 204 };
  },
});
