import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId, exportView } from '../shared/exports/exportDefinition.js';
import { duplicateExport, toExportView } from '../shared/exports/manageExports.js';

defineRoute({
  name: 'duplicateExport',
  method: 'POST',
  route: 'exports/{id}/duplicate',
  summary: 'Copy an export: new id, inactive, name "… (copy)", same mapping and details.',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  response: { status: 201, schema: exportView, description: 'The copy' },
  handle: async ({ principal, params }) => {
    const { record, connection } = await duplicateExport(principal, params.id);
    return json(201, toExportView(principal, record, connection), { location: `/api/exports/${record.id}`, etag: record.etag });
  },
});
