import { defineRoute, json } from '../shared/http/route.js';
import { refreshView, reportRefreshBody, toRefreshView } from '../shared/refreshes/refresh.js';
import { reportRefresh } from '../shared/refreshes/manageRefreshes.js';

defineRoute({
  name: 'reportRefresh',
  method: 'POST',
  route: 'refreshes',
  summary:
    'The upstream reports a refresh process (running, or already ended); an ended segments refresh starts exports on the default schedule.',
  roles: ['system'],
  body: reportRefreshBody,
  response: { status: 201, schema: refreshView, description: 'The refresh, with what its end set off (effects)' },
  handle: async ({ principal, body }) => {
    const { refresh, effects } = await reportRefresh(principal, body);
    return json(
      201,
      { ...toRefreshView(refresh), ...(effects ? { effects } : {}) },
      { etag: refresh.etag, location: `/api/refreshes/${refresh.id}` },
    );
  },
});
