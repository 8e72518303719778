import { app } from '@azure/functions';
import { recoverRuns } from '../shared/runs/recoverRuns.js';
import { createLogger } from '../shared/observability/log.js';

// Every minute: re-drives the runs no queue message drives any more, or ends them with the reason.
app.timer('recoverRuns', {
  schedule: '30 * * * * *',
  handler: async (_timer, context) => {
    const log = createLogger(context);
    const { actions, errors } = await recoverRuns();
    for (const action of actions)
      log
        .with({ runId: action.runId, exportId: action.exportId })
        .warn(`Run recovered: ${action.action}`, { action: action.action, detail: action.detail });
    for (const error of errors)
      log.with({ exportId: error.exportId }).warn('Run not checked; retried next minute.', { error: error.message });
  },
});
