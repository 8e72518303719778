// A vendor simulator for a suite of adapter tests: started before the suite, reset before each
// test (so each sees only its own lists and calls), stopped after the suite.
import { afterAll, beforeAll, beforeEach } from 'vitest';

/** `start` starts the simulator (and keeps it where the suite's tests read it). */
export function useSimulator(start: () => Promise<{ stop(): Promise<void>; reset(): unknown }>): void {
  let simulator: Awaited<ReturnType<typeof start>> | undefined;
  beforeAll(async () => {
    simulator = await start();
  });
  afterAll(async () => {
    await simulator?.stop();
  });
  beforeEach(() => simulator!.reset());
}
