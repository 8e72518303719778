// 429 without Retry-After. Iterable, Mailchimp, LinkedIn and Google Ads document no Retry-After;
// Campaign Monitor and dotdigital document X-RateLimit-Reset only (shared/destinations/vendorFacts.ts),
// so their simulators throttle without one by default. The engine's sender then backs off by itself:
// 1 s, doubling to a minute (rateLimitedWaitMs), instead of knocking again every second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../shared/observability/metrics.js';
import { rateLimitedWaitMs } from '../../shared/segmentSender/sendChunk.js';
import type { DestinationCall, MappedMember, SegmentRef } from '../../shared/destinations/destination.js';
import { iterable } from '../../shared/destinations/iterable.js';
import { startIterableSimulator, type IterableSimulator } from '../../local/simulators/iterableSimulator.js';
import { startCampaignMonitorSimulator } from '../../local/simulators/campaignMonitorSimulator.js';
import { startDotdigitalSimulator } from '../../local/simulators/dotdigitalSimulator.js';
import { useInMemoryMeterProvider } from '../support/meterReader.js';
import { sendUnbudgeted } from '../support/sendUnbudgeted.js';

describe('the wait after a throttle', () => {
  it("is the vendor's when it gives one, else 1 s doubling to at most a minute (with a little jitter)", () => {
    expect(rateLimitedWaitMs(1, 5_000)).toBeGreaterThanOrEqual(5_000);
    expect(rateLimitedWaitMs(1, 5_000)).toBeLessThan(5_100);
    const waits = [1, 2, 3, 4, 5, 6, 7, 12, 30].map((attempt) => rateLimitedWaitMs(attempt, undefined));
    const floors = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000];
    waits.forEach((wait, index) => {
      expect(wait).toBeGreaterThanOrEqual(floors[index]!);
      expect(wait).toBeLessThan(floors[index]! + 250);
    });
  });
});

describe('simulators of vendors that document no Retry-After throttle without one', () => {
  it('Campaign Monitor and dotdigital: X-RateLimit-Reset only', async () => {
    const cm = await startCampaignMonitorSimulator({ apiKeys: ['cm-key'], rateLimit: { requestsPerSecond: 1, burst: 1 } });
    const dd = await startDotdigitalSimulator({ apiUsers: { 'apiuser@apiconnector.com': 'pw' }, rateLimit: { callsPerMinute: 1 } });
    try {
      const cmCall = () =>
        fetch(`${cm.url}/api/v3.3/clients.json`, { headers: { authorization: `Basic ${Buffer.from('cm-key:x').toString('base64')}` } });
      await cmCall();
      const cmLimited = await cmCall();
      expect(cmLimited.status).toBe(429);
      expect(cmLimited.headers.get('retry-after')).toBeNull();
      expect(Number(cmLimited.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
      const ddCall = () =>
        fetch(`${dd.url}/v2/account-info`, {
          headers: { authorization: `Basic ${Buffer.from('apiuser@apiconnector.com:pw').toString('base64')}` },
        });
      await ddCall();
      const ddLimited = await ddCall();
      expect(ddLimited.status).toBe(429);
      expect(ddLimited.headers.get('retry-after')).toBeNull();
      expect(Number(ddLimited.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
    } finally {
      await cm.stop();
      await dd.stop();
    }
  });
});

describe('Iterable: 429 without Retry-After', () => {
  const members: MappedMember[] = Array.from({ length: 3 }, (_, index) => ({
    email: `person${index}@outflow.dev`,
    fields: { firstName: `P${index}` },
  }));
  const segment: SegmentRef = { id: 'seg-1', name: 'Newsletter', type: 'Profile' };
  let simulator: IterableSimulator;
  beforeAll(async () => {
    simulator = await startIterableSimulator({ apiKeys: ['it-key'] });
  });
  afterAll(async () => simulator?.stop());
  const meter = useInMemoryMeterProvider();

  it('the simulator sends none; the sender waits 1 s, then 2 s, and delivers every member once, counting both throttles', async () => {
    const call = { settings: { region: 'US' }, secrets: { apiKey: 'it-key' }, details: {}, apiOrigin: simulator.url } as DestinationCall<
      any,
      any,
      any
    >;
    const details = await iterable.prepareRun!(call, { segments: [segment], segmentNames: [segment.name], mappedFields: ['firstName'] });
    const prepared = { ...call, details, segment } as DestinationCall;
    // From here: one call answered, then three refused 429, then answered again.
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 3 } });
    expect(await iterable.sendBatch(prepared as never, [{ email: 'warmup@outflow.dev', fields: {} }])).toEqual({
      succeeded: 1,
      failures: [],
    });
    const raw = await fetch(`${simulator.url}/api/lists`, { headers: { 'Api-Key': 'it-key' } });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBeNull();

    const started = Date.now();
    const result = await sendUnbudgeted(iterable, prepared, members, 'no-retry-after-test');
    expect(result).toEqual({ succeeded: 3, failures: [] });
    // The raw call above took the first refusal; the sender met two, waited 1 s and 2 s, then got through.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect((await meter.pointsOf(METRICS.vendorRateLimited)).map((point) => point.value)).toEqual([2]);
    expect(simulator.inspectList(details.listIds![segment.id]!)).toMatchObject({ duplicates: 0 });
    simulator.setFaults({});
  }, 20_000);
});
