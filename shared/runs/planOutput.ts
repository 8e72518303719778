// The plan message of a run started over HTTP, sent by the Functions runtime through a queue
// output binding once the function has returned, rather than by the storage SDK. The runtime then
// wakes its own listener on export-runs in the same host at once (the queue output binding's
// collector notifies the host's SharedQueueWatcher), where an SDK send waits for that listener's
// next poll, up to host.json maxPollingInterval. On Flex Consumption, HTTP functions and each
// queue function scale in instance groups of their own, so there the planner is not in the same
// host and the message waits for its poll as before; on the other plans (and locally) every
// function runs in every host. The message is the same, on the same queue (it expires after the
// queue's default 7 days where the SDK send never expires: a run not planned by then was re-driven
// or ended by the recovery sweep long before). A message that is never sent (the instance died
// after the run row was written) is made up for by the recovery sweep.
import { output, type InvocationContext } from '@azure/functions';
import { QUEUES } from '../storage/names.js';
import type { PlanRunMessage } from './startRun.js';

export const planRunOutput = output.storageQueue({ queueName: QUEUES.exportRuns, connection: 'AzureWebJobsStorage' });

/** startRun's `sendPlan` for an invocation that declares planRunOutput: the message goes out when it returns. */
export function planThroughOutputBinding(context: InvocationContext): (message: PlanRunMessage) => void {
  return (message) => context.extraOutputs.set(planRunOutput, message);
}
