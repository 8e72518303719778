import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { connectionId, connectionView } from '../shared/connections/connection.js';
import { getVisibleConnection, toConnectionView } from '../shared/connections/manageConnections.js';

defineRoute({
  name: 'getConnection',
  method: 'GET',
  route: 'connections/{id}',
  summary: 'One connection, without its secrets.',
  roles: ['admin', 'contributor'],
  params: z.object({ id: connectionId }),
  response: { status: 200, schema: connectionView, description: 'The connection' },
  handle: async ({ principal, params }) => {
    const connection = await getVisibleConnection(principal, params.id);
    return json(200, toConnectionView(connection), { etag: connection.etag });
  },
});
