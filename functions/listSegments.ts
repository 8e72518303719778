import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { listSegmentsFor } from '../shared/exports/listSegmentsFor.js';
import { connectionId } from '../shared/connections/connection.js';

defineRoute({
  name: 'listSegments',
  method: 'GET',
  route: 'segments',
  summary: "Segments of the lake; with connectionId, each one's eligibility for that destination.",
  roles: ['admin', 'contributor', 'viewer', 'system'],
  query: z.strictObject({ connectionId: connectionId.optional() }),
  response: {
    status: 200,
    schema: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        type: z.enum(['Profile', 'Contact', 'Account']),
        memberCount: z.number().int(),
        eligible: z.boolean().optional().describe("With connectionId: whether the connection's destination takes this segment"),
        reason: z.string().optional().describe('Why it is not eligible'),
        warning: z.string().optional().describe('E.g. more members than the destination or connection takes per export'),
      }),
    ),
    description: 'Segments',
  },
  handle: async ({ principal, query }) => json(200, await listSegmentsFor(principal, query.connectionId)),
});
