// The per-caller API rate limit: a token bucket per caller, with an injected clock.
import { describe, expect, it } from 'vitest';
import { CallerRateLimit, callerRateLimitOptions, DEFAULT_CALLER_RATE_LIMIT, tooManyRequests } from '../../shared/http/rateLimit.js';

function limiter(options: Partial<typeof DEFAULT_CALLER_RATE_LIMIT> = {}) {
  let now = 1_000_000;
  const limit = new CallerRateLimit({ requestsPerSecond: 10, burst: 5, maxCallers: 100, ...options }, () => now);
  return { limit, advance: (ms: number) => (now += ms) };
}

const takeMany = (limit: CallerRateLimit, caller: string, count: number) =>
  Array.from({ length: count }, () => limit.take(caller).allowed).filter(Boolean).length;

describe('the per-caller rate limit', () => {
  it('allows a burst, then refuses with the seconds to wait', () => {
    const { limit } = limiter();
    expect(takeMany(limit, 'alice', 5)).toBe(5);
    expect(limit.take('alice')).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills at the sustained rate and never beyond the burst', () => {
    const { limit, advance } = limiter();
    takeMany(limit, 'alice', 5);
    advance(300); // 3 requests' worth at 10/s
    expect(takeMany(limit, 'alice', 10)).toBe(3);
    advance(60_000);
    expect(takeMany(limit, 'alice', 10)).toBe(5);
  });

  it('keeps callers apart', () => {
    const { limit } = limiter();
    takeMany(limit, 'alice', 5);
    expect(limit.take('alice').allowed).toBe(false);
    expect(limit.take('bob').allowed).toBe(true);
  });

  it('asks a slow-refilling caller to wait long enough for one request', () => {
    const { limit } = limiter({ requestsPerSecond: 0.25, burst: 1 });
    limit.take('alice');
    expect(limit.take('alice')).toEqual({ allowed: false, retryAfterSeconds: 4 });
  });

  it('keeps at most maxCallers buckets, dropping idle ones first', () => {
    const { limit, advance } = limiter({ maxCallers: 3 });
    takeMany(limit, 'busy', 5);
    limit.take('idle-1');
    limit.take('idle-2');
    advance(200); // the idle callers' buckets are full again; busy's is not
    limit.take('newcomer');
    expect(limit.callers).toBeLessThanOrEqual(3);
    // The busy caller's spent budget was kept: it cannot start over with a fresh burst.
    expect(takeMany(limit, 'busy', 5)).toBe(2);
  });

  it('answers 429 problem details with Retry-After', () => {
    const response = tooManyRequests(3);
    expect(response.status).toBe(429);
    expect(response.headers).toMatchObject({ 'content-type': 'application/problem+json', 'retry-after': '3' });
    expect(JSON.parse(response.body as string)).toMatchObject({ status: 429, title: 'Too many requests', retryAfterSeconds: 3 });
  });

  it('is generous by default: bursts of a thousand, a hundred a second sustained', () => {
    expect(DEFAULT_CALLER_RATE_LIMIT).toMatchObject({ requestsPerSecond: 100, burst: 1_000 });
  });

  it('takes its rate from API_RATE_LIMIT, and says in the 429 what the limit is', () => {
    expect(callerRateLimitOptions(undefined)).toEqual(DEFAULT_CALLER_RATE_LIMIT);
    const options = callerRateLimitOptions('{"requestsPerSecond":2,"burst":7}');
    expect(options).toMatchObject({ requestsPerSecond: 2, burst: 7 });
    expect(callerRateLimitOptions('{"requestsPerSecond":20}')).toMatchObject({ requestsPerSecond: 20, burst: 200 });
    expect(JSON.parse(tooManyRequests(1, options).body as string).detail).toContain(
      'more than 2 requests per second for a while (bursts up to 7 are fine)',
    );
  });

  it('refuses an API_RATE_LIMIT it cannot use, naming the setting and what is wrong', () => {
    expect(() => callerRateLimitOptions('100')).toThrow(/API_RATE_LIMIT is not valid/);
    expect(() => callerRateLimitOptions('{"requestsPerSecond":0}')).toThrow(/API_RATE_LIMIT is not valid: requestsPerSecond/);
    expect(() => callerRateLimitOptions('{"requestsPerSecond":5,"burts":9}')).toThrow(/API_RATE_LIMIT is not valid/);
    expect(() => callerRateLimitOptions('{requestsPerSecond:5}')).toThrow(/API_RATE_LIMIT is not JSON/);
  });
});
