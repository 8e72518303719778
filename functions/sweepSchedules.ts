import { app } from '@azure/functions';
import { sweepSchedules } from '../shared/schedules/sweepSchedules.js';
import { createLogger } from '../shared/observability/log.js';

// Every minute: the safety net behind the event-driven start, and the clock of custom schedules.
app.timer('sweepSchedules', {
  schedule: '0 * * * * *',
  handler: async (_timer, context) => {
    const summary = await sweepSchedules(new Date());
    const log = createLogger(context);
    for (const fired of summary.fired) {
      log
        .with({ runId: fired.runId, exportId: fired.exportId })
        .info(`Schedule fired: ${fired.result}`, { dueKey: fired.dueKey, result: fired.result, reason: fired.reason });
    }
    if (summary.released.length || summary.skipped.length)
      log.info('Waiting runs settled', { releasedRunIds: summary.released, skippedRunIds: summary.skipped });
    for (const error of summary.errors)
      log.with({ exportId: error.exportId }).warn('Schedule not fired; retried next minute.', { error: error.message });
  },
});
