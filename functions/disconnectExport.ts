import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId, exportView } from '../shared/exports/exportDefinition.js';
import { disconnectExport, toExportView } from '../shared/exports/manageExports.js';

defineRoute({
  name: 'disconnectExport',
  method: 'POST',
  route: 'exports/{id}/disconnect',
  summary: 'Drop the export\'s connection: it keeps its definition, is deactivated and shows "No connection".',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  response: { status: 200, schema: exportView, description: 'The disconnected export' },
  handle: async ({ principal, params, ifMatch }) => {
    const record = await disconnectExport(principal, params.id, ifMatch);
    return json(200, toExportView(principal, record, undefined), { etag: record.etag });
  },
});
