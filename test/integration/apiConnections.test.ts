// Connections over the real stack: privacy consent, export user, visibility per role, ETags,
// secrets that are replaceable but never readable, the connection test, connection limits and
// segment warnings, and removal (Key Vault secret gone, exports kept as "No connection").
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually, type ApiClient } from '../support/apiClient.js';
import { auditText, expectProblem, expectSecretsNowhere, problemPaths } from '../support/apiAssertions.js';
import { createKeyVaultSecretStore, staticTokenCredential, type SecretStore } from '../../shared/secretStore.js';
import { TableClient } from '@azure/data-tables';
import { TABLES } from '../../shared/storage/names.js';

const KEY_A = 'cm-key-a-5d81c0e94f27';
const KEY_B = 'cm-key-b-0b7e35a1c9d4';
const WRONG_KEY = 'cm-key-wrong-66a2f0d3e1';
const PROFILES = 1_500;

let stack: TestStack;
let vault: SecretStore;
let contributor: ApiClient;
let viewer: ApiClient;
const startedAt = new Date().toISOString();

beforeAll(async () => {
  stack = await startTestStack({
    seedProfiles: PROFILES,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { apiKeys: [KEY_A, KEY_B], rateLimit: false } },
    settings: { DESTINATION_RATE_LIMITS: JSON.stringify({ 'campaign-monitor': { requestsPerSecond: 100, burst: 100 } }) },
  });
  // The stack made its own certificate; trust exactly it (NODE_EXTRA_CA_CERTS is read only at start).
  vault = createKeyVaultSecretStore(stack.keyVault.url, staticTokenCredential(stack.settings.KEY_VAULT_LOCAL_TOKEN!), {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: readFileSync(stack.settings.NODE_EXTRA_CA_CERTS!) },
  });
  contributor = stack.api.as(await stack.tokenFor('contributor', 'carol'));
  viewer = stack.api.as(await stack.tokenFor('viewer', 'victor'));
});

afterAll(async () => {
  await stack?.stop();
});

const createBody = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'campaign-monitor',
  secrets: { apiKey: KEY_A },
  privacyConsent: true,
  ...extra,
});

describe('creating a connection', () => {
  it('needs privacy consent, naming the field', async () => {
    for (const body of [{ ...createBody('x'), privacyConsent: undefined }, createBody('x', { privacyConsent: false })]) {
      const response = await stack.api.post('/connections', body);
      expectProblem(response, 400);
      expect(problemPaths(response)).toContain('body.privacyConsent');
      expect(response.body.detail).toContain('privacy');
    }
  });

  it('records who accepted the privacy statement and when, and the creator as export user', async () => {
    const created = await stack.api.post('/connections', createBody('CM consent'));
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe(created.body.etag);
    expect(created.headers.get('location')).toBe(`/api/connections/${created.body.id}`);
    expect(created.body).toMatchObject({
      exportUser: { id: 'alice', name: 'Test alice' },
      privacyConsent: { acceptedBy: 'alice' },
      sharing: 'adminsOnly',
      secretsSet: ['apiKey'],
      status: 'ready',
    });
    expect(created.body.privacyConsent.acceptedAt >= startedAt).toBe(true);
    expect(created.body).not.toHaveProperty('secrets');
    const audit = await stack.api.get('/audit');
    const entry = audit.body.items.find(
      (item: { action: string; target: { id: string } }) => item.action === 'connection.created' && item.target.id === created.body.id,
    );
    expect(entry).toMatchObject({
      actor: { id: 'alice' },
      details: { privacyConsentAcceptedAt: created.body.privacyConsent.acceptedAt, destinationType: 'campaign-monitor' },
    });
  });

  it('is for admins only', async () => {
    expectProblem(await contributor.post('/connections', createBody('nope')), 403);
    expectProblem(await viewer.post('/connections', createBody('nope')), 403);
    expectProblem(await stack.api.as(undefined).post('/connections', createBody('nope')), 401);
  });

  it('rejects unknown types, unknown fields and missing secrets, naming each', async () => {
    const unknownType = await stack.api.post('/connections', createBody('x', { type: 'carrier-pigeon' }));
    expectProblem(unknownType, 400);
    expect(problemPaths(unknownType)).toEqual(['body.type']);
    expect(unknownType.body.errors[0].message).toContain('campaign-monitor');
    const unknownField = await stack.api.post('/connections', createBody('x', { colour: 'red' }));
    expectProblem(unknownField, 400);
    expect(unknownField.body.detail).toContain('colour');
    const noKey = await stack.api.post('/connections', createBody('x', { secrets: {} }));
    expectProblem(noKey, 400);
    expect(problemPaths(noKey)).toContain('body.secrets.apiKey');
  });
});

