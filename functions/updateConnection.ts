import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { connectionId, connectionView, updateConnectionBody } from '../shared/connections/connection.js';
import { toConnectionView, updateConnection } from '../shared/connections/manageConnections.js';

defineRoute({
  name: 'updateConnection',
  method: 'PATCH',
  route: 'connections/{id}',
  summary: 'Change a connection (admins); secrets can be replaced, never read. Honours If-Match.',
  roles: ['admin'],
  params: z.object({ id: connectionId }),
  body: updateConnectionBody,
  response: { status: 200, schema: connectionView, description: 'The updated connection' },
  handle: async ({ principal, params, body, ifMatch }) => {
    const connection = await updateConnection(principal, params.id, body, ifMatch);
    return json(200, toConnectionView(connection), { etag: connection.etag });
  },
});
