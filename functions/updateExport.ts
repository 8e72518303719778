import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId, exportView, updateExportBody } from '../shared/exports/exportDefinition.js';
import { getExportWithConnection, toExportView, updateExport } from '../shared/exports/manageExports.js';
import { startRun } from '../shared/runs/startRun.js';
import { planRunOutput, planThroughOutputBinding } from '../shared/runs/planOutput.js';

defineRoute({
  name: 'updateExport',
  method: 'PATCH',
  route: 'exports/{id}',
  summary: 'Change an export (honours If-Match); ?run=true is "Save and run".',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  query: z.strictObject({ run: z.enum(['true', 'false']).optional() }),
  body: updateExportBody,
  extraOutputs: [planRunOutput],
  response: { status: 200, schema: exportView, description: 'The updated export' },
  handle: async ({ principal, params, query, body, ifMatch, context }) => {
    const { record, connection } = await updateExport(principal, params.id, body, ifMatch);
    const run =
      query.run === 'true' ? await startRun(principal, record.id, 'manual', { sendPlan: planThroughOutputBinding(context) }) : undefined;
    // Starting the run wrote the export (its active run), so read it again for the current ETag.
    const saved = run ? await getExportWithConnection(record.id) : { record, connection };
    const view = toExportView(principal, saved.record, saved.connection);
    return json(200, { ...view, ...(run ? { runId: run.id } : {}) }, { etag: saved.record.etag });
  },
});
