import { z } from 'zod';
import { defineRoute } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { deleteExport } from '../shared/exports/manageExports.js';

defineRoute({
  name: 'deleteExport',
  method: 'DELETE',
  route: 'exports/{id}',
  summary: 'Remove an export (honours If-Match).',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  response: { status: 204, description: 'Removed' },
  handle: async ({ principal, params, ifMatch }) => {
    await deleteExport(principal, params.id, ifMatch);
    return { status: 204 };
  },
});
