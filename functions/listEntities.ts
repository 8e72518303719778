import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { entitiesOf, loadLakeModel } from '../shared/lake/segmentCatalog.js';

const entitySummary = z.object({
  name: z.string(),
  attributes: z.array(z.object({ name: z.string(), dataType: z.string() })),
  partitions: z.number().int(),
});

defineRoute({
  name: 'listEntities',
  method: 'GET',
  route: 'entities',
  summary: "The lake's entities with their attributes (what data-out exports can send).",
  roles: ['admin', 'contributor', 'viewer', 'system'],
  response: { status: 200, schema: z.array(entitySummary), description: 'Entities' },
  handle: async () => json(200, entitiesOf(await loadLakeModel())),
});
