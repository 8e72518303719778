// The role × route matrix: every operation of the served OpenAPI document (which lists every
// declared route with its roles) called by each role and without a token. Allowed → not 401/403
// (2xx for the routes with a known good request), not allowed → 403, no token → 401 (except the
// anonymous routes); every error answer is problem details.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { declaredRoutes } from '../../shared/http/route.js';
import { PROJECT_DIR } from '../../local/stack.js';
import type { ApiClient, ApiResponse } from '../support/apiClient.js';
import { ROLES, type Role } from '../../shared/auth/principal.js';

const API_KEY = 'cm-matrix-key-8e41d2c7a0';

interface Operation {
  method: string;
  path: string;
  operationId: string;
  roles: Role[] | 'anonymous';
}

interface Call {
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

let stack: TestStack;
let document: any;
const clients = new Map<Role | 'none', ApiClient>();
const fixtures = { connectionId: '', exportId: '', runId: '', refreshId: '', webhookId: '' };

const exportBody = (name: string) => ({
  name,
  connectionId: fixtures.connectionId,
  segments: ['Segment_VIP'],
  mapping: { email: 'Email' },
  details: { listId: 'matrix' },
});

async function admin<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
  const response = await stack.api.request<T>(method, path, body === undefined ? {} : { body });
  expect(response.status, `${method} ${path}: ${response.text}`).toBeLessThan(300);
  return response;
}

const freshConnection = async () =>
  (
    await admin('POST', '/connections', {
      name: 'Matrix throwaway',
      type: 'campaign-monitor',
      secrets: { apiKey: API_KEY },
      sharing: 'contributors',
      privacyConsent: true,
    })
  ).body.id as string;
const freshExport = async () => (await admin('POST', '/exports', exportBody('Matrix throwaway'))).body.id as string;
const webhookBody = (name: string) => ({ name, url: `${stack.webhookReceiver.url}/matrix`, events: ['run.failed'] });
const freshWebhook = async () => (await admin('POST', '/webhooks', webhookBody('Matrix throwaway'))).body.id as string;

/** Requests that succeed for an allowed caller; destructive ones get fresh resources each time. */
const knownGood: Record<string, () => Promise<Call>> = {
  health: async () => ({ path: '/health' }),
  getOpenApi: async () => ({ path: '/openapi.json' }),
  listDestinations: async () => ({ path: '/destinations' }),
  listSegments: async () => ({ path: '/segments' }),
  listEntities: async () => ({ path: '/entities' }),
  listAudit: async () => ({ path: '/audit?top=5' }),
  listConnections: async () => ({ path: '/connections' }),
  getConnection: async () => ({ path: `/connections/${fixtures.connectionId}` }),
  createConnection: async () => ({
    path: '/connections',
    body: { name: 'Matrix created', type: 'campaign-monitor', secrets: { apiKey: API_KEY }, privacyConsent: true },
  }),
  updateConnection: async () => ({ path: `/connections/${fixtures.connectionId}`, body: { name: 'Matrix connection' } }),
  deleteConnection: async () => ({ path: `/connections/${await freshConnection()}` }),
  testConnection: async () => ({ path: `/connections/${fixtures.connectionId}/test` }),
  listExports: async () => ({ path: '/exports?search=Matrix&sort=connectionName&order=desc&top=5' }),
  getExport: async () => ({ path: `/exports/${fixtures.exportId}` }),
  createExport: async () => ({ path: '/exports', body: exportBody('Matrix created') }),
  updateExport: async () => ({ path: `/exports/${fixtures.exportId}`, body: { name: 'Matrix export' } }),
  deleteExport: async () => ({ path: `/exports/${await freshExport()}` }),
  duplicateExport: async () => ({ path: `/exports/${fixtures.exportId}/duplicate` }),
  disconnectExport: async () => ({ path: `/exports/${await freshExport()}/disconnect` }),
  startRun: async () => ({ path: `/exports/${await freshExport()}/runs` }),
  planExport: async () => ({ path: `/exports/${fixtures.exportId}/plan` }),
  listRuns: async () => ({ path: `/exports/${fixtures.exportId}/runs` }),
  getRun: async () => ({ path: `/exports/${fixtures.exportId}/runs/${fixtures.runId}` }),
  listRunRecords: async () => ({ path: `/exports/${fixtures.exportId}/runs/${fixtures.runId}/records` }),
  listWebhooks: async () => ({ path: '/webhooks' }),
  getWebhook: async () => ({ path: `/webhooks/${fixtures.webhookId}` }),
  createWebhook: async () => ({ path: '/webhooks', body: webhookBody('Matrix created') }),
  updateWebhook: async () => ({ path: `/webhooks/${fixtures.webhookId}`, body: { name: 'Matrix webhook' } }),
  deleteWebhook: async () => ({ path: `/webhooks/${await freshWebhook()}` }),
  testWebhook: async () => ({ path: `/webhooks/${fixtures.webhookId}/test` }),
  rotateWebhookSecret: async () => ({ path: `/webhooks/${fixtures.webhookId}/rotate-secret` }),
  listWebhookDeliveries: async () => ({ path: `/webhooks/${fixtures.webhookId}/deliveries` }),
  cancelRun: async () => {
    const exportId = await freshExport();
    const run = await admin('POST', `/exports/${exportId}/runs`);
    return { path: `/exports/${exportId}/runs/${run.body.runId}/cancel` };
  },
};

