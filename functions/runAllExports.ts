import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { runAllExports } from '../shared/schedules/runAllExports.js';

const runAllResult = z.object({
  started: z.array(z.object({ exportId: z.string(), name: z.string(), runId: z.string() })),
  notStarted: z.array(z.object({ exportId: z.string(), name: z.string(), reason: z.string(), activeRunId: z.string().optional() })),
});

defineRoute({
  name: 'runAllExports',
  method: 'POST',
  route: 'exports/run-all',
  summary:
    'Run every export whose schedule is active; inactive ones are left out. Lists the runs started and the exports not started, with reasons.',
  roles: ['admin', 'contributor'],
  response: { status: 202, schema: runAllResult, description: 'Runs started and exports not started' },
  handle: async ({ principal }) => json(202, await runAllExports(principal)),
});
