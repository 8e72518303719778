import { app } from '@azure/functions';
import { sweepSchedules } from '../shared/schedules/sweepSchedules.js';

// Every minute: the safety net behind the event-driven start, and the clock of custom schedules.
app.timer('sweepSchedules', {
  schedule: '0 * * * * *',
  handler: async (_timer, context) => {
    const summary = await sweepSchedules(new Date());
    for (const fired of summary.fired) context.log(`Schedule of export ${fired.exportId} (${fired.dueKey}): ${fired.result}${fired.runId ? ` run ${fired.runId}` : ''}${fired.reason ? ` — ${fired.reason}` : ''}`);
    if (summary.released.length || summary.skipped.length) context.log(`Waiting runs released: ${summary.released.length}, skipped: ${summary.skipped.length}`);
    for (const error of summary.errors) context.warn(`Schedule of export ${error.exportId} not fired, retried next minute: ${error.message}`);
  },
});
