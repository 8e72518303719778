// The dotdigital simulator held to the vendor's behaviour over plain HTTP: paths, Basic auth,
// account-info, address books, asynchronous imports (multipart and JSON base64) with their states,
// report and report-faults, merge options, the 25-active-imports cap, the per-minute limit with 429
// and X-RateLimit headers, region refusal, repeatable faults and the control endpoints.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startDotdigitalSimulator,
  type DotdigitalSimulator,
  type DotdigitalSimulatorOptions,
} from '../../local/simulators/dotdigitalSimulator.js';
import { toFileMedia } from '../../shared/destinations/dotdigitalImportFile.js';

const USER = 'apiuser-sim@apiconnector.com';
const PASSWORD = 'sim-password';
const auth = (user = USER, password = PASSWORD) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function request(
  base: string,
  method: string,
  path: string,
  options: { json?: unknown; body?: Buffer; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...auth(), ...options.headers };
  let body: string | Buffer | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  if (options.contentType) headers['content-type'] = options.contentType;
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  const parsed = (response.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text;
  return { status: response.status, headers: response.headers, body: parsed, text };
}

const jsonFile = (csv: string, fileName = 'contacts.csv') => ({ fileName, data: Buffer.from(csv, 'utf8').toString('base64') });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('dotdigital simulator', () => {
  let simulator: DotdigitalSimulator;
  const others: DotdigitalSimulator[] = [];
  const call = (method: string, path: string, options?: Parameters<typeof request>[3]) => request(simulator.url, method, path, options);

  async function start(options: DotdigitalSimulatorOptions): Promise<DotdigitalSimulator> {
    const started = await startDotdigitalSimulator({
      apiUsers: { [USER]: PASSWORD },
      rateLimit: false,
      autoCreateAddressBooks: true,
      ...options,
    });
    others.push(started);
    return started;
  }

  /** Polls an import until it leaves NotFinished (bounded). */
  async function settled(base: string, id: string): Promise<string> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const answer = await request(base, 'GET', `/v2/contacts/import/${id}`);
      if (answer.body.status !== 'NotFinished') return answer.body.status;
      await sleep(20);
    }
    throw new Error(`import ${id} did not finish`);
  }

  beforeAll(async () => {
    simulator = await startDotdigitalSimulator({
      apiUsers: { [USER]: PASSWORD },
      rateLimit: false,
      importDelayMs: 50,
      notFinishedPolls: 1,
      autoCreateAddressBooks: true,
    });
  });
  afterAll(async () => {
    await simulator?.stop();
    for (const other of others) await other.stop();
  });
  beforeEach(() => simulator.reset());

  it('listens on 127.0.0.1; account-info names its own origin, or the regional host of accountRegion', async () => {
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const info = await call('GET', '/v2/account-info');
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      id: simulator.state.accountId,
      properties: expect.arrayContaining([{ name: 'ApiEndpoint', type: 'String', value: simulator.url }]),
    });
    const european = await start({ accountRegion: 'r2' });
    expect((await request(european.url, 'GET', '/v2/account-info')).body.properties).toContainEqual({
      name: 'ApiEndpoint',
      type: 'String',
      value: 'https://r2-api.dotdigital.com',
    });
  });

  it('requires Basic auth with a known API user, answering 401 with the vendor message', async () => {
    for (const headers of [{ authorization: '' }, auth(USER, 'wrong'), auth('someone@apiconnector.com', PASSWORD)]) {
      const answer = await call('GET', '/v2/account-info', { headers });
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ message: 'Authorization has been denied for this request.' });
    }
    expect(simulator.state.counters.unauthorized).toBe(3);
  });

  it('answers 403 to a client configured for another region, except account-info', async () => {
    const misrouted = await start({ accountRegion: 'r2', callerRegion: 'r1' });
    expect((await request(misrouted.url, 'GET', '/v2/account-info')).status).toBe(200);
    const refused = await request(misrouted.url, 'GET', '/v2/address-books/5');
    expect(refused).toMatchObject({ status: 403, body: { message: 'Forbidden: Access is denied.' } });
  });

  it('address books: created on first use, or 404 ERROR_ADDRESSBOOK_NOT_FOUND when auto-creation is off', async () => {
    expect((await call('GET', '/v2/address-books/42')).body).toEqual({
      id: 42,
      name: 'Address book 42',
      visibility: 'Private',
      contacts: 0,
    });
    const strict = await start({ autoCreateAddressBooks: false });
    expect(await request(strict.url, 'GET', '/v2/address-books/42')).toMatchObject({
      status: 404,
      body: { message: 'Error: ERROR_ADDRESSBOOK_NOT_FOUND' },
    });
    const upload = await request(strict.url, 'POST', '/v2/address-books/42/contacts/import', {
      json: jsonFile('Email\r\na@example.com\r\n'),
    });
    expect(upload).toMatchObject({ status: 404, body: { message: 'Error: ERROR_ADDRESSBOOK_NOT_FOUND' } });
    expect((await call('GET', '/v2/address-books/abc')).status).toBe(400);
  });

  it('imports a JSON base64 file asynchronously: NotFinished, then Finished, then report and report-faults', async () => {
    const csv =
      'Email,FirstName,LASTNAME,Postcode,Loyalty\r\nada@example.com,Ada,Lovelace,W1,Gold\r\nbroken@localhost,Bad,Row,X1,\r\nAda@Example.com,Again,Dup,W2,\r\nalan@example.com,Alan,"Turing, A.",M13,\r\n';
    const started = await call('POST', '/v2/address-books/7/contacts/import', { json: jsonFile(csv) });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'NotFinished' });
    const id = started.body.id as string;
    expect(await call('GET', `/v2/contacts/import/${id}/report`)).toMatchObject({
      status: 404,
      body: { message: 'Error: ERROR_IMPORT_REPORT_NOT_FOUND' },
    });
    // notFinishedPolls: 1 — the first poll always answers NotFinished.
    expect((await call('GET', `/v2/contacts/import/${id}`)).body).toEqual({ id, status: 'NotFinished' });
    expect(await settled(simulator.url, id)).toBe('Finished');

    const report = await call('GET', `/v2/contacts/import/${id}/report`);
    expect(report.body).toMatchObject({ newContacts: 2, updatedContacts: 0, invalidEntries: 1, duplicateEmails: 1, globallySuppressed: 0 });
    const faults = await call('GET', `/v2/contacts/import/${id}/report-faults`);
    expect(faults.status).toBe(200);
    expect(faults.headers.get('content-type')).toBe('application/octet-stream');
    expect(faults.text).toBe(
      'Reason,email,firstname,lastname,loyalty,postcode\r\nInvalid Entries,broken@localhost,Bad,Row,,X1\r\nDuplicate,Ada@Example.com,Again,Dup,,W2\r\n',
    );

    expect(simulator.inspectAddressBook(7)).toMatchObject({ memberCount: 2, deliveries: 2, duplicates: 0, imports: 1, activeImports: 0 });
    // Columns map to data fields by name, whatever the casing (the vendor's rule).
    expect({ ...simulator.state.contacts.get('alan@example.com')!.dataFields }).toEqual({
      FIRSTNAME: 'Alan',
      LASTNAME: 'Turing, A.',
      POSTCODE: 'M13',
    });
    expect((await call('GET', '/v2/address-books/7')).body.contacts).toBe(2);
  });

  it('imports the JSON ApiFileMedia body the way the adapter sends it', async () => {
    const media = toFileMedia(Buffer.from('Email,FIRSTNAME\r\nsoren@example.dk,Søren\r\n'), 'batch.csv');
    const started = await call('POST', '/v2/address-books/8/contacts/import/with-merge-option/OnlyOverwriteIfNotEmpty', { json: media });
    expect(started.status).toBe(202);
    expect(await settled(simulator.url, started.body.id)).toBe('Finished');
    expect(simulator.state.contacts.get('soren@example.dk')!.dataFields.FIRSTNAME).toBe('Søren');
    expect(simulator.state.imports.get(started.body.id)!.fileName).toBe('batch.csv');
  });

  it('merge options: Overwrite clears with empty cells, OnlyOverwriteIfNotEmpty keeps, OnlyOverwriteIfContactDataNotPopulated fills only gaps', async () => {
    const run = async (path: string, csv: string) => settled(simulator.url, (await call('POST', path, { json: jsonFile(csv) })).body.id);
    await run('/v2/address-books/9/contacts/import', 'Email,FIRSTNAME,LASTNAME\r\nada@example.com,Ada,Lovelace\r\n');
    await run(
      '/v2/address-books/9/contacts/import/with-merge-option/OnlyOverwriteIfNotEmpty',
      'Email,FIRSTNAME,LASTNAME\r\nada@example.com,,King\r\n',
    );
    expect({ ...simulator.state.contacts.get('ada@example.com')!.dataFields }).toEqual({ FIRSTNAME: 'Ada', LASTNAME: 'King' });
    await run('/v2/address-books/9/contacts/import/with-merge-option/2', 'Email,FIRSTNAME,GENDER\r\nada@example.com,Augusta,Female\r\n');
    expect({ ...simulator.state.contacts.get('ada@example.com')!.dataFields }).toEqual({
      FIRSTNAME: 'Ada',
      LASTNAME: 'King',
      GENDER: 'Female',
    });
    await run(
      '/v2/address-books/9/contacts/import/with-merge-option/Overwrite',
      'Email,FIRSTNAME,LASTNAME\r\nada@example.com,Augusta,\r\n',
    );
    expect({ ...simulator.state.contacts.get('ada@example.com')!.dataFields }).toEqual({ FIRSTNAME: 'Augusta', GENDER: 'Female' });
    expect(simulator.inspectAddressBook(9)).toMatchObject({ memberCount: 1, deliveries: 4, duplicates: 1 });
    expect(
      (
        await call('POST', '/v2/address-books/9/contacts/import/with-merge-option/Sometimes', {
          json: jsonFile('Email\r\na@example.com\r\n'),
        })
      ).status,
    ).toBe(400);
  });

  it('refuses a file without an Email column, ends unreadable files InvalidFileFormat, and answers 413 over the size limit', async () => {
    const noEmail = await call('POST', '/v2/address-books/10/contacts/import', { json: jsonFile('Name\r\nAda\r\n') });
    expect(noEmail).toMatchObject({ status: 400, body: { message: 'The file does not contain an Email column. ERROR_NO_EMAIL_COLUMN' } });
    const broken = await call('POST', '/v2/address-books/10/contacts/import', { json: jsonFile('Email\r\n"unclosed@example.com\r\n') });
    expect(await settled(simulator.url, broken.body.id)).toBe('InvalidFileFormat');
    const excel = await call('POST', '/v2/address-books/10/contacts/import', { json: jsonFile('not really excel', 'contacts.xlsx') });
    expect(await settled(simulator.url, excel.body.id)).toBe('InvalidFileFormat');
    expect((await call('GET', `/v2/contacts/import/${excel.body.id}/report-faults`)).text).toBe('Reason,email\r\n');
    const small = await start({ maxFileBytes: 100 });
    const tooBig = await request(small.url, 'POST', '/v2/address-books/10/contacts/import', {
      json: jsonFile(`Email\r\n${'a'.repeat(120)}@example.com\r\n`),
    });
    expect(tooBig.status).toBe(413);
    expect(await call('GET', '/v2/contacts/import/00000000-0000-0000-0000-000000000000')).toMatchObject({
      status: 404,
      body: { message: 'Error: ERROR_IMPORT_NOT_FOUND' },
    });
  });

  it('allows 25 active imports per account; the 26th gets ERROR_IMPORT_TOOMANYACTIVEIMPORTS until some finish', async () => {
    const busy = await start({ importDelayMs: 1500 });
    const upload = () =>
      request(busy.url, 'POST', '/v2/address-books/11/contacts/import', { json: jsonFile('Email\r\na@example.com\r\n') });
    const started = await Promise.all(Array.from({ length: 25 }, upload));
    expect(started.every((answer) => answer.status === 202)).toBe(true);
    const refused = await upload();
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('ERROR_IMPORT_TOOMANYACTIVEIMPORTS');
    expect(busy.state.counters.tooManyActiveImports).toBe(1);
    await sleep(1550);
    expect((await upload()).status).toBe(202);
  });

  it('limits calls per account per minute: 429 with X-RateLimit headers (Reset in epoch seconds) and no Retry-After (none documented)', async () => {
    const limited = await start({ rateLimit: { callsPerMinute: 3 } });
    const answers = [];
    for (let index = 0; index < 4; index++) answers.push(await request(limited.url, 'GET', '/v2/account-info'));
    expect(answers.slice(0, 3).map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(answers[0]!.headers.get('x-ratelimit-limit')).toBe('3');
    expect(answers[0]!.headers.get('x-ratelimit-remaining')).toBe('2');
    const last = answers[3]!;
    expect(last.status).toBe(429);
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    const reset = Number(last.headers.get('x-ratelimit-reset'));
    expect(reset * 1000).toBeGreaterThan(Date.now());
    expect(reset * 1000).toBeLessThanOrEqual(Date.now() + 61_000);
    expect(last.headers.get('retry-after')).toBeNull();
    expect(limited.state.counters.tooManyRequests).toBe(1);
  });

  it('replays the same faults for the same seed; bursts of 429, resets, Failed and slow imports', async () => {
    const pattern = async () => {
      const statuses: number[] = [];
      for (let index = 0; index < 12; index++) statuses.push((await call('GET', '/v2/account-info')).status);
      return statuses;
    };
    simulator.setFaults({ serverErrorRate: 0.4, seed: 42 });
    const first = await pattern();
    simulator.setFaults({ serverErrorRate: 0.4, seed: 42 });
    expect(await pattern()).toEqual(first);
    expect(first).toContain(500);
    expect(first).toContain(200);

    const viaHttp = await call('POST', '/_simulator/faults', { json: { tooManyRequestsBursts: { every: 2, length: 1 } } });
    expect(viaHttp.body).toEqual({ faults: { tooManyRequestsBursts: { every: 2, length: 1 } } });
    expect((await pattern()).slice(0, 6)).toEqual([200, 200, 429, 200, 200, 429]);

    simulator.setFaults({ connectionResetRate: 1 });
    await expect(fetch(`${simulator.url}/v2/account-info`, { headers: auth() })).rejects.toThrow();

    simulator.setFaults({ failImportRate: 1 });
    const failed = await call('POST', '/v2/address-books/12/contacts/import', { json: jsonFile('Email\r\na@example.com\r\n') });
    expect(await settled(simulator.url, failed.body.id)).toBe('Failed');
    expect(simulator.inspectAddressBook(12)).toMatchObject({ memberCount: 0 });

    simulator.setFaults({ slowImportMs: 300 });
    const slow = await call('POST', '/v2/address-books/12/contacts/import', { json: jsonFile('Email\r\na@example.com\r\n') });
    await sleep(150);
    await call('GET', `/v2/contacts/import/${slow.body.id}`);
    expect((await call('GET', `/v2/contacts/import/${slow.body.id}`)).body.status).toBe('NotFinished');
    expect(await settled(simulator.url, slow.body.id)).toBe('Finished');
  });

  it('reports suppressed addresses as Globally Suppressed', async () => {
    simulator.state.suppressed.add('gone@example.com');
    const started = await call('POST', '/v2/address-books/13/contacts/import', {
      json: jsonFile('Email\r\ngone@example.com\r\nkept@example.com\r\n'),
    });
    await settled(simulator.url, started.body.id);
    expect((await call('GET', `/v2/contacts/import/${started.body.id}/report-faults`)).text).toBe(
      'Reason,email\r\nGlobally Suppressed,gone@example.com\r\n',
    );
    expect((await call('GET', `/v2/contacts/import/${started.body.id}/report`)).body).toMatchObject({
      newContacts: 1,
      globallySuppressed: 1,
    });
  });

  it('control endpoints: inspection by address book, state, reset', async () => {
    const started = await call('POST', '/v2/address-books/14/contacts/import', {
      json: jsonFile('Email\r\na@example.com\r\nb@example.com\r\n'),
    });
    await settled(simulator.url, started.body.id);
    const inspection = await fetch(`${simulator.url}/_simulator/address-books/14`).then((response) => response.json());
    expect(inspection).toEqual({
      addressBookId: 14,
      name: 'Address book 14',
      memberCount: 2,
      deliveries: 2,
      duplicates: 0,
      duplicateEmails: [],
      imports: 1,
      activeImports: 0,
    });
    expect((await fetch(`${simulator.url}/_simulator/address-books/99`)).status).toBe(404);
    const state = await fetch(`${simulator.url}/_simulator/state`).then((response) => response.json());
    expect(state).toMatchObject({ contacts: 2, activeImports: 0, counters: { imports: 1, importedContacts: 2 } });
    await fetch(`${simulator.url}/_simulator/reset`, { method: 'POST' });
    expect(simulator.state.contacts.size).toBe(0);
    expect(simulator.inspectAddressBook(14)).toBeUndefined();
    expect((await call('GET', '/v2/unknown')).status).toBe(404);
  });
});
