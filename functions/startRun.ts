import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { requireEditableExport } from '../shared/exports/manageExports.js';
import { startRun } from '../shared/runs/startRun.js';

defineRoute({
  name: 'startRun',
  method: 'POST',
  route: 'exports/{id}/runs',
  summary: 'Run the export now. 409 with activeRunId if a run is in progress.',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  response: { status: 202, schema: z.object({ runId: z.string() }), description: 'The run was queued' },
  handle: async ({ principal, params }) => {
    await requireEditableExport(principal, params.id);
    const run = await startRun(principal, params.id, 'manual');
    return json(202, { runId: run.id, status: run.status }, { location: `/api/exports/${params.id}/runs/${run.id}` });
  },
});
