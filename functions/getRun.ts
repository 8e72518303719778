import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { getRun } from '../shared/runs/runStore.js';
import { runId, runView } from '../shared/runs/run.js';
import { toRunView } from '../shared/runs/runProgress.js';

defineRoute({
  name: 'getRun',
  method: 'GET',
  route: 'exports/{id}/runs/{runId}',
  summary: 'Progress details of a run: status, counts, tasks with chunk counts, throughput and ETA.',
  roles: ['admin', 'contributor', 'viewer'],
  params: z.object({ id: exportId, runId }),
  response: { status: 200, schema: runView, description: 'The run' },
  handle: async ({ params }) => {
    const run = await getRun(params.id, params.runId);
    return json(200, await toRunView(run), { etag: run.etag });
  },
});