describe('seeing connections', () => {
  let adminsOnly: string;
  let shared: string;

  beforeAll(async () => {
    adminsOnly = (await stack.api.post('/connections', createBody('CM admins only'))).body.id;
    shared = (await stack.api.post('/connections', createBody('CM shared', { sharing: 'contributors' }))).body.id;
  });

  it('admins see all, contributors only those shared with them, viewers none', async () => {
    const all = (await stack.api.get('/connections')).body.map((connection: { id: string }) => connection.id);
    expect(all).toEqual(expect.arrayContaining([adminsOnly, shared]));
    const theirs = await contributor.get('/connections');
    expect(theirs.status).toBe(200);
    expect(theirs.body.map((connection: { id: string }) => connection.id)).toContain(shared);
    expect(theirs.body.every((connection: { sharing: string }) => connection.sharing === 'contributors')).toBe(true);
    expect((await contributor.get(`/connections/${shared}`)).status).toBe(200);
    expectProblem(await contributor.get(`/connections/${adminsOnly}`), 404);
    expectProblem(await viewer.get('/connections'), 403);
    expectProblem(await viewer.get(`/connections/${shared}`), 403);
  });

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    expectProblem(await stack.api.get('/connections/00000000-0000-0000-0000-000000000000'), 404);
    const bad = await stack.api.get('/connections/NOT_AN_ID');
    expectProblem(bad, 400);
    expect(problemPaths(bad)).toContain('path.id');
  });
});

describe('changing a connection', () => {
  let id: string;
  let etag: string;

  beforeAll(async () => {
    const created = await stack.api.post('/connections', createBody('CM to change'));
    id = created.body.id;
    etag = created.body.etag;
  });

  it('refuses a stale If-Match with 412 and changes nothing', async () => {
    const renamed = await stack.api.patch(`/connections/${id}`, { name: 'CM renamed' }, { 'if-match': etag });
    expect(renamed.status).toBe(200);
    expect(renamed.headers.get('etag')).toBe(renamed.body.etag);
    expect(renamed.body.etag).not.toBe(etag);
    const stale = await stack.api.patch(`/connections/${id}`, { name: 'lost update' }, { 'if-match': etag });
    expectProblem(stale, 412);
    expect((await stack.api.get(`/connections/${id}`)).body.name).toBe('CM renamed');
    etag = renamed.body.etag;
  });

  it('replaces the secret without ever returning it, and the connection test still passes', async () => {
    const response = await stack.api.patch(`/connections/${id}`, { secrets: { apiKey: KEY_B } }, { 'if-match': etag });
    expect(response.status).toBe(200);
    expect(response.body.secretsSet).toEqual(['apiKey']);
    expect(response.text).not.toContain(KEY_B);
    // A replaced secret is written under a new name that the row adopts only if its own write
    // succeeds (concurrent updates cannot mix); the previous one is deleted.
    const connections = TableClient.fromConnectionString(stack.azurite.connectionString, TABLES.connections, {
      allowInsecureConnection: true,
    });
    const { secretName } = await connections.getEntity<{ secretName: string }>('connection', id);
    expect(secretName).not.toBe(`connection-${id}`);
    expect(await vault.get(secretName)).toContain(KEY_B);
    expect(await vault.get(`connection-${id}`)).toBeUndefined();
    expect((await stack.api.post(`/connections/${id}/test`)).body).toEqual({ ok: true });
    etag = response.body.etag;
  });

  it('accepts an update without If-Match and audits it as last-writer-wins', async () => {
    const response = await stack.api.patch(`/connections/${id}`, { sharing: 'contributors' });
    expect(response.status).toBe(200);
    const audit = await stack.api.get('/audit');
    const updates = audit.body.items.filter(
      (item: { action: string; target: { id: string } }) => item.action === 'connection.updated' && item.target.id === id,
    );
    expect(updates[0]).toMatchObject({ actor: { id: 'alice' }, details: { changed: ['sharing'], lastWriterWins: true } });
    expect(
      updates.some(
        (item: { details: { changed: string[]; lastWriterWins?: boolean } }) =>
          item.details.changed.includes('secrets') && !item.details.lastWriterWins,
      ),
    ).toBe(true);
  });

  it('is for admins only', async () => {
    expectProblem(await contributor.patch(`/connections/${id}`, { name: 'x' }), 403);
    expectProblem(await viewer.patch(`/connections/${id}`, { name: 'x' }), 403);
  });
});

