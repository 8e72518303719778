// Exports over the real stack: data matching and details validated against the destination and
// the lake, permissions per caller, search/sort/paging, duplicate, disconnect, save vs save and
// run, ETags with 412 and audited last-writer-wins, the audit log, and the lake's entities.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import type { ApiClient } from '../support/apiClient.js';
import { expectProblem, expectSecretsNowhere, problemPaths } from '../support/apiAssertions.js';

const API_KEY = 'cm-exports-key-3c9e1a7b20';

let stack: TestStack;
let contributor: ApiClient;
let viewer: ApiClient;
let sharedConnection: string;
let adminsOnlyConnection: string;

const definition = (name: string, connectionId: string, extra: Record<string, unknown> = {}) => ({
  name,
  connectionId,
  segments: ['Segment_AllCustomers'],
  mapping: { email: 'Email', firstName: 'FirstName' },
  details: { listId: `list-${name.toLowerCase().replace(/\W+/g, '-')}` },
  ...extra,
});

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: 500,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { apiKeys: [API_KEY], rateLimit: false } },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 100, burst: 100 } }) },
  });
  contributor = stack.api.as(await stack.tokenFor('contributor', 'carol'));
  viewer = stack.api.as(await stack.tokenFor('viewer', 'victor'));
  const connection = (name: string, sharing: string) =>
    stack.api.post('/connections', { name, type: 'campaign-monitor', secrets: { apiKey: API_KEY }, sharing, privacyConsent: true });
  sharedConnection = (await connection('Shared CM', 'contributors')).body.id;
  adminsOnlyConnection = (await connection('Private CM', 'adminsOnly')).body.id;
});

afterAll(async () => {
  await stack?.stop();
});

describe('validating an export', () => {
  it('names the field and the attribute when the mapping is wrong', async () => {
    const unknownAttribute = await stack.api.post(
      '/exports',
      definition('Bad attribute', sharedConnection, { mapping: { email: 'Emial' } }),
    );
    expectProblem(unknownAttribute, 400);
    expect(unknownAttribute.body.errors).toEqual([
      { path: 'body.mapping.email', message: expect.stringContaining("attribute 'Emial' does not exist in segment 'All customers'") },
    ]);

    const unknownField = await stack.api.post(
      '/exports',
      definition('Bad field', sharedConnection, { mapping: { email: 'Email', favouriteColour: 'City' } }),
    );
    expectProblem(unknownField, 400);
    expect(unknownField.body.errors[0].path).toBe('body.mapping.favouriteColour');
    expect(unknownField.body.errors[0].message).toContain("'favouriteColour' is not a data-matching field");

    const noEmail = await stack.api.post('/exports', definition('No email', sharedConnection, { mapping: { firstName: 'FirstName' } }));
    expectProblem(noEmail, 400);
    expect(problemPaths(noEmail)).toEqual(['body.mapping.email']);
  });

  it("validates the details with the destination's schema", async () => {
    const noList = await stack.api.post('/exports', definition('No list', sharedConnection, { details: {} }));
    expectProblem(noList, 400);
    expect(problemPaths(noList)).toEqual(['body.details.listId']);
    const badConsent = await stack.api.post(
      '/exports',
      definition('Bad consent', sharedConnection, { details: { listId: 'l', consentToTrack: 'Maybe' } }),
    );
    expectProblem(badConsent, 400);
    expect(problemPaths(badConsent)).toEqual(['body.details.consentToTrack']);
  });

  it('names unknown segments, unknown connections and unknown fields', async () => {
    const unknownSegment = await stack.api.post(
      '/exports',
      definition('Bad segment', sharedConnection, { segments: ['Segment_VIP', 'Segment_Nope'] }),
    );
    expectProblem(unknownSegment, 400);
    expect(unknownSegment.body.errors).toEqual([
      { path: 'body.segments.1', message: expect.stringContaining("segment 'Segment_Nope' does not exist") },
    ]);
    const unknownConnection = await stack.api.post('/exports', definition('Bad connection', '00000000-0000-0000-0000-000000000000'));
    expectProblem(unknownConnection, 400);
    expect(problemPaths(unknownConnection)).toEqual(['body.connectionId']);
    const unknownField = await stack.api.post('/exports', { ...definition('Extra', sharedConnection), colour: 'red' });
    expectProblem(unknownField, 400);
    expect(unknownField.body.detail).toContain('colour');
  });
});

