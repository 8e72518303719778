// What each vendor documents about its limits, with the source, and what Outflow only assumes.
// One place per destination: the adapters' declared limits are read against it, and the local
// simulators take their documented defaults from here (never from an adapter's own guess), so a
// wrong guess in an adapter can fail a test. Assumed values are marked; a simulator applies one
// only as a stated stand-in, and the README's destination section lists them.

export interface VendorFact {
  value: number;
  /** true: the vendor publishes this number (see `source`); false: an assumption (see `source` for why). */
  documented: boolean;
  source: string;
}

const documented = (value: number, source: string): VendorFact => ({ value, documented: true, source });
const assumed = (value: number, source: string): VendorFact => ({ value, documented: false, source });

export const VENDOR_FACTS = {
  mailchimp: {
    membersPerBatchCall: documented(
      500,
      'marketing.json 3.0.55 batch subscribe: "Up to 500 members may be added or updated with each API call"',
    ),
    simultaneousConnections: documented(
      10,
      'Mailchimp developer docs, rate-limits-and-timeouts: "a limit of 10 simultaneous connections … per user"',
    ),
    callTimeoutSeconds: documented(120, 'Mailchimp developer docs, rate-limits-and-timeouts: "a 120-second timeout on API calls"'),
    requestsPerSecond: assumed(10, 'no request rate is published; the connection cap binds first'),
    mergeFieldsPerAudience: assumed(30, 'plan dependent; 30 reported by integrators, not published'),
  },
  dotdigital: {
    activeImports: documented(
      25,
      'v2 OpenAPI / API reference, bulk import: at most 25 active imports per account (ERROR_IMPORT_TOOMANYACTIVEIMPORTS)',
    ),
    importFileBytes: documented(50 * 1024 * 1024, 'API reference, bulk import: 50 MB per file'),
    lowTierCallsPerMinute: documented(35, "support.dotdigital.com api-rate-limits: the Basic package's Low tier, 35 calls per minute"),
    callTimeoutSeconds: documented(121, 'developer.dotdigital.com api-conventions: allow 121 s per call'),
  },
  iterable: {
    listReadsPerSecond: documented(100, 'api-docs.json GET /api/lists: 100 requests/s per project'),
    bulkUserWritesPerSecond: documented(5, 'api-docs.json users/bulkUpdate: 5 requests/s per project'),
    subscribersPerCall: assumed(1000, 'lists/subscribe publishes no cap; 1,000 is what public integrations use'),
    subscribeCallsPerSecond: assumed(5, 'lists/subscribe publishes no rate; the documented rate of users/bulkUpdate is used'),
  },
  'campaign-monitor': {
    subscribersPerImport: documented(
      1000,
      'campaignmonitor.com/api/v3-3/subscribers: up to 1,000 subscribers per import (Code 209 over it)',
    ),
    requestsPerSecond: assumed(2, 'the vendor sends X-RateLimit-* headers but publishes no number'),
  },
  linkedin: {
    usersCallsPerMinute: documented(
      600,
      'Microsoft Learn, DMP Segment Users: 600 requests per member per minute (500 in older versions of the page)',
    ),
    companiesCallsPerMinute: documented(
      300,
      'Microsoft Learn, DMP Segment Companies: 300 requests per member per minute (200 in older versions)',
    ),
    companyElementsPerCall: documented(
      5000,
      "Segment's linkedin-audiences integration: LinkedIn accepts up to 5000 per request (companies)",
    ),
    userElementsPerCall: assumed(5000, 'confirmed only for companies; used for users too'),
    companyPageUrlChars: documented(100, 'LinkedIn company schema: companyPageUrl at most 100 characters'),
  },
  klaviyo: {
    profilesPerImportJob: documented(
      10_000,
      'developers.klaviyo.com/en/reference/bulk_import_profiles: "Accepts up to 10,000 profiles per request"',
    ),
    importJobBurstPerSecond: documented(10, 'bulk_import_profiles: rate limits burst 10/s'),
    importJobSteadyPerMinute: documented(150, 'bulk_import_profiles: rate limits steady 150/m'),
  },
  'google-ads': {
    identifiersPerRequest: documented(
      100_000,
      'OfflineUserDataJobError.TOO_MANY_USER_IDENTIFIERS: "per request is 100,000 and per operation is 20"',
    ),
    requestsPerSecond: assumed(
      10,
      'Google publishes no number: a token bucket whose limit "varies based on overall server load" (google-ads/api/docs/best-practices/rate-limits); the simulator\'s stand-in, not the adapter\'s 1/s',
    ),
  },
} as const satisfies Record<string, Record<string, VendorFact>>;

/**
 * Whether each vendor documents a Retry-After header on its 429s. Where it does not, its simulator
 * sends none unless asked (`retryAfterHeader`), and the engine's sender backs off by itself: 1 s,
 * doubling to a minute (shared/segmentSender/sendChunk.ts rateLimitedWaitMs), unless the adapter knows better
 * (LinkedIn waits 10 s: its limits are per minute; Campaign Monitor and dotdigital send X-RateLimit-Reset).
 */
export const RETRY_AFTER_ON_429 = {
  mailchimp: {
    documented: false,
    source: 'rate-limits-and-timeouts: a 429, or a 403/429 without a JSON body at high volume; no Retry-After named',
  },
  dotdigital: {
    documented: false,
    source: 'developer.dotdigital.com call-rate-limits: 429 with X-RateLimit-Limit, -Remaining, -Reset; no Retry-After named',
  },
  iterable: { documented: false, source: 'api-docs.json and the rate-limit pages name none (the official client test fixture sends one)' },
  'campaign-monitor': {
    documented: false,
    source: 'campaignmonitor.com/api/v3-3 rate limiting: X-RateLimit-Limit, -Remaining, -Reset (seconds) only',
  },
  linkedin: {
    documented: false,
    source: 'Microsoft Learn, shared/api-guide/concepts/rate-limits: "Rate limited requests will receive a 429 response"; no header named',
  },
  klaviyo: {
    documented: true,
    source:
      'developers.klaviyo.com rate_limits_and_error_handling: 429 answers carry Retry-After; the official client (api/apis.ts RetryWithExponentialBackoff) waits it',
  },
  'google-ads': {
    documented: false,
    source: 'QuotaError RESOURCE_TEMPORARILY_EXHAUSTED in the error body (errors/quota_error.proto); no Retry-After header',
  },
} as const satisfies Record<string, { documented: boolean; source: string }>;
