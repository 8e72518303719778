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
    membersPerBatchCall: documented(500, 'marketing.json 3.0.55 batch subscribe: "Up to 500 members may be added or updated with each API call"'),
    simultaneousConnections: documented(10, 'Mailchimp developer docs, rate-limits-and-timeouts: "a limit of 10 simultaneous connections … per user"'),
    callTimeoutSeconds: documented(120, 'Mailchimp developer docs, rate-limits-and-timeouts: "a 120-second timeout on API calls"'),
    requestsPerSecond: assumed(10, 'no request rate is published; the connection cap binds first'),
    mergeFieldsPerAudience: assumed(30, 'plan dependent; 30 reported by integrators, not published'),
  },
  dotdigital: {
    activeImports: documented(25, 'v2 OpenAPI / API reference, bulk import: at most 25 active imports per account (ERROR_IMPORT_TOOMANYACTIVEIMPORTS)'),
    importFileBytes: documented(50 * 1024 * 1024, 'API reference, bulk import: 50 MB per file'),
    lowTierCallsPerMinute: documented(35, 'support.dotdigital.com api-rate-limits: the Basic package\'s Low tier, 35 calls per minute'),
    callTimeoutSeconds: documented(121, 'developer.dotdigital.com api-conventions: allow 121 s per call'),
    flatSchemeRetryWaitSeconds: assumed(5, 'the older flat scheme has an hourly allowance (400 ERROR_APIUSAGE_EXCEEDED); when a refused call may come back is not published'),
  },
  iterable: {
    listReadsPerSecond: documented(100, "api-docs.json GET /api/lists: 100 requests/s per project"),
    bulkUserWritesPerSecond: documented(5, 'api-docs.json users/bulkUpdate: 5 requests/s per project'),
    subscribersPerCall: assumed(1000, 'lists/subscribe publishes no cap; 1,000 is what public integrations use'),
    subscribeCallsPerSecond: assumed(5, 'lists/subscribe publishes no rate; the documented rate of users/bulkUpdate is used'),
  },
  'campaign-monitor': {
    subscribersPerImport: documented(1000, 'campaignmonitor.com/api/v3-3/subscribers: up to 1,000 subscribers per import (Code 209 over it)'),
    requestsPerSecond: assumed(2, 'the vendor sends X-RateLimit-* headers but publishes no number'),
  },
  linkedin: {
    usersCallsPerMinute: documented(600, 'Microsoft Learn, DMP Segment Users: 600 requests per member per minute (500 in older versions of the page)'),
    companiesCallsPerMinute: documented(300, 'Microsoft Learn, DMP Segment Companies: 300 requests per member per minute (200 in older versions)'),
    companyElementsPerCall: documented(5000, "Segment's linkedin-audiences integration: LinkedIn accepts up to 5000 per request (companies)"),
    userElementsPerCall: assumed(5000, 'confirmed only for companies; used for users too'),
    companyPageUrlChars: documented(100, 'LinkedIn company schema: companyPageUrl at most 100 characters'),
  },
} as const satisfies Record<string, Record<string, VendorFact>>;
