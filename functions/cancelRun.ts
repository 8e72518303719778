import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { requireEditableExport } from '../shared/exports/manageExports.js';
import { cancelRun } from '../shared/runs/cancelRun.js';
import { runId, runView } from '../shared/runs/run.js';
import { toRunView } from '../shared/runs/runProgress.js';

defineRoute({
  name: 'cancelRun',
  method: 'POST',
  route: 'exports/{id}/runs/{runId}/cancel',
  summary: 'Cancel a run: no new batches start; it ends cancelled with the counts sent so far.',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId, runId }),
  response: { status: 202, schema: runView, description: 'The run, cancelling or cancelled' },
  handle: async ({ principal, params }) => {
    await requireEditableExport(principal, params.id);
    return json(202, await toRunView(await cancelRun(principal, params.id, params.runId)));
  },
});