describe('testing a connection', () => {
  it("reports ok, or the vendor's reason for a wrong key", async () => {
    const good = (await stack.api.post('/connections', createBody('CM good key'))).body.id;
    expect((await stack.api.post(`/connections/${good}/test`)).body).toEqual({ ok: true });
    const wrong = (await stack.api.post('/connections', createBody('CM wrong key', { secrets: { apiKey: WRONG_KEY } }))).body.id;
    const tested = await stack.api.post(`/connections/${wrong}/test`);
    expect(tested.status).toBe(200);
    expect(tested.body.ok).toBe(false);
    expect(tested.body.reason).toMatch(/Invalid API Key|auth/i);
    expect(tested.text).not.toContain(WRONG_KEY);
  });
});

describe('connection limits', () => {
  it("can only lower the destination's limit, and show in the view and the catalog", async () => {
    const tooHigh = await stack.api.post('/connections', createBody('CM big', { limits: { maxMembersPerExport: 2_000_000 } }));
    expectProblem(tooHigh, 400);
    expect(problemPaths(tooHigh)).toContain('body.limits.maxMembersPerExport');
    const unknown = await stack.api.post('/connections', createBody('CM odd', { limits: { maxBananas: 3 } }));
    expectProblem(unknown, 400);
    const catalog = await stack.api.get('/destinations');
    const campaignMonitor = catalog.body.find((entry: { type: string }) => entry.type === 'campaign-monitor');
    expect(campaignMonitor.connectionLimits.map((field: { name: string }) => field.name)).toEqual([
      'maxMembersPerExport',
      'requestsPerSecond',
    ]);
  });

  it('warns on segments over a lowered limit, and a run over it is skipped with the reason', async () => {
    const created = await stack.api.post('/connections', createBody('CM small contract', { limits: { maxMembersPerExport: 100 } }));
    expect(created.status).toBe(201);
    expect(created.body.limits).toEqual({ maxMembersPerExport: 100 });
    const id = created.body.id;

    const segments = await stack.api.get(`/segments?connectionId=${id}`);
    expect(segments.status).toBe(200);
    const all = segments.body.find((segment: { id: string }) => segment.id === 'Segment_AllCustomers');
    expect(all).toMatchObject({ eligible: true, memberCount: PROFILES });
    expect(all.warning).toContain(`has ${PROFILES.toLocaleString('en-US')} members`);
    expect(all.warning).toContain('at most 100');
    const plain = await stack.api.get('/segments');
    expect(plain.body.find((segment: { id: string }) => segment.id === 'Segment_AllCustomers')).toEqual({
      id: 'Segment_AllCustomers',
      name: 'All customers',
      type: 'Profile',
      memberCount: PROFILES,
    });
    const roomy = (await stack.api.post('/connections', createBody('CM roomy'))).body.id;
    const unwarned = (await stack.api.get(`/segments?connectionId=${roomy}`)).body;
    expect(unwarned.every((segment: { eligible: boolean; warning?: string }) => segment.eligible && !segment.warning)).toBe(true);

    const exported = await stack.api.post('/exports?run=true', {
      name: 'Too big',
      connectionId: id,
      segments: ['Segment_AllCustomers'],
      mapping: { email: 'Email' },
      details: { listId: 'too-big' },
    });
    expect(exported.status).toBe(201);
    const run = await eventually(
      async () => {
        const response = await stack.api.get(`/exports/${exported.body.id}/runs/${exported.body.runId}`);
        return ['succeeded', 'partiallySucceeded', 'failed', 'skipped', 'cancelled'].includes(response.body.status)
          ? response.body
          : undefined;
      },
      { timeoutMs: 30_000, what: 'the run to end' },
    );
    expect(run.status).toBe('skipped');
    expect(run.reason).toContain('at most 100');
    expect(run.counts.sent).toBe(0);
  });

  it('answers 404 for segments of a connection the caller cannot see', async () => {
    expectProblem(await stack.api.get('/segments?connectionId=00000000-0000-0000-0000-000000000000'), 404);
  });
});

