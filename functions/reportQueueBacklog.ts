import { app } from '@azure/functions';
import { measureQueueBacklog } from '../shared/observability/queueBacklog.js';
import { telemetryEnabled } from '../shared/observability/telemetry.js';
import { createLogger } from '../shared/observability/log.js';

// Every minute, the approximate backlog of the engine's queues as a metric (outflow.queue.backlog).
// With telemetry off nothing would receive it, so the storage calls are not made.
app.timer('reportQueueBacklog', {
  schedule: '30 * * * * *',
  handler: async (_timer, context) => {
    if (!telemetryEnabled()) return;
    try {
      await measureQueueBacklog();
    } catch (error) {
      // A missed sample is harmless; the next minute measures again.
      createLogger(context).warn('Queue backlog not measured; measured again next minute.', { error });
    }
  },
});
