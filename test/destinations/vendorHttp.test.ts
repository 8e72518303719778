import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callVendor, retryAfterMs, withApiOrigin } from '../../shared/destinations/vendorHttp.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';

describe('vendor HTTP plumbing', () => {
  it('replaces scheme and host but keeps the vendor path', () => {
    expect(withApiOrigin('https://api.createsend.com/api/v3.3/subscribers/L/import.json', 'http://127.0.0.1:4010')).toBe(
      'http://127.0.0.1:4010/api/v3.3/subscribers/L/import.json',
    );
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

  describe('VENDOR_TIMEOUT_SECONDS', () => {
    afterEach(() => {
      delete process.env.VENDOR_TIMEOUT_SECONDS;
    });

    it("replaces the adapter's own call timeout: a vendor that never answers is a network error after it", async () => {
      // A vendor that reads the request and never answers.
      const server = createServer(() => undefined);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        process.env.VENDOR_TIMEOUT_SECONDS = '0.3';
        const started = Date.now();
        const call = callVendor({
          method: 'POST',
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/import`,
          json: { a: 1 },
          timeoutMs: 60_000,
        });
        await expect(call).rejects.toBeInstanceOf(DestinationError);
        await expect(call).rejects.toMatchObject({ category: 'network', message: expect.stringContaining('timed out') });
        expect(Date.now() - started).toBeLessThan(30_000);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('refuses a value that is not a positive number of seconds, naming the setting', async () => {
      for (const value of ['0', '-5', 'soon']) {
        process.env.VENDOR_TIMEOUT_SECONDS = value;
        await expect(callVendor({ method: 'GET', url: 'http://127.0.0.1:9/' })).rejects.toThrow(/VENDOR_TIMEOUT_SECONDS/);
      }
    });
  });
});
