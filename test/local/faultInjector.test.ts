// The simulators' fault injector: 429 bursts land on the calls whose place in the sequence says so,
// however many calls wait out their latency at the same time (a fault-run test counts on them).
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { emptyRequestCounters, FaultInjector } from '../../local/simulators/simulatorKit.js';

const request = { socket: { destroy: () => undefined } } as unknown as IncomingMessage;

describe('FaultInjector bursts', () => {
  it('answers 429 to exactly the burst calls when calls overlap their latency', async () => {
    const injector = new FaultInjector({ tooManyRequestsBursts: { every: 2, length: 1 }, latencyMs: 1, latencyJitterMs: 20, seed: 5 });
    const counters = emptyRequestCounters();
    const faults = await Promise.all(Array.from({ length: 9 }, () => injector.inject(request, counters)));
    expect(faults).toEqual([
      undefined,
      undefined,
      'tooManyRequests',
      undefined,
      undefined,
      'tooManyRequests',
      undefined,
      undefined,
      'tooManyRequests',
    ]);
    expect(counters.tooManyRequests).toBe(3);
  });

  it('starts the sequence again when faults are set', async () => {
    const injector = new FaultInjector({ tooManyRequestsBursts: { every: 1, length: 1 } });
    const counters = emptyRequestCounters();
    expect(await injector.inject(request, counters)).toBeUndefined();
    injector.set({ tooManyRequestsBursts: { every: 1, length: 1 } });
    expect(await injector.inject(request, counters)).toBeUndefined();
    expect(await injector.inject(request, counters)).toBe('tooManyRequests');
  });
});
