import type { ErrorCategory } from './destination.js';

/** A vendor call that failed as a whole. The engine retries rateLimited, vendorUnavailable and network. */
export class DestinationError extends Error {
  constructor(
    readonly category: ErrorCategory,
    message: string,
    readonly options: { status?: number; code?: string; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'DestinationError';
  }

  get retryable(): boolean {
    return this.category === 'rateLimited' || this.category === 'vendorUnavailable' || this.category === 'network';
  }
}
