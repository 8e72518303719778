import { describe, expect, it } from 'vitest';
import { retryAfterMs, withApiOrigin } from '../../shared/destinations/vendorHttp.js';

describe('vendor HTTP plumbing', () => {
  it('replaces scheme and host but keeps the vendor path', () => {
    expect(withApiOrigin('https://api.createsend.com/api/v3.3/subscribers/L/import.json', 'http://127.0.0.1:4010')).toBe('http://127.0.0.1:4010/api/v3.3/subscribers/L/import.json');
    expect(withApiOrigin('https://us21.api.mailchimp.com/3.0/lists/x', undefined)).toBe('https://us21.api.mailchimp.com/3.0/lists/x');
  });
  it('reads Retry-After in seconds or as a date, and X-RateLimit-Reset', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Mon, 23 Nov 2026 12:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ 'x-ratelimit-reset': '2' }), now)).toBe(2000);
    expect(retryAfterMs(new Headers({ 'x-ratelimit-reset': String(now / 1000 + 4) }), now)).toBe(4000);
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });
});
