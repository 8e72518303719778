// Values the code must agree on with host.json (a test keeps them in step).

/** host.json extensions.queues.maxDequeueCount: attempts before a message goes to <queue>-poison. */
export const MAX_DEQUEUE_COUNT = 5;
