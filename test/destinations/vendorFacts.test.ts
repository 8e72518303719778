// The adapters' declared limits held against what each vendor documents (shared/destinations/
// vendorFacts.ts): an adapter may stay under a documented limit, never over it.
import { describe, expect, it } from 'vitest';
import { RETRY_AFTER_ON_429, VENDOR_FACTS } from '../../shared/destinations/vendorFacts.js';
import { mailchimp } from '../../shared/destinations/mailchimp.js';
import { dotdigital } from '../../shared/destinations/dotdigital.js';
import { campaignMonitor } from '../../shared/destinations/campaignMonitor.js';
import { iterable } from '../../shared/destinations/iterable.js';
import { COMPANY_PAGE_URL_MAX, linkedin } from '../../shared/destinations/linkedin.js';
import { VENDOR_FILE_LIMIT_BYTES } from '../../shared/destinations/dotdigitalImportFile.js';
import { MAX_PROFILES_PER_JOB } from '../../shared/destinations/klaviyo.js';
import { MAX_IDENTIFIERS_PER_REQUEST } from '../../shared/destinations/googleAds.js';

describe('vendor facts', () => {
  it('every fact says whether it is documented and where it comes from', () => {
    for (const [vendor, facts] of Object.entries(VENDOR_FACTS)) {
      for (const [name, fact] of Object.entries(facts)) {
        expect(fact.source.length, `${vendor}.${name}`).toBeGreaterThan(10);
        expect(typeof fact.documented).toBe('boolean');
        expect(fact.value).toBeGreaterThan(0);
      }
    }
  });

  it('no adapter declares more than its vendor documents', () => {
    expect(mailchimp.batchSize).toBeLessThanOrEqual(VENDOR_FACTS.mailchimp.membersPerBatchCall.value);
    expect(mailchimp.limits.maxConcurrentRequests!).toBeLessThanOrEqual(VENDOR_FACTS.mailchimp.simultaneousConnections.value);
    expect(dotdigital.limits.maxConcurrentRequests!).toBeLessThanOrEqual(VENDOR_FACTS.dotdigital.activeImports.value);
    expect(dotdigital.limits.requestsPerSecond * 60).toBeLessThanOrEqual(VENDOR_FACTS.dotdigital.lowTierCallsPerMinute.value);
    expect(VENDOR_FILE_LIMIT_BYTES).toBe(VENDOR_FACTS.dotdigital.importFileBytes.value);
    expect(campaignMonitor.batchSize).toBeLessThanOrEqual(VENDOR_FACTS['campaign-monitor'].subscribersPerImport.value);
    expect(iterable.batchSize).toBeLessThanOrEqual(VENDOR_FACTS.iterable.subscribersPerCall.value);
    expect(linkedin.batchSize).toBeLessThanOrEqual(VENDOR_FACTS.linkedin.companyElementsPerCall.value);
    expect(COMPANY_PAGE_URL_MAX).toBe(VENDOR_FACTS.linkedin.companyPageUrlChars.value);
    // The strictest documented per-minute limit (companies) bounds any minute of the bucket.
    expect(linkedin.limits.burst + 60 * linkedin.limits.requestsPerSecond).toBeLessThanOrEqual(
      VENDOR_FACTS.linkedin.companiesCallsPerMinute.value,
    );
    expect(MAX_PROFILES_PER_JOB).toBeLessThanOrEqual(VENDOR_FACTS.klaviyo.profilesPerImportJob.value);
    expect(MAX_IDENTIFIERS_PER_REQUEST).toBe(VENDOR_FACTS['google-ads'].identifiersPerRequest.value);
  });

  it('says for every vendor whether its 429s document Retry-After, and where from', () => {
    expect(Object.keys(RETRY_AFTER_ON_429).sort()).toEqual([
      'campaign-monitor',
      'dotdigital',
      'google-ads',
      'iterable',
      'klaviyo',
      'linkedin',
      'mailchimp',
    ]);
    for (const [vendor, fact] of Object.entries(RETRY_AFTER_ON_429)) expect(fact.source.length, vendor).toBeGreaterThan(10);
  });
});
