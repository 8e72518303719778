// dotdigital removals over real HTTP: per member, `GET /v2/contacts/{email}` for the contact id,
// then `DELETE /v2/address-books/{id}/contacts/{contactId}`, against the simulator's address books.
import { describe, expect, it } from 'vitest';
import {
  createDotdigitalAdapter,
  type DotdigitalDetails,
  type DotdigitalSecrets,
  type DotdigitalSettings,
} from '../../shared/destinations/dotdigital.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { startDotdigitalSimulator, type DotdigitalSimulator } from '../../local/simulators/dotdigitalSimulator.js';
import { thrown } from '../support/destinationErrors.js';
import { useSimulator } from '../support/simulators.js';

const USER = 'apiuser-removals@apiconnector.com';
const PASSWORD = 'secret-password';
const FAST = { firstDelayMs: 5, factor: 2, maxDelayMs: 20, maxWaitMs: 10_000, maxConsecutiveErrors: 4 };
const adapter = createDotdigitalAdapter({ polling: FAST });
const impatient = createDotdigitalAdapter({ polling: { ...FAST, maxConsecutiveErrors: 0 } });
const one = (email: string): MappedMember[] => [{ email, fields: {} }];

describe('dotdigital removals against the simulator', () => {
  let simulator: DotdigitalSimulator;
  let bookSeq = 0;
  useSimulator(
    async () =>
      (simulator = await startDotdigitalSimulator({
        apiUsers: { [USER]: PASSWORD },
        rateLimit: false,
        importDelayMs: 20,
        autoCreateAddressBooks: true,
      })),
  );

  type Call = DestinationCall<DotdigitalSettings, DotdigitalSecrets, DotdigitalDetails>;
  function call(overrides: { addressBookId?: number; password?: string; origin?: string } = {}): Call {
    bookSeq += 1;
    return {
      settings: { region: 'auto' },
      secrets: { username: USER, password: overrides.password ?? PASSWORD },
      details: { addressBookId: overrides.addressBookId ?? 2000 + bookSeq, apiEndpoint: 'https://r1-api.dotdigital.com' },
      apiOrigin: overrides.origin ?? simulator.url,
    };
  }
  const members = (target: Call) => [...simulator.state.addressBooks.get(target.details.addressBookId)!.members].sort();

  it('declares no bulk form: one member per removal call', () => {
    expect(adapter.removeBatch).toBeTypeOf('function');
    expect(adapter.removalBatchSize).toBe(1);
  });

  it('takes present contacts out of the book (two calls each); absent ones count as removed; a malformed email fails', async () => {
    const target = call();
    const other = { ...target, details: { ...target.details, addressBookId: target.details.addressBookId + 500 } };
    const emails = ['a@lovelace.dev', 'b@lovelace.dev', 'c@lovelace.dev'];
    await adapter.sendBatch(
      target,
      emails.map((email) => ({ email, fields: {} })),
    );
    await adapter.sendBatch(
      other,
      emails.map((email) => ({ email, fields: {} })),
    );
    const requestsBefore = simulator.state.counters.requests;

    expect(await adapter.removeBatch!(target, one('a@lovelace.dev'))).toEqual({ succeeded: 1, failures: [] });
    expect(simulator.state.counters.requests - requestsBefore).toBe(2);
    expect(await adapter.removeBatch!(target, one('never-sent@lovelace.dev'))).toEqual({ succeeded: 1, failures: [] });
    // Again: the contact exists but is no longer in the book.
    expect(await adapter.removeBatch!(target, one('A@lovelace.dev'))).toEqual({ succeeded: 1, failures: [] });
    expect(await adapter.removeBatch!(target, one('broken@lovelace'))).toEqual({
      succeeded: 0,
      failures: [
        expect.objectContaining({ email: 'broken@lovelace', status: 'failed', category: 'invalidRecord', code: 'ERROR_PARAMETER_INVALID' }),
      ],
    });
    expect(members(target)).toEqual(['b@lovelace.dev', 'c@lovelace.dev']);
    // The other book and the contact itself stay.
    expect(members(other)).toEqual(emails);
    expect(simulator.state.contacts.has('a@lovelace.dev')).toBe(true);
    expect(simulator.state.counters.removedFromAddressBooks).toBe(1);
    expect(simulator.state.counters.byRoute).toMatchObject({
      'GET /v2/contacts/{email}': 4,
      'DELETE /v2/address-books/{addressBookId}/contacts/{contactId}': 2,
    });
  });

  it('more than one member in a call is refused before calling', async () => {
    expect((await thrown(adapter.removeBatch!(call(), [...one('a@lovelace.dev'), ...one('b@lovelace.dev')]))).category).toBe('config');
    expect(simulator.state.counters.requests).toBe(0);
  });

  it('an unknown address book is config, wrong credentials auth, a 429 rateLimited with its wait, a 5xx vendorUnavailable', async () => {
    const strict = await startDotdigitalSimulator({ apiUsers: { [USER]: PASSWORD }, rateLimit: false, autoCreateAddressBooks: false });
    try {
      const target = call({ origin: strict.url });
      strict.state.contacts.set('a@lovelace.dev', { id: 7, email: 'a@lovelace.dev', dataFields: {} });
      expect(await thrown(impatient.removeBatch!(target, one('a@lovelace.dev')))).toMatchObject({
        category: 'config',
        options: { status: 404, code: 'ERROR_ADDRESSBOOK_NOT_FOUND' },
      });
    } finally {
      await strict.stop();
    }
    expect(await thrown(impatient.removeBatch!(call({ password: 'wrong' }), one('a@lovelace.dev')))).toMatchObject({
      category: 'auth',
      options: { status: 401 },
    });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    const target = call();
    await impatient.removeBatch!(target, one('a@lovelace.dev'));
    const throttled = await thrown(impatient.removeBatch!(target, one('a@lovelace.dev')));
    expect(throttled).toMatchObject({ category: 'rateLimited', options: { status: 429 } });
    // From X-RateLimit-Reset: at most a minute away.
    expect(throttled.options.retryAfterMs).toBeGreaterThan(0);
    expect(throttled.options.retryAfterMs).toBeLessThanOrEqual(61_000);
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(impatient.removeBatch!(target, one('a@lovelace.dev')))).toMatchObject({
      category: 'vendorUnavailable',
      retryable: true,
    });
  });

  it('a throttled delete is retried without looking the contact up again', async () => {
    const target = call();
    await adapter.sendBatch(target, one('a@lovelace.dev'));
    // Every second call is answered 429: the lookup passes, the delete is throttled once.
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    expect(await adapter.removeBatch!(target, one('a@lovelace.dev'))).toEqual({ succeeded: 1, failures: [] });
    expect(members(target)).toEqual([]);
    expect(simulator.state.counters.byRoute['GET /v2/contacts/{email}']).toBe(1);
    expect(simulator.state.counters.tooManyRequests).toBeGreaterThanOrEqual(1);
  });

  it('the per-minute window counts lookups and deletes like every other call', async () => {
    const limited = await startDotdigitalSimulator({
      apiUsers: { [USER]: PASSWORD },
      rateLimit: { callsPerMinute: 1 },
      autoCreateAddressBooks: true,
    });
    try {
      limited.state.contacts.set('a@lovelace.dev', { id: 1, email: 'a@lovelace.dev', dataFields: {} });
      // The lookup takes the minute's one call; the delete is answered 429.
      expect(await thrown(impatient.removeBatch!(call({ origin: limited.url }), one('a@lovelace.dev')))).toMatchObject({
        category: 'rateLimited',
        options: { status: 429 },
      });
      expect(limited.state.counters.byRoute['GET /v2/contacts/{email}']).toBe(1);
    } finally {
      await limited.stop();
    }
  });
});
