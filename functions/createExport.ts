import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { createExportBody, exportView } from '../shared/exports/exportDefinition.js';
import { createExport, getExportWithConnection, toExportView } from '../shared/exports/manageExports.js';
import { startRun } from '../shared/runs/startRun.js';
import { planRunOutput, planThroughOutputBinding } from '../shared/runs/planOutput.js';

defineRoute({
  name: 'createExport',
  method: 'POST',
  route: 'exports',
  summary: 'Create an export. Saving does not run it; ?run=true is "Save and run".',
  roles: ['admin', 'contributor'],
  query: z.strictObject({ run: z.enum(['true', 'false']).optional() }),
  body: createExportBody,
  extraOutputs: [planRunOutput],
  response: { status: 201, schema: exportView, description: 'The export (with runId when run=true)' },
  handle: async ({ principal, query, body, context }) => {
    const { record, connection } = await createExport(principal, body);
    const run =
      query.run === 'true' ? await startRun(principal, record.id, 'manual', { sendPlan: planThroughOutputBinding(context) }) : undefined;
    // Starting the run wrote the export (its active run), so read it again for the current ETag.
    const saved = run ? await getExportWithConnection(record.id) : { record, connection };
    const view = toExportView(principal, saved.record, saved.connection);
    return json(201, { ...view, ...(run ? { runId: run.id } : {}) }, { location: `/api/exports/${record.id}`, etag: saved.record.etag });
  },
});
