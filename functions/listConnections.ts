import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { connectionView } from '../shared/connections/connection.js';
import { listVisibleConnections, toConnectionView } from '../shared/connections/manageConnections.js';

defineRoute({
  name: 'listConnections',
  method: 'GET',
  route: 'connections',
  summary: 'Connections the caller may use: admins all, contributors those shared with them.',
  roles: ['admin', 'contributor'],
  response: { status: 200, schema: z.array(connectionView), description: 'Connections' },
  handle: async ({ principal }) => json(200, (await listVisibleConnections(principal)).map(toConnectionView)),
});
