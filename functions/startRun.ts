import { z } from 'zod';
import { MAX_BODY_BYTES, defineRoute, json } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { requireEditableExport } from '../shared/exports/manageExports.js';
import { startRun } from '../shared/runs/startRun.js';
import { BadRequest, PayloadTooLarge } from '../shared/errors.js';
import { validateWith } from '../shared/validation.js';
import { clearFullResyncRequest, requestFullResync } from '../shared/dataOut/workFiles.js';

/** The body is optional: {fullResync: true} makes an incremental data-out export write every row this time. */
const runOptions = z.strictObject({ fullResync: z.boolean().default(false) });

defineRoute({
  name: 'startRun',
  method: 'POST',
  route: 'exports/{id}/runs',
  summary: 'Run the export now (optional body {fullResync: true}: an incremental data-out export writes every row). 409 with activeRunId if a run is in progress.',
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  response: { status: 202, schema: z.object({ runId: z.string() }), description: 'The run was queued' },
  handle: async ({ principal, params, request }) => {
    await requireEditableExport(principal, params.id);
    if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) throw new PayloadTooLarge(`The body is larger than the limit of ${MAX_BODY_BYTES} bytes.`);
    const text = await request.text();
    let body: unknown = {};
    try {
      if (text.trim() !== '') body = JSON.parse(text);
    } catch {
      throw new BadRequest('The body is not valid JSON; send {"fullResync": true} or nothing.');
    }
    const options = validateWith(runOptions, body, 'body', 'run options');
    // Recorded before the run starts, so its planner cannot miss it.
    const resync = options.fullResync ? await requestFullResync(params.id) : undefined;
    const run = await startRun(principal, params.id, 'manual').catch(async (error: unknown) => {
      if (resync) await clearFullResyncRequest(params.id, resync.etag);
      throw error;
    });
    return json(202, { runId: run.id, status: run.status }, { location: `/api/exports/${params.id}/runs/${run.id}` });
  },
});
