// Queue backlog: how many chunk and plan messages are waiting. A growing export-chunks backlog
// means senders cannot keep up (or a vendor's rate holds them back); export-runs, that planning
// is stuck.
import { queue } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import { recordQueueBacklog } from './metrics.js';

export const MEASURED_QUEUES = [QUEUES.exportChunks, QUEUES.exportRuns] as const;

/** Reads each queue's approximate message count and records it; returns what it read. */
export async function measureQueueBacklog(): Promise<Record<string, number>> {
  const backlog: Record<string, number> = {};
  for (const name of MEASURED_QUEUES) {
    const properties = await (await queue(name)).getProperties();
    backlog[name] = properties.approximateMessagesCount ?? 0;
    recordQueueBacklog(name, backlog[name]);
  }
  return backlog;
}
