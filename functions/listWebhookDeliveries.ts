import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { deliveryView, webhookId } from '../shared/webhooks/webhook.js';
import { listDeliveryViews } from '../shared/webhooks/manageWebhooks.js';

defineRoute({
  name: 'listWebhookDeliveries',
  method: 'GET',
  route: 'webhooks/{id}/deliveries',
  summary: "The webhook's delivery log, newest first (admins): status, attempts, last answer (an excerpt), next try.",
  roles: ['admin'],
  params: z.object({ id: webhookId }),
  query: z.strictObject({ top: z.coerce.number().int().min(1).max(500).default(50) }),
  response: { status: 200, schema: z.object({ items: z.array(deliveryView) }), description: 'Deliveries, newest first' },
  handle: async ({ params, query }) => json(200, { items: await listDeliveryViews(params.id, query.top) }),
});
