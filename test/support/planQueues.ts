// The plan and chunk queues of a test that works the planner and the senders in-process: messages
// taken off (and deleted) as a Functions host would, and plan messages worked as invocations
// already past their budget, each one step at a time, once or delivered again.
import { QueueClient } from '@azure/storage-queue';
import { planRun } from '../../shared/runs/planRun.js';
import { QUEUES } from '../../shared/storage/names.js';

export type PlanMessage = { exportId: string; runId: string };
export type ChunkMessage = PlanMessage & { chunkId: string };

export const planQueue = (connectionString: string) => new QueueClient(connectionString, QUEUES.exportRuns);
export const chunkQueue = (connectionString: string) => new QueueClient(connectionString, QUEUES.exportChunks);

/** Up to 32 messages of the queue, deleted as they are taken. */
export async function take<T>(queue: QueueClient): Promise<T[]> {
  const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 1 });
  for (const item of receivedMessageItems) await queue.deleteMessage(item.messageId, item.popReceipt);
  return receivedMessageItems.map((item) => JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as T);
}

/** Every message of the queue, taken until it is empty. */
export async function takeAll<T>(queue: QueueClient): Promise<T[]> {
  const messages: T[] = [];
  for (let batch = await take<T>(queue); batch.length > 0; batch = await take<T>(queue)) messages.push(...batch);
  return messages;
}

/**
 * Works every plan message there is (each one `times` over: one after another, or `together` at
 * the same moment), each invocation already past its budget. Answers the invocations made.
 */
export async function workPlanMessages(queue: QueueClient, times: number, together = false): Promise<number> {
  let invocations = 0;
  for (const message of await take<PlanMessage>(queue)) {
    const invoke = () => planRun(message, undefined, { deadline: Date.now() });
    if (together) await Promise.all(Array.from({ length: times }, invoke));
    else for (let time = 0; time < times; time++) await invoke();
    invocations += times;
  }
  return invocations;
}
