import { defineRoute, json } from '../shared/http/route.js';
import { destinationCatalog } from '../shared/destinations/catalog.js';

defineRoute({
  name: 'listDestinations',
  method: 'GET',
  route: 'destinations',
  summary: 'The destinations catalog: connection fields, export details, data matching, limits.',
  roles: ['admin', 'contributor', 'viewer', 'system'],
  handle: async () => json(200, destinationCatalog()),
});
