// The dotdigital adapter: its pure converters against the table of cases, and the adapter itself
// over real HTTP against the local simulator (upload, polling to a final status, report-faults,
// merge on re-send, errors by category, region checks).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createDotdigitalAdapter,
  DOTDIGITAL_BATCH_SIZE,
  dotdigital,
  fromAccountInfo,
  fromReportFaults,
  importStatusOutcome,
  regionOf,
  type DotdigitalDetails,
  type DotdigitalSecrets,
  type DotdigitalSettings,
  type ImportPolling,
} from '../../shared/destinations/dotdigital.js';
import { toFileMedia, toImportCsv, toImportFiles } from '../../shared/destinations/dotdigitalImportFile.js';
import type { DestinationCall, MappedMember } from '../../shared/destinations/destination.js';
import { DestinationError } from '../../shared/destinations/destinationError.js';
import {
  startDotdigitalSimulator,
  type DotdigitalSimulator,
  type DotdigitalSimulatorOptions,
} from '../../local/simulators/dotdigitalSimulator.js';
import { accountInfoCases, csvCases, statusCases } from './dotdigital.cases.js';
import { thrown } from '../support/destinationErrors.js';

const USER = 'apiuser-7f3a@apiconnector.com';
const PASSWORD = 'dd-secret-password';
const FAST: ImportPolling = { firstDelayMs: 20, factor: 2, maxDelayMs: 200, maxWaitMs: 10_000, maxConsecutiveErrors: 6 };
const adapter = createDotdigitalAdapter({ polling: FAST });

describe('toImportCsv', () => {
  it.each(csvCases)('$name', ({ members, expected }) => {
    expect(toImportCsv(members)).toBe(expected);
  });
});

describe('toImportFiles', () => {
  it('keeps a batch in one file when it fits, and cuts it into files that each repeat the header otherwise', () => {
    const batch = members(10);
    const whole = toImportFiles(batch);
    expect(whole.files).toHaveLength(1);
    expect(whole.oversized).toEqual([]);
    expect(whole.files[0]!.csv.toString('utf8')).toBe(toImportCsv(batch));

    const { files } = toImportFiles(batch, 200);
    expect(files.length).toBeGreaterThan(1);
    expect(files.flatMap((file) => file.members)).toEqual(batch);
    for (const file of files) {
      expect(file.csv.length).toBeLessThanOrEqual(200);
      expect(file.csv.toString('utf8').startsWith('Email,FIRSTNAME,LASTNAME,POSTCODE\r\n')).toBe(true);
    }
  });

  it('sets apart a member whose row no file could hold', () => {
    const huge = { email: 'huge@example.com', fields: { fullName: 'x'.repeat(500) } };
    const { files, oversized } = toImportFiles([{ email: 'a@example.com', fields: {} }, huge], 100);
    expect(oversized).toEqual([huge]);
    expect(files.flatMap((file) => file.members.map((member) => member.email))).toEqual(['a@example.com']);
  });

  it('wraps a file in the JSON ApiFileMedia body of the v2 OpenAPI: fileName and base64 data, nothing else', () => {
    const media = toFileMedia(Buffer.from('Email\r\nsøren@example.com\r\n'), 'batch.csv');
    expect(Object.keys(media).sort()).toEqual(['data', 'fileName']);
    expect(media.fileName).toBe('batch.csv');
    expect(Buffer.from(media.data, 'base64').toString('utf8')).toBe('Email\r\nsøren@example.com\r\n');
  });

  it('refuses a JSON error body as a fault report', () => {
    expect(() => fromReportFaults('{"message":"Error: ERROR_IMPORT_REPORT_NOT_FOUND"}', 1)).toThrow(DestinationError);
  });
});

describe('fromAccountInfo, regionOf, importStatusOutcome', () => {
  it.each(accountInfoCases)('account info: $name', ({ body, expected }) => {
    expect(fromAccountInfo(body)).toBe(expected);
  });

  it('reads the region from vendor hosts only', () => {
    expect(regionOf('https://r2-api.dotdigital.com')).toBe('r2');
    expect(regionOf('https://r1-api-stg.dotdigital.com')).toBe('r1');
    expect(regionOf('https://r3-api.dotmailer.com')).toBe('r3');
    expect(regionOf('http://127.0.0.1:4012')).toBeUndefined();
  });

  it.each(statusCases)('status "$status" → $expected $category', ({ status, expected, category }) => {
    const outcome = importStatusOutcome(status);
    expect(outcome.state).toBe(expected);
    if (category) expect(outcome).toMatchObject({ category });
  });
});

