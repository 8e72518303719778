// When a sender hands its chunk on: before a batch that would not end inside the invocation's
// budget, not only once the budget has passed. On a loaded instance one batch (reading its rows,
// waiting for a call slot, the vendor call, the ledger acknowledgement) can take many seconds, and
// a batch started just inside the budget then ran past functionTimeout: the runtime failed the
// invocation and recycled the worker with every invocation in flight on it, whose batches were
// sent again. The next batch is expected to take as long as the longest one of this invocation,
// with a margin for an instance that gets busier meanwhile.

/** How much longer than the longest batch so far the next one is allowed to take. */
export const BATCH_TIME_MARGIN = 1.5;

export class BatchPacer {
  private longestMs = 0;
  private startedAt: number;

  constructor(
    /** When the invocation's budget ends (invocationDeadline). */
    readonly deadline: number,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  /** A batch begins: its rows are about to be read. */
  batchStarted(): void {
    this.startedAt = this.now();
  }

  /** The batch was sent and acknowledged. */
  batchEnded(): void {
    this.longestMs = Math.max(this.longestMs, this.now() - this.startedAt);
  }

  /** The longest batch of this invocation so far (0 before the first ended). */
  get longestBatchMs(): number {
    return this.longestMs;
  }

  /**
   * Whether the next batch should go to a continuation: the budget is spent, or a batch as long as
   * the longest so far (with the margin) would end past it. The first batch of an invocation is
   * always sent (nothing is measured yet), so every invocation makes progress.
   */
  shouldHandOn(): boolean {
    const now = this.now();
    return now >= this.deadline || now + this.longestMs * BATCH_TIME_MARGIN > this.deadline;
  }
}
