import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { refreshId, refreshView, toRefreshView, updateRefreshBody } from '../shared/refreshes/refresh.js';
import { updateRefresh } from '../shared/refreshes/manageRefreshes.js';

defineRoute({
  name: 'updateRefresh',
  method: 'PATCH',
  route: 'refreshes/{id}',
  summary:
    'The upstream reports that a refresh ended (succeeded or failed); waiting runs move on and exports on the default schedule start at once.',
  roles: ['system'],
  params: z.object({ id: refreshId }),
  body: updateRefreshBody,
  response: { status: 200, schema: refreshView, description: 'The refresh, with what its end set off (effects)' },
  handle: async ({ principal, params, body, ifMatch }) => {
    const { refresh, effects } = await updateRefresh(principal, params.id, body, ifMatch);
    return json(200, { ...toRefreshView(refresh), ...(effects ? { effects } : {}) }, { etag: refresh.etag });
  },
});
