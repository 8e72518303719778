import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { exportPlan, planExport } from '../shared/plans/planExport.js';

defineRoute({
  name: 'planExport',
  method: 'POST',
  route: 'exports/{id}/plan',
  summary:
    "Know before you run: members, eligibility, changes since the last delivery, vendor calls and the predicted time of a run started now (at the connection's rate, shared with the runs active or scheduled on it within the hour). Sends nothing; stores only an audit line. 422 for data-out exports and exports without a connection.",
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  response: { status: 200, schema: exportPlan, description: 'The plan' },
  handle: async ({ principal, params }) => json(200, await planExport(principal, params.id)),
});
