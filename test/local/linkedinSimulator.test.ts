// The LinkedIn simulator held to the vendor's behaviour over plain HTTP: paths under /rest, bearer
// auth, the required version headers, DMP segment create/find, BATCH_CREATE with per-element
// statuses and the 5,000 cap, per-minute limits with 429, repeatable faults, control endpoints.
import { describe, expect, it } from 'vitest';
import { startLinkedinSimulator, type Faults, type LinkedinSimulator } from '../../local/simulators/linkedinSimulator.js';
import { useSimulator } from '../support/simulators.js';

const TOKEN = 'simulator-token';
const ACCOUNT = '507404993';
const ACCOUNT_URN = `urn:li:sponsoredAccount:${ACCOUNT}`;
const HASH = 'b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72';
const hashOf = (n: number) => n.toString(16).padStart(64, '0');

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

type Headers_ = Record<string, string>;
const standard = (token: string | null = TOKEN): Headers_ => ({
  ...(token === null ? {} : { authorization: `Bearer ${token}` }),
  'linkedin-version': '202604',
  'x-restli-protocol-version': '2.0.0',
});

async function request(base: string, method: string, path: string, body?: unknown, headers: Headers_ = standard()): Promise<Answer> {
  const all = { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
  const response = await fetch(`${base}${path}`, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const segmentBody = (extra: Record<string, unknown> = {}) => ({
  name: 'All customers',
  account: ACCOUNT_URN,
  type: 'USER',
  sourcePlatform: 'OUTFLOW',
  sourceSegmentId: 'Segment_AllCustomers',
  accessPolicy: 'PRIVATE',
  destinations: [{ destination: 'LINKEDIN' }],
  ...extra,
});

const user = (idValue: string, extra: Record<string, unknown> = {}) => ({
  action: 'ADD',
  userIds: [{ idType: 'SHA256_EMAIL', idValue }],
  ...extra,
});
const batch = { ...standard(), 'x-restli-method': 'BATCH_CREATE' };

describe('LinkedIn simulator', () => {
  let simulator: LinkedinSimulator;
  const call = (method: string, path: string, body?: unknown, headers?: Headers_) => request(simulator.url, method, path, body, headers);

  async function created(extra: Record<string, unknown> = {}): Promise<string> {
    const answer = await call('POST', '/rest/dmpSegments', segmentBody(extra));
    expect(answer.status).toBe(201);
    return answer.headers.get('x-restli-id')!;
  }

  useSimulator(async () => (simulator = await startLinkedinSimulator({ accessTokens: [TOKEN], adAccounts: [ACCOUNT], rateLimit: false })));

  it('listens on 127.0.0.1 and answers only under /rest', async () => {
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call('GET', `/rest/dmpSegments?q=account&account=${encodeURIComponent(ACCOUNT_URN)}`)).status).toBe(200);
    expect((await call('GET', `/v2/dmpSegments?q=account&account=${encodeURIComponent(ACCOUNT_URN)}`)).status).toBe(404);
  });

  it("requires a known bearer token, answering 401 with LinkedIn's body", async () => {
    for (const token of [null, 'unknown-token']) {
      const answer = await call(
        'GET',
        `/rest/dmpSegments?q=account&account=${encodeURIComponent(ACCOUNT_URN)}`,
        undefined,
        standard(token),
      );
      expect(answer).toMatchObject({ status: 401, body: { serviceErrorCode: 65600, message: 'Invalid access token', status: 401 } });
    }
    expect(simulator.state.counters.unauthorized).toBe(2);
  });

  it('requires LinkedIn-Version (YYYYMM) and X-Restli-Protocol-Version: 2.0.0', async () => {
    const path = `/rest/dmpSegments?q=account&account=${encodeURIComponent(ACCOUNT_URN)}`;
    const { 'linkedin-version': _version, ...noVersion } = standard();
    expect(await call('GET', path, undefined, noVersion)).toMatchObject({ status: 400, body: { code: 'VERSION_MISSING' } });
    expect(await call('GET', path, undefined, { ...standard(), 'linkedin-version': 'latest' })).toMatchObject({
      status: 426,
      body: { code: 'NONEXISTENT_VERSION' },
    });
    const { 'x-restli-protocol-version': _protocol, ...noProtocol } = standard();
    expect((await call('GET', path, undefined, noProtocol)).status).toBe(400);
    expect((await call('GET', path, undefined, { ...standard(), 'x-restli-protocol-version': '1.0.0' })).status).toBe(400);
    expect(simulator.state.counters.badRequests).toBe(4);
  });

  it('creates DMP segments (id in x-restli-id), validates them, and refuses a second one for the same source segment', async () => {
    const answer = await call('POST', '/rest/dmpSegments', segmentBody());
    expect(answer.status).toBe(201);
    const id = answer.headers.get('x-restli-id')!;
    expect(id).toMatch(/^\d+$/);
    expect(answer.headers.get('location')).toBe(`/dmpSegments/${id}`);
    expect((await call('GET', `/rest/dmpSegments/${id}`)).body).toMatchObject({
      id: Number(id),
      name: 'All customers',
      account: ACCOUNT_URN,
      type: 'USER',
      sourceSegmentId: 'Segment_AllCustomers',
      destinations: [{ destination: 'LINKEDIN', status: 'BUILDING', audienceSize: 0 }],
    });
    expect((await call('POST', '/rest/dmpSegments', segmentBody())).status).toBe(409);
    expect((await call('POST', '/rest/dmpSegments', segmentBody({ sourcePlatform: 'OTHER' }))).status).toBe(201);

    expect((await call('POST', '/rest/dmpSegments', segmentBody({ name: ' ', sourceSegmentId: 'x1' }))).status).toBe(422);
    expect((await call('POST', '/rest/dmpSegments', segmentBody({ type: 'ACCOUNT', sourceSegmentId: 'x2' }))).status).toBe(422);
    expect((await call('POST', '/rest/dmpSegments', segmentBody({ destinations: [], sourceSegmentId: 'x3' }))).status).toBe(422);
    expect(
      await call('POST', '/rest/dmpSegments', segmentBody({ account: 'urn:li:sponsoredAccount:1', sourceSegmentId: 'x4' })),
    ).toMatchObject({ status: 403, body: { code: 'ACCESS_DENIED' } });
    expect(simulator.state.counters.segmentsCreated).toBe(2);
  });

  it('finds segments by account, source segment and platform, ten a page unless asked', async () => {
    for (let index = 0; index < 12; index++) await created({ name: `S${index}`, sourceSegmentId: `src-${index}` });
    const base = `/rest/dmpSegments?q=account&account=${encodeURIComponent(ACCOUNT_URN)}`;
    const first = await call('GET', base);
    expect(first.body.elements).toHaveLength(10);
    expect(first.body.paging).toEqual({ start: 0, count: 10, total: 12, links: [] });
    expect((await call('GET', `${base}&start=10`)).body.elements.map((segment: { name: string }) => segment.name)).toEqual(['S10', 'S11']);
    const one = await call('GET', `${base}&sourceSegmentId=src-7&sourcePlatform=OUTFLOW`);
    expect(one.body.elements.map((segment: { name: string }) => segment.name)).toEqual(['S7']);
    expect((await call('GET', `${base}&sourceSegmentId=src-7&sourcePlatform=OTHER`)).body.elements).toEqual([]);
    expect((await call('GET', `/rest/dmpSegments?q=name&account=${encodeURIComponent(ACCOUNT_URN)}`)).status).toBe(400);
    expect((await call('GET', `/rest/dmpSegments?q=account&account=${encodeURIComponent('urn:li:sponsoredAccount:42')}`)).status).toBe(403);
  });

  it('adds users with BATCH_CREATE, one status per element, upserting by hashed email', async () => {
    const id = await created();
    const elements = [
      user(HASH, { firstName: 'Ada', lastName: 'Lovelace', country: 'GB' }),
      user('ada@example.com'),
      user(HASH.slice(1)),
      user(hashOf(2), { firstName: 'x'.repeat(36) }),
      user(hashOf(3), { title: 't'.repeat(51) }),
      user(hashOf(4), { country: 'Norway' }),
      { action: 'ADD', userIds: [] },
      { action: 'UPSERT', userIds: [{ idType: 'SHA256_EMAIL', idValue: hashOf(5) }] },
      user(hashOf(6), { company: 'c'.repeat(50), title: 't'.repeat(50) }),
    ];
    const answer = await call('POST', `/rest/dmpSegments/${id}/users`, { elements }, batch);
    expect(answer.status).toBe(200);
    expect(answer.body.elements.map((element: { status: number }) => element.status)).toEqual([
      201, 400, 400, 400, 400, 400, 400, 400, 201,
    ]);
    expect(answer.body.elements[1].error.message).toMatch(/SHA-256/);
    expect(answer.body.elements[3].error.message).toMatch(/firstName is longer than 35/);
    expect(answer.body.elements[5].error.message).toMatch(/ISO 3166/);
    expect(simulator.inspectSegment(id)).toMatchObject({ memberCount: 2, deliveries: 2, duplicates: 0, rejectedElements: 7 });

    await call(
      'POST',
      `/rest/dmpSegments/${id}/users`,
      { elements: [user(HASH.toUpperCase(), { firstName: 'Augusta' }), { ...user(hashOf(6)), action: 'REMOVE' }] },
      batch,
    );
    const inspection = simulator.inspectSegment(id)!;
    expect(inspection).toMatchObject({ memberCount: 1, deliveries: 3, duplicates: 1, duplicateKeys: [HASH], removals: 1 });
    expect(simulator.state.segments.get(id)!.members.get(HASH)).toMatchObject({ firstName: 'Augusta' });
    expect((await call('GET', `/rest/dmpSegments/${id}`)).body).toMatchObject({
      matchedCount: 1,
      destinations: [{ status: 'READY', audienceSize: 1 }],
    });
  });

  it('refuses a batch without BATCH_CREATE, an empty one, over 5,000 companies (users: no cap published, none by default) and users on a company list', async () => {
    const id = await created();
    expect((await call('POST', `/rest/dmpSegments/${id}/users`, { elements: [user(HASH)] })).status).toBe(400);
    expect((await call('POST', `/rest/dmpSegments/${id}/users`, { elements: [] }, batch)).status).toBe(400);
    const manyUsers = Array.from({ length: 5001 }, (_, index) => user(hashOf(index)));
    expect((await call('POST', `/rest/dmpSegments/${id}/users`, { elements: manyUsers }, batch)).status).toBe(200);
    const companyList = await created({ type: 'COMPANY', sourceSegmentId: 'Segment_Accounts' });
    const tooManyCompanies = Array.from({ length: 5001 }, (_, index) => ({ action: 'ADD', companyName: `Company ${index}` }));
    const over = await call('POST', `/rest/dmpSegments/${companyList}/companies`, { elements: tooManyCompanies }, batch);
    expect(over).toMatchObject({ status: 400, body: { message: 'Batch size 5001 exceeds the maximum of 5000 elements' } });
    expect((await call('POST', `/rest/dmpSegments/${companyList}/users`, { elements: [user(HASH)] }, batch)).status).toBe(400);
    expect((await call('POST', '/rest/dmpSegments/123/users', { elements: [user(HASH)] }, batch)).status).toBe(404);
    expect(simulator.inspectSegment(id)!.memberCount).toBe(5001);
  });

  it('adds companies: a domain must be a domain, a URN an organization URN; same identifiers are one company', async () => {
    const id = await created({ type: 'COMPANY', sourceSegmentId: 'Segment_Accounts' });
    const elements = [
      { action: 'ADD', companyName: 'Acme', companyWebsiteDomain: 'acme.com' },
      { action: 'ADD', companyName: 'Acme', companyWebsiteDomain: 'acme.no' },
      { action: 'ADD', companyName: 'ACME', companyWebsiteDomain: 'acme.com' },
      { action: 'ADD', companyName: 'Acme', companyWebsiteDomain: 'https://www.acme.com' },
      { action: 'ADD', companyName: 'Acme', organizationUrn: '1035' },
      { action: 'ADD' },
    ];
    const answer = await call('POST', `/rest/dmpSegments/${id}/companies`, { elements }, batch);
    expect(answer.body.elements.map((element: { status: number }) => element.status)).toEqual([201, 201, 201, 400, 400, 400]);
    expect(simulator.inspectSegment(id)).toMatchObject({ type: 'COMPANY', memberCount: 2, deliveries: 3, duplicates: 1 });
  });

  it('a new segment answers 404 until it is available', async () => {
    const slow = await startLinkedinSimulator({ rateLimit: false, segmentReadyDelayMs: 200 });
    try {
      const answer = await request(slow.url, 'POST', '/rest/dmpSegments', segmentBody(), standard('any'));
      const id = answer.headers.get('x-restli-id')!;
      const early = await request(
        slow.url,
        'POST',
        `/rest/dmpSegments/${id}/users`,
        { elements: [user(HASH)] },
        { ...standard('any'), 'x-restli-method': 'BATCH_CREATE' },
      );
      expect(early).toMatchObject({ status: 404, body: { message: `Could not find DMP segment with ID ${id}` } });
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(
        (
          await request(
            slow.url,
            'POST',
            `/rest/dmpSegments/${id}/users`,
            { elements: [user(HASH)] },
            { ...standard('any'), 'x-restli-method': 'BATCH_CREATE' },
          )
        ).status,
      ).toBe(200);
    } finally {
      await slow.stop();
    }
  });

  it('counts streaming calls per token in one-minute windows, users and companies apart, with 429 (and Retry-After when asked: LinkedIn documents none)', async () => {
    const limited = await startLinkedinSimulator({ rateLimit: { usersPerMinute: 2, companiesPerMinute: 1 }, retryAfterHeader: true });
    try {
      const post = (path: string, body: unknown, token = 'member-a') =>
        request(limited.url, 'POST', path, body, { ...standard(token), 'x-restli-method': 'BATCH_CREATE' });
      const users = (await request(limited.url, 'POST', '/rest/dmpSegments', segmentBody(), standard('member-a'))).headers.get(
        'x-restli-id',
      );
      const firms = (
        await request(
          limited.url,
          'POST',
          '/rest/dmpSegments',
          segmentBody({ type: 'COMPANY', sourceSegmentId: 'acc' }),
          standard('member-a'),
        )
      ).headers.get('x-restli-id');
      expect((await post(`/rest/dmpSegments/${users}/users`, { elements: [user(HASH)] })).status).toBe(200);
      expect((await post(`/rest/dmpSegments/${users}/users`, { elements: [user(HASH)] })).status).toBe(200);
      const limitedAnswer = await post(`/rest/dmpSegments/${users}/users`, { elements: [user(HASH)] });
      expect(limitedAnswer.status).toBe(429);
      expect(Number(limitedAnswer.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
      expect((await post(`/rest/dmpSegments/${firms}/companies`, { elements: [{ action: 'ADD', companyName: 'Acme' }] })).status).toBe(200);
      expect((await post(`/rest/dmpSegments/${firms}/companies`, { elements: [{ action: 'ADD', companyName: 'Acme' }] })).status).toBe(429);
      // Another member has a budget of its own; segment calls are not counted.
      expect((await post(`/rest/dmpSegments/${users}/users`, { elements: [user(HASH)] }, 'member-b')).status).toBe(200);
      expect((await request(limited.url, 'GET', `/rest/dmpSegments/${users}`, undefined, standard('member-a'))).status).toBe(200);
      expect(limited.state.counters.tooManyRequests).toBe(2);
    } finally {
      await limited.stop();
    }
  });

  it('injects the same faults for the same seed, before auth', async () => {
    const path = `/rest/dmpSegments?q=account&account=${encodeURIComponent(ACCOUNT_URN)}`;
    const statuses = async (faults: Faults, count: number) => {
      simulator.setFaults(faults);
      const seen: number[] = [];
      for (let index = 0; index < count; index++) seen.push((await call('GET', path, undefined, standard('not-even-a-token'))).status);
      return seen;
    };
    const first = await statuses({ serverErrorRate: 0.5, seed: 7 }, 20);
    const second = await statuses({ serverErrorRate: 0.5, seed: 7 }, 20);
    expect(first).toEqual(second);
    expect(new Set(first)).toEqual(new Set([500, 401]));
    expect(await statuses({ tooManyRequestsBursts: { every: 2, length: 1 } }, 6)).toEqual([401, 401, 429, 401, 401, 429]);

    simulator.setFaults({ connectionResetRate: 1 });
    await expect(fetch(`${simulator.url}${path}`, { headers: standard() })).rejects.toThrow();
    simulator.setFaults({ latencyMs: 60 });
    const started = Date.now();
    await call('GET', path);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(simulator.state.counters).toMatchObject({ connectionResets: 1, tooManyRequests: 2 });
  });

  it('control endpoints: faults, segment inspection, state and reset', async () => {
    expect((await call('POST', '/_simulator/faults', { serverErrorRate: 0.25, seed: 3 }, {})).body).toEqual({
      faults: { serverErrorRate: 0.25, seed: 3 },
    });
    expect((await call('GET', '/_simulator/faults', undefined, {})).body).toEqual({ faults: { serverErrorRate: 0.25, seed: 3 } });
    await call('POST', '/_simulator/faults', {}, {});
    const id = await created();
    await call('POST', `/rest/dmpSegments/${id}/users`, { elements: [user(HASH), user(hashOf(1))] }, batch);
    expect((await call('GET', `/_simulator/segments/${id}`, undefined, {})).body).toEqual({
      id,
      name: 'All customers',
      type: 'USER',
      account: ACCOUNT_URN,
      sourcePlatform: 'OUTFLOW',
      sourceSegmentId: 'Segment_AllCustomers',
      memberCount: 2,
      deliveries: 2,
      duplicates: 0,
      duplicateKeys: [],
      removals: 0,
      rejectedElements: 0,
    });
    expect((await call('GET', '/_simulator/segments/nope', undefined, {})).status).toBe(404);
    expect(simulator.findSegment('Segment_AllCustomers')?.id).toBe(id);
    const state = await call('GET', '/_simulator/state', undefined, {});
    expect(state.body.counters).toMatchObject({ segmentsCreated: 1, batches: 1, elementsAccepted: 2 });
    await call('POST', '/_simulator/reset', undefined, {});
    expect(simulator.state.segments.size).toBe(0);
    expect(simulator.state.counters.requests).toBe(0);
  });
});