describe('declarations', () => {
  it('declares what the vendor documents', () => {
    expect(dotdigital.type).toBe('dotdigital');
    expect(dotdigital.batchSize).toBe(DOTDIGITAL_BATCH_SIZE);
    expect(dotdigital.limits).toMatchObject({ maxMembersPerExport: 1_000_000, maxConcurrentRequests: 25 });
    expect(dotdigital.limits.requestsPerSecond).toBeCloseTo(35 / 60, 5);
    expect(dotdigital.eligibleSegmentTypes).toEqual(['Profile', 'Contact']);
    expect(dotdigital.exportKinds).toEqual(['segment']);
    expect(dotdigital.apiUrlSetting).toBe('DOTDIGITAL_API_URL');
    expect(dotdigital.dataMatching.map((field) => [field.name, field.required])).toEqual([
      ['email', true],
      ['firstName', false],
      ['lastName', false],
      ['fullName', false],
      ['gender', false],
      ['postalCode', false],
    ]);
    // 50,000 rows of even 600 bytes stay far under the 50 MB file limit.
    expect(DOTDIGITAL_BATCH_SIZE * 600).toBeLessThan(40 * 1024 * 1024);
  });

  it('validates settings, secrets and export details', () => {
    expect(dotdigital.connectionSettings.parse({})).toEqual({ region: 'auto' });
    expect(dotdigital.connectionSettings.safeParse({ region: 'r4' }).success).toBe(false);
    expect(dotdigital.connectionSecrets.safeParse({ username: USER }).success).toBe(false);
    expect(dotdigital.connectionSecrets.safeParse({ username: USER, password: PASSWORD }).success).toBe(true);
    expect(dotdigital.exportDetails.safeParse({}).success).toBe(false);
    expect(dotdigital.exportDetails.safeParse({ addressBookId: '123' }).success).toBe(false);
    expect(dotdigital.exportDetails.safeParse({ addressBookId: 123 }).success).toBe(true);
    // Credentials follow apiEndpoint, so only the vendor's hosts are accepted.
    expect(dotdigital.exportDetails.safeParse({ addressBookId: 1, apiEndpoint: 'https://r2-api.dotdigital.com' }).success).toBe(true);
    expect(dotdigital.exportDetails.safeParse({ addressBookId: 1, apiEndpoint: 'https://evil.example.com' }).success).toBe(false);
  });
});

function members(count: number, prefix = 'member'): MappedMember[] {
  return Array.from({ length: count }, (_, index) => ({
    email: `${prefix}${index}@example.com`,
    fields: { firstName: 'Member', lastName: String(index), postalCode: `P${index}` },
  }));
}

type Call = DestinationCall<DotdigitalSettings, DotdigitalSecrets, DotdigitalDetails>;

