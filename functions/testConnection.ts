import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { connectionId } from '../shared/connections/connection.js';
import { testConnection } from '../shared/connections/manageConnections.js';

defineRoute({
  name: 'testConnection',
  method: 'POST',
  route: 'connections/{id}/test',
  summary: "Call the destination's cheapest authenticated endpoint and report ok or the vendor's reason.",
  roles: ['admin'],
  params: z.object({ id: connectionId }),
  response: { status: 200, schema: z.object({ ok: z.boolean(), reason: z.string().optional() }), description: 'The outcome' },
  handle: async ({ principal, params }) => json(200, await testConnection(principal, params.id)),
});
