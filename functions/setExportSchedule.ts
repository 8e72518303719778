import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { exportId, exportView, schedule } from '../shared/exports/exportDefinition.js';
import { toExportView } from '../shared/exports/manageExports.js';
import { setExportSchedule } from '../shared/schedules/editSchedules.js';

defineRoute({
  name: 'setExportSchedule',
  method: 'PUT',
  route: 'exports/{id}/schedule',
  summary: "Replace one export's schedule (systemRefresh or a custom recurrence; active false = manual only). Honours If-Match.",
  roles: ['admin', 'contributor'],
  params: z.object({ id: exportId }),
  body: schedule,
  response: { status: 200, schema: exportView, description: 'The export with its new schedule and nextRun' },
  handle: async ({ principal, params, body, ifMatch }) => {
    const { record, connection } = await setExportSchedule(principal, params.id, body, ifMatch);
    return json(200, toExportView(principal, record, connection), { etag: record.etag });
  },
});
