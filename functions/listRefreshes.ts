import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { REFRESH_STATUSES, refreshView, toRefreshView } from '../shared/refreshes/refresh.js';
import { listRefreshPage } from '../shared/refreshes/refreshStore.js';

const listRefreshesQuery = z.strictObject({
  status: z.enum(REFRESH_STATUSES).optional(),
  process: z.string().max(64).optional(),
  top: z.coerce.number().int().min(1).max(1000).default(100),
  continuationToken: z.string().max(2000).optional(),
});

defineRoute({
  name: 'listRefreshes',
  method: 'GET',
  route: 'refreshes',
  summary: 'Refresh processes reported by the upstream, newest first.',
  roles: ['admin', 'contributor', 'viewer', 'system'],
  query: listRefreshesQuery,
  response: {
    status: 200,
    schema: z.object({ items: z.array(refreshView), continuationToken: z.string().optional() }),
    description: 'A page of refreshes',
  },
  handle: async ({ query }) => {
    const { refreshes, continuationToken } = await listRefreshPage(query);
    const now = new Date();
    return json(200, {
      items: refreshes.map((refresh) => toRefreshView(refresh, now)),
      ...(continuationToken ? { continuationToken } : {}),
    });
  },
});