describe('removing a connection', () => {
  it('honours If-Match, deletes the Key Vault secret, and leaves its exports as "No connection" with their definition', async () => {
    const created = await stack.api.post('/connections', createBody('CM to remove', { sharing: 'contributors' }));
    const id = created.body.id;
    expect(await vault.get(`connection-${id}`)).toContain(KEY_A);
    const definitions = [
      {
        name: 'Removal A',
        segments: ['Segment_AllCustomers'],
        mapping: { email: 'Email', firstName: 'FirstName' },
        details: { listId: 'removal-a' },
      },
      {
        name: 'Removal B',
        segments: ['Segment_VIP'],
        mapping: { email: 'Email', postalCode: 'PostalCode' },
        details: { listId: 'removal-b' },
      },
    ];
    const exportIds: string[] = [];
    for (const definition of definitions) {
      const response = await stack.api.post('/exports', { ...definition, connectionId: id });
      expect(response.status, response.text).toBe(201);
      exportIds.push(response.body.id);
    }

    expectProblem(await stack.api.delete(`/connections/${id}`, { 'if-match': '"stale"' }), 412);
    expect((await stack.api.get(`/connections/${id}`)).status).toBe(200);
    expectProblem(await contributor.delete(`/connections/${id}`), 403);

    const removed = await stack.api.delete(`/connections/${id}`, { 'if-match': created.body.etag });
    expect(removed.status).toBe(204);
    expectProblem(await stack.api.get(`/connections/${id}`), 404);
    expect(await vault.get(`connection-${id}`)).toBeUndefined();

    for (const [index, exportId] of exportIds.entries()) {
      const view = await stack.api.get(`/exports/${exportId}`);
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({
        ...definitions[index],
        connectionId: null,
        connectionName: 'No connection',
        connectionType: 'campaign-monitor',
        status: 'noConnection',
      });
      expect(view.body.schedule.active).toBe(false);
    }
    const listed = await stack.api.get('/exports?search=Removal');
    expect(listed.body.items.map((item: { connectionName: string }) => item.connectionName)).toEqual(['No connection', 'No connection']);
    expectProblem(await stack.api.post(`/exports/${exportIds[0]}/runs`), 422);

    const audit = await auditText(stack.api);
    expect(audit).toContain('connection.deleted');
    expect(audit).toContain(id);
  });
});

describe('secrets', () => {
  it('appear in no response, log line or audit entry', async () => {
    await expectSecretsNowhere(stack, [KEY_A, KEY_B, WRONG_KEY]);
  });
});
