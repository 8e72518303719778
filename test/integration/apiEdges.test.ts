// The API's edges as a new user meets them, over the real stack: every one is answered with
// problem details naming what to fix — media types, unknown routes and methods, HEAD, list
// tokens, unknown settings and secrets, control characters in names, and bounded arrays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { expectProblem, problemPaths } from '../support/apiAssertions.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ seedProfiles: 200, simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } } });
});

afterAll(async () => {
  await stack?.stop();
});

const connectionBody = (extra: Record<string, unknown> = {}) => ({
  name: 'Edges',
  type: 'campaign-monitor',
  secrets: { apiKey: 'any-key' },
  privacyConsent: true,
  ...extra,
});
const EXPORT_ID = 'edges-0000-0000';

describe('request bodies', () => {
  it('are JSON only when the caller says so: no Content-Type, another type or another charset is 415', async () => {
    const rawBody = JSON.stringify(connectionBody());
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'content-type': 'text/plain' }, /application\/json \(got text\/plain\)/],
      [{ 'content-type': 'application/json; charset=iso-8859-1' }, /UTF-8.*not iso-8859-1/],
    ];
    for (const [headers, detail] of cases) {
      const response = await stack.api.request('POST', '/connections', { rawBody, headers });
      expectProblem(response, 415);
      expect(response.body.detail).toMatch(detail);
    }
    // Undici adds text/plain to a string body; a Blob without a type sends no Content-Type at all.
    const untyped = await fetch(`${stack.apiUrl}/connections`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await stack.tokenFor('admin')}` },
      body: new Blob([rawBody]),
    });
    expect(untyped.status).toBe(415);
    expect(((await untyped.json()) as { detail: string }).detail).toMatch(/Content-Type: application\/json/);
    const utf8 = await stack.api.request('POST', '/connections', {
      rawBody,
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    });
    expect(utf8.status, utf8.text).toBe(201);
  });

  it('start a run only as JSON, and the body may be left out', async () => {
    const typed = await stack.api.request('POST', `/exports/${EXPORT_ID}/runs`, {
      rawBody: 'fullResync=true',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(typed, 415);
    const unknownOption = await stack.api.post(`/exports/${EXPORT_ID}/runs`, { fullResync: true, colour: 'red' });
    expectProblem(unknownOption, 400);
    // Without a body it gets as far as looking the export up.
    expectProblem(await stack.api.post(`/exports/${EXPORT_ID}/runs`), 404);
  });
});

describe('routes', () => {
  it('answer an unknown path with a 404 problem', async () => {
    for (const path of ['/nothing-here', '/exports/x/y/z/w', '/']) {
      const response = await stack.api.get(path);
      expectProblem(response, 404);
      expect(response.body.detail).toContain('openapi.json');
    }
  });

  it('answer a wrong method with a 405 problem and Allow', async () => {
    const response = await stack.api.delete('/connections');
    expectProblem(response, 405);
    expect(response.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(response.body.detail).toContain('GET, HEAD, POST');
    const onExport = await stack.api.post(`/exports/${EXPORT_ID}`, {});
    expectProblem(onExport, 405);
    expect(onExport.headers.get('allow')!.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
  });

  it('serve HEAD wherever GET is served: same status and headers, no body', async () => {
    const get = await stack.api.get('/connections');
    const head = await stack.api.request('HEAD', '/connections');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(head.text).toBe('');
    expect((await stack.api.request('HEAD', '/health')).status).toBe(200);
    const unauthenticated = await stack.api.as(undefined).request('HEAD', '/connections');
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.text).toBe('');
    expect((await stack.api.request('HEAD', '/nothing-here')).status).toBe(404);
  });
});

describe('queries', () => {
  it('refuse a continuation token of the export list that it did not give out, as the other lists do', async () => {
    const response = await stack.api.get('/exports?continuationToken=abc');
    expectProblem(response, 400);
    expect(problemPaths(response)).toEqual(['query.continuationToken']);
  });
});

describe('validation', () => {
  it("refuses unknown keys in a connection's settings and secrets, naming the key", async () => {
    const settings = await stack.api.post('/connections', connectionBody({ settings: { clientID: 'typo' } }));
    expectProblem(settings, 400);
    expect(problemPaths(settings)).toEqual(['body.settings']);
    expect(settings.body.detail).toContain('clientID');
    const secrets = await stack.api.post('/connections', connectionBody({ secrets: { apiKey: 'any-key', apikey: 'typo' } }));
    expectProblem(secrets, 400);
    expect(problemPaths(secrets)).toEqual(['body.secrets']);
    expect(secrets.body.detail).toContain('apikey');
    expect(secrets.text).not.toContain('any-key');
    const created = await stack.api.post('/connections', connectionBody({ name: 'Edges update' }));
    const update = await stack.api.patch(`/connections/${created.body.id}`, { settings: { region: 'eu' } });
    expectProblem(update, 400);
    expect(update.body.detail).toContain('region');
  });

  it('refuses names with NUL, CR/LF or other control characters', async () => {
    for (const name of ['a\u0000b', 'line\r\nbreak', 'tab\there', 'bell\u0007', 'sep\u2028x']) {
      const connection = await stack.api.post('/connections', connectionBody({ name }));
      expectProblem(connection, 400);
      expect(problemPaths(connection)).toEqual(['body.name']);
      const renamed = await stack.api.patch(`/exports/${EXPORT_ID}`, { name });
      expectProblem(renamed, 400);
      expect(problemPaths(renamed)).toEqual(['body.name']);
    }
  });

  it('refuses repeated days and a 10,000-item array in validation (400), not in storage (413)', async () => {
    const weekly = (daysOfWeek: string[]) => ({ active: true, mode: 'custom', recurrence: { frequency: 'weekly', daysOfWeek } });
    const repeated = await stack.api.put(`/exports/${EXPORT_ID}/schedule`, weekly(['monday', 'monday']));
    expectProblem(repeated, 400);
    expect(problemPaths(repeated)).toEqual(['body.recurrence.daysOfWeek']);
    const huge = await stack.api.put(`/exports/${EXPORT_ID}/schedule`, weekly(Array.from({ length: 10_000 }, () => 'monday')));
    expectProblem(huge, 400);
    expect(problemPaths(huge)).toContain('body.recurrence.daysOfWeek');
    const segments = await stack.api.patch(`/exports/${EXPORT_ID}`, {
      segments: Array.from({ length: 10_000 }, (_, index) => `Segment_${index}`),
    });
    expectProblem(segments, 400);
    expect(problemPaths(segments)).toEqual(['body.segments']);
  });
});
