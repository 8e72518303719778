import { z } from 'zod';
import { defineRoute } from '../shared/http/route.js';
import { connectionId } from '../shared/connections/connection.js';
import { deleteConnection } from '../shared/connections/manageConnections.js';
import { detachExportsFrom } from '../shared/exports/manageExports.js';

defineRoute({
  name: 'deleteConnection',
  method: 'DELETE',
  route: 'connections/{id}',
  summary: 'Remove a connection and its secret; its exports keep their definition and show "No connection".',
  roles: ['admin'],
  params: z.object({ id: connectionId }),
  response: { status: 204, description: 'Removed' },
  handle: async ({ principal, params, ifMatch }) => {
    await deleteConnection(principal, params.id, ifMatch, async (connection) => void (await detachExportsFrom(connection.id)));
    return { status: 204 };
  },
});
