import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { getExport } from '../shared/exports/exportStore.js';
import { requireEditableExport } from '../shared/exports/manageExports.js';
import { startRun } from '../shared/runs/startRun.js';
import { planRunOutput, planThroughOutputBinding } from '../shared/runs/planOutput.js';
import { RUN_STATUSES, runId } from '../shared/runs/run.js';
import { checkRetryable } from '../shared/delivery/retryFailures.js';
import { clearFullResyncRequest, requestFullResync } from '../shared/dataOut/workFiles.js';

/** The body is optional: {fullResync: true} sends everyone again; {retryOf: runId} sends only that run's retryable failures. */
const runOptions = z
  .strictObject({
    fullResync: z
      .boolean()
      .default(false)
      .describe(
        'Send every member again and rebuild the changes snapshot (segment exports); write every row (incremental data-out exports).',
      ),
    retryOf: runId
      .optional()
      .describe(
        "Send again only the records this run of the export failed for a retryable reason (vendor 5xx, timeouts, throttling, outage), with the lake's current values.",
      ),
  })
  .refine((options) => !(options.fullResync && options.retryOf), { message: 'ask for fullResync or retryOf, not both', path: ['retryOf'] });

defineRoute({
  name: 'startRun',
  method: 'POST',
  route: 'exports/{id}/runs',
  summary:
    "Run the export now. Optional body {fullResync: true} (everyone sent again, snapshot rebuilt) or {retryOf: runId} (only that run's retryable failures; trigger retry). 409 with activeRunId if a run is in progress.",
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  body: runOptions,
  bodyOptional: true,
  extraOutputs: [planRunOutput],
  response: { status: 202, schema: z.object({ runId: z.string(), status: z.enum(RUN_STATUSES) }), description: 'The run was queued' },
  handle: async ({ principal, params, body: options, context }) => {
    const sendPlan = planThroughOutputBinding(context);
    await requireEditableExport(principal, params.id);
    if (options.retryOf) {
      await checkRetryable(params.id, options.retryOf);
      const run = await startRun(principal, params.id, 'retry', { retryOf: options.retryOf, sendPlan });
      return json(202, { runId: run.id, status: run.status }, { location: `/api/exports/${params.id}/runs/${run.id}` });
    }
    // Data-out: recorded before the run starts, so its planner cannot miss it. Segment exports carry it on the run.
    const resync = options.fullResync && (await getExport(params.id)).kind === 'dataOut' ? await requestFullResync(params.id) : undefined;
    const run = await startRun(principal, params.id, 'manual', { fullResync: options.fullResync, sendPlan }).catch(
      async (error: unknown) => {
        if (resync) await clearFullResyncRequest(params.id, resync.etag);
        throw error;
      },
    );
    return json(202, { runId: run.id, status: run.status }, { location: `/api/exports/${params.id}/runs/${run.id}` });
  },
});
