// Serving the console and trading the local sign-in code, without a stack: the page's settings
// meta tag (escaped), the CSP with and without Entra ID, caching, and the one-time code.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serveConsole } from '../../shared/console/serveConsole.js';
import { exchangeSignInCode } from '../../shared/console/localSignIn.js';
import { verifyBearer } from '../../shared/auth/verifyToken.js';

const saved = { ...process.env };
let buildDir: string;

beforeAll(() => {
  buildDir = mkdtempSync(join(tmpdir(), 'outflow-console-build-'));
  mkdirSync(join(buildDir, 'assets'));
  writeFileSync(
    join(buildDir, 'index.html'),
    '<!doctype html><meta name="outflow-console" content="{}"><script type="module" src="/api/console/assets/main-ABC.js"></script>',
  );
  writeFileSync(join(buildDir, 'assets', 'main-ABC.js'), 'console.log(1)');
});

afterEach(() => {
  for (const name of [
    'CONSOLE_AUTH_CLIENT_ID',
    'CONSOLE_AUTH_TENANT_ID',
    'CONSOLE_AUTH_API_SCOPE',
    'CONSOLE_SIGN_IN_CODE',
    'AUTH_DEV_SIGNING_KEY',
    'AUTH_JWKS_URL',
  ]) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

const metaOf = (body: unknown) =>
  JSON.parse(
    /content="([^"]*)"/
      .exec(String(body))![1]!
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  );

describe('serving the console', () => {
  it('writes the sign-in settings into the page, escaped, and allows the Entra ID host only when configured', () => {
    process.env.AUTH_DEV_SIGNING_KEY = 'k'.repeat(32);
    const local = serveConsole('', { buildDir });
    expect(metaOf(local.body)).toEqual({ localTokens: true });
    expect((local.headers as Record<string, string>)['content-security-policy']).not.toContain('login.microsoftonline.com');

    process.env.AUTH_JWKS_URL = 'https://login.microsoftonline.com/contoso/discovery/v2.0/keys';
    process.env.CONSOLE_AUTH_CLIENT_ID = '11111111-2222-3333-4444-555555555555';
    process.env.CONSOLE_AUTH_TENANT_ID = 'contoso.onmicrosoft.com';
    process.env.CONSOLE_AUTH_API_SCOPE = 'api://outflow/user_impersonation "><script>';
    const entra = serveConsole('index.html', { buildDir });
    expect(String(entra.body)).not.toContain('<script>alert');
    expect(String(entra.body)).not.toContain('"><script>');
    expect(metaOf(entra.body)).toEqual({
      entra: {
        clientId: '11111111-2222-3333-4444-555555555555',
        authority: 'https://login.microsoftonline.com/contoso.onmicrosoft.com',
        scopes: ['api://outflow/user_impersonation', '"><script>'],
      },
      localTokens: false,
    });
    const csp = (entra.headers as Record<string, string>)['content-security-policy'];
    expect(csp).toContain("connect-src 'self' https://login.microsoftonline.com");
    expect(csp).toContain("script-src 'self';");
  });

  it('caches hashed assets for a year, answers 304 for a known ETag, 404 for anything else', () => {
    const asset = serveConsole('assets/main-ABC.js', { buildDir });
    const headers = asset.headers as Record<string, string>;
    expect(asset.status).toBe(200);
    expect(headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(serveConsole('assets/main-ABC.js', { buildDir, ifNoneMatch: headers.etag }).status).toBe(304);
    expect(serveConsole('assets/other.js', { buildDir }).status).toBe(404);
    expect(serveConsole('../package.json', { buildDir }).status).toBe(404);
    expect(serveConsole('', { buildDir, head: true }).body).toBeUndefined();
  });
});

describe('the local sign-in code', () => {
  it('is traded once for an admin token the API accepts, never for a wrong code, and not at all where it is not configured', async () => {
    process.env.AUTH_DEV_SIGNING_KEY = 'k'.repeat(32);
    await expect(exchangeSignInCode('c'.repeat(32))).rejects.toThrow(/local feature/);
    process.env.CONSOLE_SIGN_IN_CODE = 'right-code-0123456789abcdef';
    await expect(exchangeSignInCode('wrong-code-0123456789abcdef')).rejects.toThrow(/not the one npm start printed/);
    const { token } = await exchangeSignInCode('right-code-0123456789abcdef');
    expect(await verifyBearer(`Bearer ${token}`)).toMatchObject({ id: 'alice', roles: ['admin'] });
    await expect(exchangeSignInCode('right-code-0123456789abcdef')).rejects.toThrow(/used already/);
    process.env.CONSOLE_SIGN_IN_CODE = 'another-code-0123456789abcdef';
    process.env.AUTH_JWKS_URL = 'https://login.microsoftonline.com/contoso/discovery/v2.0/keys';
    await expect(exchangeSignInCode('another-code-0123456789abcdef')).rejects.toThrow(/local feature/);
  });
});