describe('permissions', () => {
  let onShared: string;
  let onPrivate: string;

  beforeAll(async () => {
    onShared = (await contributor.post('/exports', definition('Perm shared', sharedConnection))).body.id;
    onPrivate = (await stack.api.post('/exports', definition('Perm private', adminsOnlyConnection))).body.id;
  });

  it('lets contributors create exports only on connections shared with them; viewers create nothing', async () => {
    expect(onShared).toBeDefined();
    const refused = await contributor.post('/exports', definition('Perm refused', adminsOnlyConnection));
    expectProblem(refused, 400);
    expect(problemPaths(refused)).toEqual(['body.connectionId']);
    expectProblem(await viewer.post('/exports', definition('Perm viewer', sharedConnection)), 403);
  });

  it('tells each caller per export whether they may edit or only view', async () => {
    const permissionsOf = async (api: ApiClient) => {
      const response = await api.get('/exports?search=Perm');
      expect(response.status).toBe(200);
      return Object.fromEntries(
        response.body.items.map((item: { name: string; yourPermissions: string }) => [item.name, item.yourPermissions]),
      );
    };
    expect(await permissionsOf(stack.api)).toEqual({ 'Perm shared': 'edit', 'Perm private': 'edit' });
    expect(await permissionsOf(contributor)).toEqual({ 'Perm shared': 'edit', 'Perm private': 'view' });
    expect(await permissionsOf(viewer)).toEqual({ 'Perm shared': 'view', 'Perm private': 'view' });
    expect((await contributor.get(`/exports/${onPrivate}`)).body.yourPermissions).toBe('view');
  });

  it('refuses changes to exports the caller may only view', async () => {
    expectProblem(await contributor.patch(`/exports/${onPrivate}`, { name: 'hijacked' }), 403);
    expectProblem(await contributor.post(`/exports/${onPrivate}/runs`), 403);
    expectProblem(await contributor.post(`/exports/${onPrivate}/duplicate`), 403);
    expectProblem(await contributor.delete(`/exports/${onPrivate}`), 403);
    expectProblem(await viewer.patch(`/exports/${onShared}`, { name: 'hijacked' }), 403);
    const renamed = await contributor.patch(`/exports/${onShared}`, { name: 'Perm shared' });
    expect(renamed.status).toBe(200);
  });
});

describe('the export list', () => {
  const names = ['Sort Alpha', 'Sort bravo', 'Sort Charlie', 'Sort delta', 'Sort Echo'];

  beforeAll(async () => {
    for (const name of names) {
      const response = await stack.api.post('/exports', definition(name, name.length % 2 ? sharedConnection : adminsOnlyConnection));
      expect(response.status, response.text).toBe(201);
    }
  });

  it('searches name, connection name and connection type', async () => {
    const byName = await stack.api.get('/exports?search=sort%20B');
    expect(byName.body.items.map((item: { name: string }) => item.name)).toEqual(['Sort bravo']);
    const byConnection = await stack.api.get('/exports?search=private%20cm');
    expect(byConnection.body.items.length).toBeGreaterThan(0);
    expect(byConnection.body.items.every((item: { connectionName: string }) => item.connectionName === 'Private CM')).toBe(true);
    const byType = await stack.api.get('/exports?search=campaign-monitor');
    expect(byType.body.items.length).toBeGreaterThanOrEqual(names.length);
  });

  it('sorts by any listed column in either order, case-insensitively', async () => {
    const ascending = await stack.api.get('/exports?search=Sort&sort=name&order=asc');
    expect(ascending.body.items.map((item: { name: string }) => item.name)).toEqual(names);
    const descending = await stack.api.get('/exports?search=Sort&sort=name&order=desc');
    expect(descending.body.items.map((item: { name: string }) => item.name)).toEqual([...names].reverse());
    for (const sort of [
      'connectionName',
      'connectionType',
      'status',
      'schedule',
      'lastRefreshed',
      'lastRunStatus',
      'yourPermissions',
      'createdAt',
    ]) {
      const response = await stack.api.get(`/exports?search=Sort&sort=${sort}&order=desc`);
      expect(response.status, sort).toBe(200);
      expect(response.body.items).toHaveLength(names.length);
    }
    const byConnection = await stack.api.get('/exports?search=Sort&sort=connectionName');
    const connectionNames = byConnection.body.items.map((item: { connectionName: string }) => item.connectionName);
    expect(connectionNames).toEqual([...connectionNames].sort());
  });

  it('pages with top and a continuation token, each export once', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const response = await stack.api.get(`/exports?search=Sort&top=2${token ? `&continuationToken=${token}` : ''}`);
      expect(response.status).toBe(200);
      expect(response.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...response.body.items.map((item: { name: string }) => item.name));
      token = response.body.continuationToken;
      if (!token) break;
    }
    expect(seen).toEqual(names);
  });

  it('names the query value to fix', async () => {
    for (const [query, path] of [
      ['sort=colour', 'query.sort'],
      ['order=sideways', 'query.order'],
      ['top=0', 'query.top'],
      ['top=abc', 'query.top'],
      ['top=1e309', 'query.top'],
      ['shoeSize=42', 'query'],
    ] as const) {
      const response = await stack.api.get(`/exports?${query}`);
      expectProblem(response, 400);
      expect(problemPaths(response), query).toContain(path);
    }
  });
});