/** Best guesses for routes whose inputs this file does not own: allowed callers must pass auth, and may get a 4xx about the input. */
const plausible: Record<string, () => Promise<Call>> = {
  listRefreshes: async () => ({ path: '/refreshes' }),
  reportRefresh: async () => ({ path: '/refreshes', body: { process: 'ingestion', status: 'running' } }),
  updateRefresh: async () => ({ path: `/refreshes/${fixtures.refreshId}`, body: { status: 'succeeded' } }),
  setExportSchedule: async () => ({ path: `/exports/${await freshExport()}/schedule`, body: { active: false, mode: 'systemRefresh' } }),
  editSchedules: async () => ({ path: '/exports/schedules', body: { exportIds: [await freshExport()], mode: 'keep', active: false } }),
  runAllExports: async () => ({ path: '/exports/run-all' }),
};

/** Any other route: path parameters from the fixtures by position, an empty JSON body for writes. */
async function genericCall(operation: Operation): Promise<Call> {
  const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string, offset: number) => {
    const before = operation.path.slice(0, offset);
    if (name === 'runId') return fixtures.runId;
    if (before === '/connections/') return fixtures.connectionId;
    if (before === '/exports/') return fixtures.exportId;
    if (before === '/refreshes/') return fixtures.refreshId;
    if (before === '/webhooks/') return fixtures.webhookId;
    return '00000000-0000-0000-0000-000000000000';
  });
  return { path, ...(['POST', 'PUT', 'PATCH'].includes(operation.method) ? { body: {} } : {}) };
}

beforeAll(async () => {
  // The routes' own response schemas, to check that each success answer is what the document says.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  const folder = join(PROJECT_DIR, 'functions');
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts'))) await import(pathToFileURL(join(folder, file)).href);
  stack = await startTestStack({
    seedProfiles: 200,
    // Slow vendor answers keep runs in progress long enough to be cancelled.
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { apiKeys: [API_KEY], rateLimit: false, faults: { latencyMs: 1_500 } } },
  });
  for (const role of ROLES) clients.set(role, stack.api.as(await stack.tokenFor(role, `matrix-${role}`)));
  clients.set('none', stack.api.as(undefined));
  fixtures.connectionId = await freshConnection();
  fixtures.exportId = (await admin('POST', '/exports', exportBody('Matrix fixture'))).body.id;
  fixtures.runId = (await admin('POST', `/exports/${fixtures.exportId}/runs`)).body.runId;
  const refresh = await clients.get('system')!.post('/refreshes', { process: 'measures', status: 'running' });
  fixtures.refreshId = refresh.body?.id ?? '0000000000000-00000000';
  fixtures.webhookId = await freshWebhook();
  const served = await clients.get('none')!.get('/openapi.json');
  expect(served.status).toBe(200);
  document = served.body;
});

