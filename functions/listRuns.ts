import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { tableContinuationToken } from '../shared/storage/continuationToken.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { getExport } from '../shared/exports/exportStore.js';
import { listRuns } from '../shared/runs/runStore.js';
import { runView } from '../shared/runs/run.js';
import { toRunView } from '../shared/runs/runProgress.js';

defineRoute({
  name: 'listRuns',
  method: 'GET',
  route: 'exports/{id}/runs',
  summary: 'Run history of an export, newest first.',
  roles: ['admin', 'contributor', 'viewer'],
  params: z.object({ id: exportId }),
  query: z.strictObject({ top: z.coerce.number().int().min(1).max(200).default(50), continuationToken: tableContinuationToken.optional() }),
  response: { status: 200, schema: z.object({ items: z.array(runView), continuationToken: z.string().optional() }), description: 'Runs' },
  handle: async ({ params, query }) => {
    await getExport(params.id);
    const page = await listRuns(params.id, query.top, query.continuationToken);
    return json(200, {
      items: await Promise.all(page.runs.map(toRunView)),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    });
  },
});
