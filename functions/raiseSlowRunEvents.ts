import { app } from '@azure/functions';
import { raiseSlowRunEvents } from '../shared/webhooks/raiseEvents.js';
import { createLogger } from '../shared/observability/log.js';

// Every minute: run.slow for runs in progress past a subscription's limit (raised once per run).
app.timer('raiseSlowRunEvents', {
  schedule: '30 * * * * *',
  handler: async (_timer, context) => {
    const { deliveries } = await raiseSlowRunEvents(new Date());
    if (deliveries) createLogger(context).info('Slow-run webhook events raised', { deliveries });
  },
});