describe('duplicate, disconnect, save and run', () => {
  it('duplicates: new id, inactive, "(copy)", same mapping, details and segments', async () => {
    const original = (
      await stack.api.post('/exports', definition('Original', sharedConnection, { mapping: { email: 'Email', lastName: 'LastName' } }))
    ).body;
    const copy = await stack.api.post(`/exports/${original.id}/duplicate`);
    expect(copy.status).toBe(201);
    expect(copy.headers.get('etag')).toBe(copy.body.etag);
    expect(copy.body.id).not.toBe(original.id);
    expect(copy.body).toMatchObject({
      name: 'Original (copy)',
      status: 'inactive',
      mapping: original.mapping,
      details: original.details,
      segments: original.segments,
      connectionId: sharedConnection,
    });
    expect(copy.body.schedule.active).toBe(false);
    expect((await stack.api.get(`/exports/${original.id}`)).body.status).toBe('active');
  });

  it('disconnects: deactivated, "No connection", definition kept; running it is refused', async () => {
    const created = (await stack.api.post('/exports', definition('To disconnect', sharedConnection))).body;
    const stale = await stack.api.post(`/exports/${created.id}/disconnect`, undefined, { 'if-match': '"stale"' });
    expectProblem(stale, 412);
    const disconnected = await stack.api.post(`/exports/${created.id}/disconnect`, undefined, { 'if-match': created.etag });
    expect(disconnected.status).toBe(200);
    expect(disconnected.body).toMatchObject({
      connectionId: null,
      connectionName: 'No connection',
      status: 'noConnection',
      mapping: created.mapping,
      details: created.details,
      segments: created.segments,
    });
    expect((await stack.api.get(`/exports/${created.id}`)).body.connectionName).toBe('No connection');
    expectProblem(await stack.api.post(`/exports/${created.id}/runs`), 422);
  });

  it('never runs on a plain save; ?run=true saves and runs', async () => {
    const saved = (await stack.api.post('/exports', definition('Plain save', sharedConnection))).body;
    expect(saved.runId).toBeUndefined();
    const patched = await stack.api.patch(`/exports/${saved.id}`, { name: 'Plain save 2' }, { 'if-match': saved.etag });
    expect(patched.status).toBe(200);
    expect((await stack.api.get(`/exports/${saved.id}/runs`)).body.items).toEqual([]);

    const savedAndRun = await stack.api.post('/exports?run=true', definition('Save and run', sharedConnection));
    expect(savedAndRun.status).toBe(201);
    expect(savedAndRun.body.runId).toEqual(expect.any(String));
    expect(savedAndRun.headers.get('etag')).toBe(savedAndRun.body.etag);
    const run = await stack.api.get(`/exports/${savedAndRun.body.id}/runs/${savedAndRun.body.runId}`);
    expect(run.headers.get('etag')).toMatch(/^W\/"datetime'/);
    const runs = (await stack.api.get(`/exports/${savedAndRun.body.id}/runs`)).body.items;
    expect(runs.map((run: { id: string; trigger: string }) => [run.id, run.trigger])).toEqual([[savedAndRun.body.runId, 'manual']]);
    // The ETag that came back is current: a conditional update with it succeeds.
    const after = await stack.api.patch(
      `/exports/${savedAndRun.body.id}`,
      { name: 'Save and run 2' },
      { 'if-match': savedAndRun.body.etag },
    );
    expect(after.status, after.text).toBe(200);

    const patchedAndRun = await stack.api.patch(
      `/exports/${saved.id}?run=true`,
      { name: 'Plain save 3' },
      { 'if-match': patched.body.etag },
    );
    expect(patchedAndRun.status).toBe(200);
    expect(patchedAndRun.body.runId).toEqual(expect.any(String));
    expect(patchedAndRun.headers.get('etag')).toBe(patchedAndRun.body.etag);
  });
});

describe('ETags', () => {
  it('every export carries one; a stale If-Match is 412; without If-Match the write wins and is audited', async () => {
    const created = await stack.api.post('/exports', definition('Etag', sharedConnection));
    expect(created.headers.get('etag')).toBe(created.body.etag);
    const fetched = await stack.api.get(`/exports/${created.body.id}`);
    expect(fetched.headers.get('etag')).toBe(created.body.etag);
    const listed = (await stack.api.get('/exports?search=Etag')).body.items[0];
    expect(listed.etag).toBe(created.body.etag);

    const first = await stack.api.patch(`/exports/${created.body.id}`, { name: 'Etag 1' }, { 'if-match': created.body.etag });
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe(first.body.etag);
    const stale = await stack.api.patch(`/exports/${created.body.id}`, { name: 'Etag lost' }, { 'if-match': created.body.etag });
    expectProblem(stale, 412);
    expect((await stack.api.get(`/exports/${created.body.id}`)).body.name).toBe('Etag 1');

    const blind = await stack.api.patch(`/exports/${created.body.id}`, { name: 'Etag blind' });
    expect(blind.status).toBe(200);
    expectProblem(await stack.api.delete(`/exports/${created.body.id}`, { 'if-match': first.body.etag }), 412);
    expect((await stack.api.delete(`/exports/${created.body.id}`, { 'if-match': blind.body.etag })).status).toBe(204);
    expectProblem(await stack.api.get(`/exports/${created.body.id}`), 404);

    const audit = (await stack.api.get('/audit')).body.items.filter(
      (item: { target: { id: string } }) => item.target.id === created.body.id,
    );
    expect(audit.map((item: { action: string }) => item.action)).toEqual([
      'export.deleted',
      'export.updated',
      'export.updated',
      'export.created',
    ]);
    expect(audit[1].details).toMatchObject({ changed: ['name'], lastWriterWins: true });
    expect(audit[2].details.lastWriterWins).toBeUndefined();
  });
});

describe('the audit log', () => {
  it('shows who created, changed, ran, duplicated, disconnected and removed what, and when', async () => {
    const audit = await stack.api.get('/audit?top=1000');
    expect(audit.status).toBe(200);
    const items = audit.body.items as {
      at: string;
      actor: { id: string };
      action: string;
      target: { type: string; id: string; name?: string };
    }[];
    const actions = new Set(items.map((item) => item.action));
    for (const action of [
      'connection.created',
      'export.created',
      'export.updated',
      'export.run',
      'export.duplicated',
      'export.disconnected',
      'export.deleted',
    ])
      expect(actions, action).toContain(action);
    expect(items.find((item) => item.action === 'export.created' && item.target.name === 'Perm shared')?.actor.id).toBe('carol');
    const times = items.map((item) => item.at);
    expect(times).toEqual([...times].sort().reverse());
    expect((await stack.api.get('/audit?top=2')).body.items).toHaveLength(2);
    expect((await stack.api.get('/audit?month=1999-01')).body.items).toEqual([]);
  });

  it('is for admins only and names a bad month', async () => {
    expectProblem(await contributor.get('/audit'), 403);
    expectProblem(await viewer.get('/audit'), 403);
    expectProblem(await stack.api.as(undefined).get('/audit'), 401);
    const badMonth = await stack.api.get('/audit?month=2026-13');
    expectProblem(badMonth, 400);
    expect(problemPaths(badMonth)).toEqual(['query.month']);
  });
});

describe('entities', () => {
  it("lists the lake's entities with their attributes, for any role", async () => {
    for (const api of [stack.api, contributor, viewer, stack.api.as(await stack.tokenFor('system', 'platform'))]) {
      const response = await api.get('/entities');
      expect(response.status).toBe(200);
      const profile = response.body.find((entity: { name: string }) => entity.name === 'UnifiedCustomerProfile');
      expect(profile.attributes).toEqual(
        expect.arrayContaining([
          { name: 'Email', dataType: 'string' },
          { name: 'CustomerId', dataType: 'guid' },
        ]),
      );
    }
    expectProblem(await stack.api.as(undefined).get('/entities'), 401);
  });
});

describe('secrets', () => {
  it('appear in no response, log line or audit entry', async () => {
    await expectSecretsNowhere(stack, [API_KEY]);
  });
});
