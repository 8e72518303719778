import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { listSegmentsFor } from '../shared/lake/listSegmentsFor.js';
import { connectionId } from '../shared/connections/connection.js';

defineRoute({
  name: 'listSegments',
  method: 'GET',
  route: 'segments',
  summary: 'Segments of the lake; with connectionId, each one\'s eligibility for that destination.',
  roles: ['admin', 'contributor', 'viewer', 'system'],
  query: z.strictObject({ connectionId: connectionId.optional() }),
  handle: async ({ principal, query }) => json(200, await listSegmentsFor(principal, query.connectionId)),
});
