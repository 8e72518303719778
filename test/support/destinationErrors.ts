// For adapter tests that expect a call to fail in a given way: the DestinationError it rejects with.
import { DestinationError } from '../../shared/destinations/destinationError.js';

/** The DestinationError `promise` rejects with; any other outcome fails the test. */
export async function thrown(promise: Promise<unknown>): Promise<DestinationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DestinationError) return error;
    throw error;
  }
  throw new Error('expected a DestinationError');
}
