import { app } from '@azure/functions';
import { pruneExpired } from '../shared/runs/retention.js';
import { createLogger } from '../shared/observability/log.js';

// Every hour: old runs, their ledgers and record outcomes, settled schedule marks, audit rows and
// export-list tombstones go (RUN_RETENTION_DAYS, AUDIT_RETENTION_DAYS).
app.timer('pruneRetention', {
  schedule: '0 17 * * * *',
  handler: async (_timer, context) => {
    const summary = await pruneExpired();
    createLogger(context).info('Retention applied', { ...summary });
  },
});
