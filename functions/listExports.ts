import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportView } from '../shared/exports/exportDefinition.js';
import { listExportViews } from '../shared/exports/manageExports.js';
import { listExportsQuery, queryExports } from '../shared/exports/queryExports.js';

defineRoute({
  name: 'listExports',
  method: 'GET',
  route: 'exports',
  summary: 'Exports with connection name and type, status, schedule, last refresh and your permissions; search, sort, pages.',
  roles: ['admin', 'contributor', 'viewer'],
  query: listExportsQuery,
  response: {
    status: 200,
    schema: z.object({ items: z.array(exportView), continuationToken: z.string().optional() }),
    description: 'A page of exports',
  },
  handle: async ({ principal, query }) => json(200, queryExports(await listExportViews(principal), query)),
});
