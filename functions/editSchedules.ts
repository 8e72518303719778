import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportView } from '../shared/exports/exportDefinition.js';
import { toExportView } from '../shared/exports/manageExports.js';
import { editSchedules, editSchedulesBody } from '../shared/schedules/editSchedules.js';

defineRoute({
  name: 'editSchedules',
  method: 'POST',
  route: 'exports/schedules',
  summary:
    'Bulk schedule edit: keep (switch the selected exports on or off) or override (one new schedule for all). All or nothing; 422 lists each export that is not allowed.',
  roles: ['admin', 'contributor'],
  body: editSchedulesBody,
  response: { status: 200, schema: z.object({ items: z.array(exportView) }), description: 'The changed exports' },
  handle: async ({ principal, body }) => {
    const changed = await editSchedules(principal, body);
    return json(200, { items: changed.map(({ record, connection }) => toExportView(principal, record, connection)) });
  },
});
