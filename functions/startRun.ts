import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { requireEditableExport } from '../shared/exports/manageExports.js';
import { startRun } from '../shared/runs/startRun.js';
import { RUN_STATUSES } from '../shared/runs/run.js';
import { clearFullResyncRequest, requestFullResync } from '../shared/dataOut/workFiles.js';

/** The body is optional: {fullResync: true} makes an incremental data-out export write every row this time. */
const runOptions = z.strictObject({ fullResync: z.boolean().default(false).describe('Incremental data-out exports: write every row this time.') });

defineRoute({
  name: 'startRun',
  method: 'POST',
  route: 'exports/{id}/runs',
  summary: 'Run the export now (optional body {fullResync: true}: an incremental data-out export writes every row). 409 with activeRunId if a run is in progress.',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  body: runOptions,
  bodyOptional: true,
  response: { status: 202, schema: z.object({ runId: z.string(), status: z.enum(RUN_STATUSES) }), description: 'The run was queued' },
  handle: async ({ principal, params, body: options }) => {
    await requireEditableExport(principal, params.id);
    // Recorded before the run starts, so its planner cannot miss it.
    const resync = options.fullResync ? await requestFullResync(params.id) : undefined;
    const run = await startRun(principal, params.id, 'manual').catch(async (error: unknown) => {
      if (resync) await clearFullResyncRequest(params.id, resync.etag);
      throw error;
    });
    return json(202, { runId: run.id, status: run.status }, { location: `/api/exports/${params.id}/runs/${run.id}` });
  },
});