afterAll(async () => {
  await stack?.stop();
});

function operations(): Operation[] {
  const result: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
    for (const [method, operation] of Object.entries(item)) {
      const roles = operation['x-roles'] as string[];
      result.push({
        method: method.toUpperCase(),
        path,
        operationId: operation.operationId,
        roles: roles.includes('anonymous') ? 'anonymous' : (roles as Role[]),
      });
    }
  }
  return result;
}

function expectProblemIfError(response: ApiResponse, label: string): void {
  if (response.status < 400) return;
  expect(response.headers.get('content-type'), `${label}: ${response.text}`).toMatch(/^application\/problem\+json/);
  expect(response.body, label).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status: response.status,
    detail: expect.any(String),
  });
}

describe('the role × route matrix', () => {
  it('covers every route the host serves', () => {
    const ids = operations().map((operation) => operation.operationId);
    expect(ids.length).toBeGreaterThanOrEqual(26);
    for (const id of Object.keys(knownGood)) expect(ids, id).toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('allows exactly the declared roles, 401 without a token, problem details for every error', { timeout: 120_000 }, async () => {
    const table: string[] = [];
    let checkedAgainstSchema = 0;
    for (const operation of operations()) {
      const row: string[] = [];
      for (const caller of [...ROLES, 'none'] as const) {
        const prepare = knownGood[operation.operationId] ?? plausible[operation.operationId] ?? (() => genericCall(operation));
        const allowed = operation.roles === 'anonymous' || (caller !== 'none' && operation.roles.includes(caller));
        // Only prepare destructive fixtures for callers that will get past auth.
        const call = allowed ? await prepare() : await genericCall(operation);
        const response = await clients
          .get(caller)!
          .request(operation.method, call.path, { ...(call.body !== undefined ? { body: call.body } : {}), headers: call.headers });
        const label = `${caller} ${operation.method} ${call.path} → ${response.status}`;
        expect(response.status, `${label}: ${response.text}`).toBeLessThan(500);
        expectProblemIfError(response, label);
        if (!allowed) {
          expect(response.status, label).toBe(caller === 'none' ? 401 : 403);
        } else if (knownGood[operation.operationId]) {
          expect(response.status, `${label}: ${response.text}`).toBeLessThan(300);
          const declared = declaredRoutes.find((route) => route.name === operation.operationId)?.response;
          if (declared?.schema && declared.status === response.status) {
            const parsed = declared.schema.safeParse(response.body);
            expect(parsed.success, `${label}: the answer does not match the declared schema: ${parsed.error?.message}`).toBe(true);
            checkedAgainstSchema++;
          }
        } else {
          expect([401, 403], `${label}: ${response.text}`).not.toContain(response.status);
        }
        row.push(`${caller}:${response.status}`);
      }
      table.push(`${operation.method.padEnd(6)} ${operation.path.padEnd(40)} ${row.join(' ')}`);
    }
    if (process.env.OUTFLOW_TEST_VERBOSE) console.log(table.join('\n'));
    expect(checkedAgainstSchema).toBeGreaterThanOrEqual(40);
  });

  it('refuses tokens that are malformed, wrongly signed or carry no known role', async () => {
    const path = '/exports';
    for (const header of [
      'Bearer',
      'Bearer not.a.jwt',
      'Basic dXNlcjpwYXNz',
      `Bearer ${(await stack.tokenFor('admin')).slice(0, -4)}AAAA`,
    ]) {
      const response = await stack.api.as(undefined).get(path, { authorization: header });
      expect(response.status, header).toBe(401);
      expectProblemIfError(response, header);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
    const roleless = await stack.api.as(await stack.tokenFor([] as unknown as Role, 'nobody')).get(path);
    expect(roleless.status).toBe(403);
    expectProblemIfError(roleless, 'no roles');
  });
});
