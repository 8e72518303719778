// The engine's sender (sendWithRetries) for tests of how it meets a vendor's answers: no budget
// or concurrency cap of its own (neither touches storage), no lease, a silent log, so calls go
// out as fast as the vendor lets them.
import type { ConnectionRecord } from '../../shared/connections/connection.js';
import type { BatchResult, DestinationAdapter, DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import type { DestinationAccess } from '../../shared/runs/destinationAccess.js';
import { ConcurrencyBudget } from '../../shared/segmentSender/concurrencyBudget.js';
import { RateBudget } from '../../shared/segmentSender/rateBudget.js';
import { sendWithRetries } from '../../shared/segmentSender/sendChunk.js';

/** Sends `batch` through the engine's sender; `budgetName` names the (unlimited) budgets. */
export function sendUnbudgeted(
  destination: DestinationAdapter,
  call: DestinationCall,
  batch: MappedMember[],
  budgetName: string,
): Promise<BatchResult> {
  const access = {
    destination,
    connection: { id: 'connection-1' } as ConnectionRecord,
    call,
    rateLimit: { requestsPerSecond: Infinity, burst: 1 },
  } as DestinationAccess;
  return sendWithRetries(batch, {
    budget: new RateBudget(budgetName, { requestsPerSecond: Infinity, burst: 1 }),
    slots: new ConcurrencyBudget(budgetName, undefined),
    owner: 'test',
    getAccess: () => access,
    refreshAccess: async () => access,
    renewLease: async () => {},
    log: {
      info() {},
      warn() {},
      error() {},
      with() {
        return this;
      },
    },
  } as Parameters<typeof sendWithRetries>[1]);
}
