// DESTINATION_RATE_LIMITS: an operator's entry replaces a destination's rate and, when it says so,
// its calls in flight per connection; destinations it does not name keep the adapter's limits.
import { afterEach, describe, expect, it } from 'vitest';
import { destinationConcurrency, destinationRateLimit } from '../../shared/runs/destinationAccess.js';
import { destinationFor } from '../../shared/destinations/registry.js';

const saved = process.env.DESTINATION_RATE_LIMITS;
afterEach(() => {
  if (saved === undefined) delete process.env.DESTINATION_RATE_LIMITS;
  else process.env.DESTINATION_RATE_LIMITS = saved;
});

describe('DESTINATION_RATE_LIMITS', () => {
  const campaignMonitor = destinationFor('campaign-monitor');
  const mailchimp = destinationFor('mailchimp');

  it("keeps the adapters' own limits when unset", () => {
    delete process.env.DESTINATION_RATE_LIMITS;
    expect(destinationRateLimit(campaignMonitor)).toEqual({
      requestsPerSecond: campaignMonitor.limits.requestsPerSecond,
      burst: campaignMonitor.limits.burst,
    });
    expect(destinationConcurrency(campaignMonitor)).toBe(campaignMonitor.limits.maxConcurrentRequests);
  });

  it('replaces the rate, and the calls in flight only when the entry names them', () => {
    process.env.DESTINATION_RATE_LIMITS = JSON.stringify({
      'campaign-monitor': { requestsPerSecond: 50, maxConcurrentRequests: 8 },
      mailchimp: { requestsPerSecond: 20 },
    });
    expect(destinationRateLimit(campaignMonitor)).toEqual({ requestsPerSecond: 50, burst: 50 });
    expect(destinationConcurrency(campaignMonitor)).toBe(8);
    expect(destinationConcurrency(mailchimp)).toBe(mailchimp.limits.maxConcurrentRequests);
  });

  it('refuses an entry whose calls in flight are not a positive whole number', () => {
    process.env.DESTINATION_RATE_LIMITS = JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 5, maxConcurrentRequests: 0 } });
    expect(() => destinationConcurrency(campaignMonitor)).toThrow(/DESTINATION_RATE_LIMITS is not valid/);
  });
});
