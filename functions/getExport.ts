import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId, exportView } from '../shared/exports/exportDefinition.js';
import { getExportWithConnection, toExportView } from '../shared/exports/manageExports.js';

defineRoute({
  name: 'getExport',
  method: 'GET',
  route: 'exports/{id}',
  summary: 'One export, with yourPermissions for the caller.',
  roles: ['admin', 'contributor', 'viewer'],
  params: z.object({ id: exportId }),
  response: { status: 200, schema: exportView, description: 'The export' },
  handle: async ({ principal, params }) => {
    const { record, connection } = await getExportWithConnection(params.id);
    return json(200, toExportView(principal, record, connection), { etag: record.etag });
  },
});
