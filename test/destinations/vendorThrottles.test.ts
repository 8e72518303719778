// The documented throttles that do not look like 429s — Mailchimp's bodiless 403 and dotdigital's
// 400 ERROR_APIUSAGE_EXCEEDED — read by the real adapters against their simulators: each is a
// rateLimited DestinationError (a 403 with a problem document stays auth), and the engine's sender
// retries it and counts it in outflow.vendor.rate_limited like any 429.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../shared/observability/metrics.js';
import type { DestinationAdapter, DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import { mailchimp, refusal } from '../../shared/destinations/mailchimp.js';
import { createDotdigitalAdapter } from '../../shared/destinations/dotdigital.js';
import { startMailchimpSimulator, type MailchimpSimulator } from '../../local/simulators/mailchimpSimulator.js';
import { startDotdigitalSimulator, type DotdigitalSimulator } from '../../local/simulators/dotdigitalSimulator.js';
import { useInMemoryMeterProvider } from '../support/meterReader.js';
import { sendUnbudgeted } from '../support/sendUnbudgeted.js';

const MAILCHIMP_KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f0-us6';
const DD_USER = 'apiuser-flat@apiconnector.com';
const DD_PASSWORD = 'flat-scheme';
const members: MappedMember[] = Array.from({ length: 3 }, (_, index) => ({
  email: `person${index}@outflow.dev`,
  fields: { firstName: `P${index}` },
}));

let mailchimpSimulator: MailchimpSimulator;
let dotdigitalSimulator: DotdigitalSimulator;

beforeAll(async () => {
  mailchimpSimulator = await startMailchimpSimulator({ apiKeys: [MAILCHIMP_KEY], lists: ['aud1'] });
  dotdigitalSimulator = await startDotdigitalSimulator({
    apiUsers: { [DD_USER]: DD_PASSWORD },
    rateLimit: false,
    importDelayMs: 20,
    autoCreateAddressBooks: true,
  });
});

afterAll(async () => {
  await mailchimpSimulator?.stop();
  await dotdigitalSimulator?.stop();
});

const meter = useInMemoryMeterProvider();
const rateLimitedCount = () => meter.pointsOf(METRICS.vendorRateLimited);

const send = (destination: DestinationAdapter, call: DestinationCall, batch: MappedMember[]) =>
  sendUnbudgeted(destination, call, batch, 'throttle-test');

describe('Mailchimp: 403 and 429 without a body', () => {
  const call = (): DestinationCall => ({
    settings: {},
    secrets: { apiKey: MAILCHIMP_KEY },
    details: { listId: 'aud1', statusIfNew: 'subscribed' },
    apiOrigin: mailchimpSimulator.url,
  });

  it('reads a bodiless 403 and a bodiless 429 as throttles, a 403 with a problem document as auth', () => {
    const bodiless403 = refusal({ status: 403, headers: new Headers(), body: '' }, '/lists/aud1');
    expect(bodiless403).toMatchObject({ category: 'rateLimited', options: { status: 403, code: 'BodilessForbidden' } });
    expect(bodiless403.options.retryAfterMs).toBeUndefined();
    expect(refusal({ status: 429, headers: new Headers(), body: '' }, '/lists/aud1')).toMatchObject({
      category: 'rateLimited',
      options: { status: 429 },
    });
    const problem = {
      type: 'https://mailchimp.com/developer/marketing/docs/errors/',
      title: 'Forbidden',
      status: 403,
      detail: 'You do not have permission to access this resource.',
      instance: 'x',
    };
    expect(refusal({ status: 403, headers: new Headers(), body: problem }, '/lists/aud1')).toMatchObject({
      category: 'auth',
      options: { status: 403, code: 'Forbidden' },
    });
  });

  it('the sender retries the throttled call and counts it as rate limited; every member delivered once', async () => {
    mailchimpSimulator.setFaults({ bodilessThrottle: { every: 1, status: 403 } });
    const thrown = await mailchimp.sendBatch(call() as never, members).catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(DestinationError);
    expect((thrown as DestinationError).category).toBe('rateLimited');
    // Every 2nd call from here: the sender's first try is refused, its retry goes through.
    mailchimpSimulator.setFaults({ bodilessThrottle: { every: 2, status: 403 } });
    await mailchimp.sendBatch(call() as never, [{ email: 'warmup@outflow.dev', fields: {} }]);
    const result = await send(mailchimp, call(), members);
    expect(result).toEqual({ succeeded: 3, failures: [] });
    expect(await rateLimitedCount()).toEqual([{ attributes: { destination: 'mailchimp' }, value: 1 }]);
    expect(mailchimpSimulator.inspectList('aud1')).toMatchObject({ duplicates: 0 });
    expect(mailchimpSimulator.state.counters.bodilessThrottles).toBe(2);
    mailchimpSimulator.setFaults({});
  }, 20_000);
});

describe('dotdigital: 400 ERROR_APIUSAGE_EXCEEDED (flat per-hour scheme)', () => {
  const adapter = createDotdigitalAdapter({ polling: { firstDelayMs: 20, maxDelayMs: 50 } });
  const call = (): DestinationCall => ({
    settings: { region: 'auto' },
    secrets: { username: DD_USER, password: DD_PASSWORD },
    details: { addressBookId: 77 },
    apiOrigin: dotdigitalSimulator.url,
  });

  it('is a throttle the sender retries and counts; the contacts are imported once', async () => {
    dotdigitalSimulator.setFaults({ apiUsageExceeded: { every: 2 } });
    const result = await send(adapter, call(), members);
    expect(result).toEqual({ succeeded: 3, failures: [] });
    expect(await rateLimitedCount()).toEqual([{ attributes: { destination: 'dotdigital' }, value: 1 }]);
    expect(dotdigitalSimulator.state.counters.apiUsageExceeded).toBe(1);
    expect(dotdigitalSimulator.inspectAddressBook(77)).toMatchObject({ memberCount: 3, deliveries: 3, duplicates: 0 });
    dotdigitalSimulator.setFaults({});
  }, 30_000);

  it('names no wait of its own (none is published; the allowance is hourly), so the sender backs off 1 s doubling', async () => {
    dotdigitalSimulator.setFaults({ apiUsageExceeded: { every: 1 } });
    const thrown = await adapter.sendBatch(call() as never, members).catch((error: unknown) => error);
    expect(thrown).toMatchObject({ category: 'rateLimited', options: { code: 'ERROR_APIUSAGE_EXCEEDED', retryAfterMs: undefined } });
    dotdigitalSimulator.setFaults({});
  });
});