describe('adapter against the simulator', () => {
  let simulator: DotdigitalSimulator;
  let bookSeq = 0;
  const extra: DotdigitalSimulator[] = [];

  beforeAll(async () => {
    simulator = await startDotdigitalSimulator({
      apiUsers: { [USER]: PASSWORD },
      rateLimit: false,
      importDelayMs: 60,
      notFinishedPolls: 1,
      autoCreateAddressBooks: true,
    });
  });
  afterAll(async () => {
    await simulator?.stop();
    for (const other of extra) await other.stop();
  });
  beforeEach(() => simulator.reset());

  async function another(options: DotdigitalSimulatorOptions): Promise<DotdigitalSimulator> {
    const started = await startDotdigitalSimulator({
      apiUsers: { [USER]: PASSWORD },
      rateLimit: false,
      importDelayMs: 30,
      autoCreateAddressBooks: true,
      ...options,
    });
    extra.push(started);
    return started;
  }

  function call(
    overrides: {
      details?: Partial<DotdigitalDetails>;
      settings?: Partial<DotdigitalSettings>;
      password?: string;
      origin?: string;
      signal?: AbortSignal;
    } = {},
  ): Call {
    bookSeq += 1;
    return {
      settings: { region: 'auto', ...overrides.settings },
      secrets: { username: USER, password: overrides.password ?? PASSWORD },
      details: { addressBookId: 1000 + bookSeq, ...overrides.details },
      apiOrigin: overrides.origin ?? simulator.url,
      signal: overrides.signal,
    };
  }

  it('uploads a batch, polls the import to Finished, and counts every member as succeeded', async () => {
    const target = call();
    const result = await adapter.sendBatch(target, members(250));
    expect(result).toEqual({ succeeded: 250, failures: [] });
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({
      memberCount: 250,
      deliveries: 250,
      duplicates: 0,
      imports: 1,
      activeImports: 0,
    });
    expect({ ...simulator.state.contacts.get('member7@example.com')!.dataFields }).toEqual({
      FIRSTNAME: 'Member',
      LASTNAME: '7',
      POSTCODE: 'P7',
    });
    const routes = simulator.state.counters.byRoute;
    expect(routes['POST /v2/address-books/{addressBookId}/contacts/import/with-merge-option/{mergeOption}']).toBe(1);
    // NotFinished on the first poll (notFinishedPolls: 1), Finished on a later one.
    expect(routes['GET /v2/contacts/import/{importId}']).toBeGreaterThanOrEqual(2);
    expect(routes['GET /v2/contacts/import/{importId}/report-faults']).toBe(1);
    // auto region: the account's endpoint came from account-info.
    expect(routes['GET /v2/account-info']).toBe(1);
  });

  it('reports suppressed and invalid contacts per record and imports the rest', async () => {
    const target = call();
    simulator.state.suppressed.add('member1@example.com');
    const batch = [...members(3), { email: 'no-dot@localhost', fields: { firstName: 'Bad' } }];
    const result = await adapter.sendBatch(target, batch);
    expect(result.succeeded).toBe(2);
    expect(result.failures).toEqual([
      {
        email: 'member1@example.com',
        status: 'skipped',
        category: 'invalidRecord',
        code: 'Globally Suppressed',
        message: "The address is on dotdigital's global suppression list; it was not added.",
      },
      {
        email: 'no-dot@localhost',
        status: 'failed',
        category: 'invalidRecord',
        code: 'Invalid Entries',
        message: 'dotdigital rejected the row as invalid (the email address or a data field value).',
      },
    ]);
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 2 });
  });

  it('re-sending a batch merges into the same contacts; empty cells keep stored values', async () => {
    const target = call();
    await adapter.sendBatch(target, members(20));
    const again = await adapter.sendBatch(target, [
      { email: 'member3@example.com', fields: { lastName: 'Changed' } },
      ...members(20).slice(4),
    ]);
    expect(again).toEqual({ succeeded: 17, failures: [] });
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 20, deliveries: 37 });
    expect({ ...simulator.state.contacts.get('member3@example.com')!.dataFields }).toEqual({
      FIRSTNAME: 'Member',
      LASTNAME: 'Changed',
      POSTCODE: 'P3',
    });
  });

  it('sends a repeated email once and reports the earlier record as skipped', async () => {
    const target = call();
    const result = await adapter.sendBatch(target, [
      { email: 'same@example.com', fields: { firstName: 'Old' } },
      { email: 'other@example.com', fields: {} },
      { email: 'same@example.com', fields: { firstName: 'New' } },
    ]);
    expect(result.succeeded).toBe(2);
    expect(result.failures).toEqual([expect.objectContaining({ email: 'same@example.com', status: 'skipped', code: 'DuplicateInBatch' })]);
    expect(simulator.state.contacts.get('same@example.com')!.dataFields.FIRSTNAME).toBe('New');
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 2, deliveries: 2 });
  });

  it('cuts an oversized batch into several imports, and reports a row no file could hold', async () => {
    const small = createDotdigitalAdapter({ polling: FAST, fileTargetBytes: 1_000 });
    const target = call();
    const result = await small.sendBatch(target, [...members(60), { email: 'huge@example.com', fields: { fullName: 'x'.repeat(2_000) } }]);
    expect(result).toEqual({
      succeeded: 60,
      failures: [
        {
          email: 'huge@example.com',
          status: 'failed',
          category: 'invalidRecord',
          code: 'RowTooLarge',
          message: expect.stringContaining('larger than an import file may hold'),
        },
      ],
    });
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 60, deliveries: 60 });
    expect(simulator.state.counters.imports).toBeGreaterThan(1);
  });

  it('wrong credentials are an auth error carrying the vendor message', async () => {
    const error = await thrown(adapter.sendBatch(call({ password: 'wrong' }), members(1)));
    expect(error).toMatchObject({ category: 'auth', options: { status: 401 } });
    expect(error.message).toContain('Authorization has been denied for this request.');
    expect(simulator.state.counters.unauthorized).toBe(1);
    const tested = await adapter.testConnection(call({ password: 'wrong' }));
    expect(tested.ok).toBe(false);
  });

  it('429 on the upload is a rateLimited error carrying the wait', async () => {
    const target = call({ details: { apiEndpoint: 'https://r1-api.dotdigital.com' } });
    simulator.setFaults({ tooManyRequestsBursts: { every: 1, length: 1 } });
    expect(await adapter.testConnection(target)).toEqual({ ok: true });
    const error = await thrown(adapter.sendBatch(target, members(1)));
    expect(error).toMatchObject({ category: 'rateLimited', retryable: true, options: { status: 429 } });
    // No Retry-After (the vendor documents none): the wait comes from X-RateLimit-Reset, the next second's epoch.
    expect(error.options.retryAfterMs).toBeGreaterThan(0);
    expect(error.options.retryAfterMs).toBeLessThanOrEqual(2000);
    expect(simulator.state.counters.imports).toBe(0);
  });

  it('429 from the per-minute window carries the wait until the window resets', async () => {
    const limited = await another({ rateLimit: { callsPerMinute: 1 }, retryAfterHeader: false });
    const target = call({ origin: limited.url, details: { apiEndpoint: 'https://r1-api.dotdigital.com' } });
    expect(await adapter.testConnection(target)).toEqual({ ok: true });
    const error = await thrown(adapter.sendBatch(target, members(1)));
    expect(error.category).toBe('rateLimited');
    // From X-RateLimit-Reset (epoch seconds): at most a minute away.
    expect(error.options.retryAfterMs).toBeGreaterThan(0);
    expect(error.options.retryAfterMs).toBeLessThanOrEqual(61_000);
  });

  it('429s and 5xx while polling are waited out without uploading again', async () => {
    const target = call({ details: { apiEndpoint: 'https://r1-api.dotdigital.com' } });
    simulator.setFaults({ tooManyRequestsBursts: { every: 2, length: 1 }, serverErrorRate: 0.2, seed: 3 });
    const result = await adapter.sendBatch(target, members(30));
    expect(result).toEqual({ succeeded: 30, failures: [] });
    expect(simulator.state.counters.tooManyRequests + simulator.state.counters.serverErrors).toBeGreaterThan(0);
    expect(simulator.state.counters.imports).toBe(1);
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 30, deliveries: 30 });
  });

  it('a 5xx on the upload is vendorUnavailable and a reset connection is network, both retryable', async () => {
    const target = call({ details: { apiEndpoint: 'https://r1-api.dotdigital.com' } });
    simulator.setFaults({ serverErrorRate: 1 });
    expect(await thrown(adapter.sendBatch(target, members(1)))).toMatchObject({ category: 'vendorUnavailable', retryable: true });
    simulator.setFaults({ connectionResetRate: 1 });
    expect(await thrown(adapter.sendBatch(target, members(1)))).toMatchObject({ category: 'network', retryable: true });
    expect(simulator.state.counters.imports).toBe(0);
  });

  it('a Failed import is a retryable error; the re-sent batch lands once', async () => {
    const target = call();
    simulator.setFaults({ failImportRate: 1 });
    const error = await thrown(adapter.sendBatch(target, members(5)));
    expect(error).toMatchObject({ category: 'vendorUnavailable', retryable: true, options: { code: 'Failed' } });
    expect(error.message).toContain('Failed');
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 0 });
    simulator.setFaults({});
    expect(await adapter.sendBatch(target, members(5))).toEqual({ succeeded: 5, failures: [] });
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 5, deliveries: 5, imports: 2 });
  });

  it('an import still running when polling gives up is resumed, not uploaded again, on the re-send', async () => {
    const patient = createDotdigitalAdapter({ polling: { ...FAST, maxWaitMs: 150 } });
    const target = call();
    simulator.setFaults({ slowImportMs: 500 });
    const error = await thrown(patient.sendBatch(target, members(8)));
    expect(error).toMatchObject({ category: 'vendorUnavailable', retryable: true });
    expect(error.message).toMatch(/still NotFinished/);
    expect(simulator.state.counters.imports).toBe(1);
    // The engine re-sends the batch later: the same import is polled again until it finishes.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await patient.sendBatch(target, members(8))).toEqual({ succeeded: 8, failures: [] });
    expect(simulator.state.counters.imports).toBe(1);
    expect(simulator.inspectAddressBook(target.details.addressBookId)).toMatchObject({ memberCount: 8, deliveries: 8 });
  });

  it('too many active imports is rateLimited with a wait, naming the vendor code', async () => {
    const busy = await another({ maxActiveImports: 1, importDelayMs: 5_000 });
    const target = call({ origin: busy.url });
    const first = fetch(`${busy.url}/v2/address-books/${target.details.addressBookId}/contacts/import`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fileName: 'a.csv', data: Buffer.from('Email\r\na@example.com\r\n').toString('base64') }),
    });
    expect((await first).status).toBe(202);
    const error = await thrown(adapter.sendBatch(target, members(1)));
    expect(error).toMatchObject({
      category: 'rateLimited',
      retryable: true,
      options: { code: 'ERROR_IMPORT_TOOMANYACTIVEIMPORTS', retryAfterMs: 30_000 },
    });
    expect(busy.state.counters.tooManyActiveImports).toBe(1);
  });

  it('aborts while polling when the call is cancelled', async () => {
    const controller = new AbortController();
    simulator.setFaults({ slowImportMs: 2_000 });
    const pending = adapter.sendBatch(call({ signal: controller.signal }), members(2));
    setTimeout(() => controller.abort(new Error('cancelled')), 100);
    await expect(pending).rejects.toThrow('cancelled');
  });

  it('testConnection: ok with good credentials (one account-info call), the vendor reason otherwise', async () => {
    expect(await adapter.testConnection(call())).toEqual({ ok: true });
    expect(simulator.state.counters.byRoute['GET /v2/account-info']).toBe(1);
    const refused = await adapter.testConnection(call({ password: 'nope' }));
    expect(refused.ok === false && refused.reason).toMatch(/Authorization has been denied/);
  });

  it('testConnection and prepareRun name the region to use when the setting is wrong', async () => {
    const european = await another({ accountRegion: 'r2' });
    const wrong = await adapter.testConnection(call({ origin: european.url, settings: { region: 'r1' } }));
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.reason).toMatch(/region r2.*set to region r1.*Set the connection's region to r2 or auto/);
    expect(await adapter.testConnection(call({ origin: european.url, settings: { region: 'r2' } }))).toEqual({ ok: true });
    expect(await adapter.testConnection(call({ origin: european.url }))).toEqual({ ok: true });
    const error = await thrown(
      adapter.prepareRun!(call({ origin: european.url, settings: { region: 'r3' } }), {
        segments: [],
        segmentNames: [],
        mappedFields: ['email'],
      }),
    );
    expect(error).toMatchObject({ category: 'config', options: { code: 'WrongRegion' } });
  });

  it("a 403 from the wrong region's host is a config error naming the region to use", async () => {
    const misrouted = await another({ accountRegion: 'r2', callerRegion: 'r1' });
    const error = await thrown(adapter.sendBatch(call({ origin: misrouted.url, settings: { region: 'r1' } }), members(1)));
    expect(error).toMatchObject({ category: 'config', retryable: false, options: { status: 403, code: 'WrongRegion' } });
    expect(error.message).toContain('https://r2-api.dotdigital.com');
    expect(error.message).toContain("Set the connection's region to r2");
    expect(misrouted.state.counters.forbidden).toBe(1);
  });

  it('prepareRun records the endpoint and checks the address book exists', async () => {
    const target = call();
    const prepared = await adapter.prepareRun!(target, { segments: [], segmentNames: [], mappedFields: ['email'] });
    expect(prepared).toEqual({ ...target.details, apiEndpoint: simulator.url });
    // The prepared endpoint spares the account-info call on every batch.
    await adapter.sendBatch({ ...target, details: prepared }, members(2));
    expect(simulator.state.counters.byRoute['GET /v2/account-info']).toBe(1);

    const strict = await another({ autoCreateAddressBooks: false });
    const error = await thrown(
      adapter.prepareRun!(call({ origin: strict.url }), { segments: [], segmentNames: [], mappedFields: ['email'] }),
    );
    expect(error).toMatchObject({ category: 'config', options: { status: 404, code: 'ERROR_ADDRESSBOOK_NOT_FOUND' } });
    expect(error.message).toMatch(/does not exist/);
    const upload = await thrown(adapter.sendBatch(call({ origin: strict.url }), members(1)));
    expect(upload).toMatchObject({ category: 'config', options: { code: 'ERROR_ADDRESSBOOK_NOT_FOUND' } });
  });
});
