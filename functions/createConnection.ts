import { defineRoute, json } from '../shared/http/route.js';
import { connectionView, createConnectionBody } from '../shared/connections/connection.js';
import { createConnection, toConnectionView } from '../shared/connections/manageConnections.js';

defineRoute({
  name: 'createConnection',
  method: 'POST',
  route: 'connections',
  summary: 'Create a connection (admins). Secrets go to Key Vault and are never returned.',
  roles: ['admin'],
  body: createConnectionBody,
  response: { status: 201, schema: connectionView, description: 'The connection, without secrets' },
  handle: async ({ principal, body }) => {
    const connection = await createConnection(principal, body);
    return json(201, toConnectionView(connection), { location: `/api/connections/${connection.id}`, etag: connection.etag });
  },
});
