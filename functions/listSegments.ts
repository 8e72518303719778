import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { listSegmentsFor } from '../shared/lake/listSegmentsFor.js';

defineRoute({
  name: 'listSegments',
  method: 'GET',
  route: 'segments',
  summary: 'Segments of the lake; with connectionId, each one\'s eligibility for that destination.',
  roles: ['admin', 'contributor', 'viewer', 'system'],
  query: z.strictObject({ connectionId: z.string().min(1).max(64).optional() }),
  handle: async ({ principal, query }) => json(200, await listSegmentsFor(principal, query.connectionId)),
});
