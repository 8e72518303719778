import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { catalogEntrySchema, destinationCatalog } from '../shared/destinations/catalog.js';

defineRoute({
  name: 'listDestinations',
  method: 'GET',
  route: 'destinations',
  summary: 'The destinations catalog: connection fields, export details, data matching, limits.',
  roles: ['admin', 'contributor', 'viewer', 'system'],
  response: { status: 200, schema: z.array(catalogEntrySchema), description: 'One entry per destination type' },
  handle: async () => json(200, destinationCatalog()),
});
