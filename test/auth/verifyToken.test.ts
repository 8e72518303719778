import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { verifyBearer } from '../../shared/auth/verifyToken.js';
import { signDevToken } from '../../shared/auth/devToken.js';

const key = 'test-signing-key-0123456789abcdef0123456789';
const sign = (
  claims: Record<string, unknown>,
  options: { key?: string; issuer?: string; audience?: string; exp?: number | string | null; nbf?: number } = {},
) => {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setIssuer(options.issuer ?? 'outflow-local')
    .setAudience(options.audience ?? 'outflow-api')
    .setIssuedAt();
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? '1h');
  if (options.nbf) jwt.setNotBefore(options.nbf);
  return jwt.sign(new TextEncoder().encode(options.key ?? key));
};

describe('bearer token verification', () => {
  beforeEach(() => {
    process.env.AUTH_DEV_SIGNING_KEY = key;
  });
  afterEach(() => {
    delete process.env.AUTH_DEV_SIGNING_KEY;
  });

  it('accepts a development token and reads its roles', async () => {
    const token = await signDevToken({
      key,
      role: ['contributor'],
      sub: 'bob',
      issuer: 'outflow-local',
      audience: 'outflow-api',
      name: 'Bob',
    });
    await expect(verifyBearer(`Bearer ${token}`)).resolves.toEqual({ id: 'bob', name: 'Bob', roles: ['contributor'] });
  });

  it('ignores roles it does not know', async () => {
    const principal = await verifyBearer(`Bearer ${await sign({ roles: ['admin', 'root'] })}`);
    expect(principal.roles).toEqual(['admin']);
  });

  it.each([
    ['no header', async () => null, /bearer token/i],
    ['not bearer', async () => 'Basic abc', /Bearer <JWT>/],
    [
      'alg none',
      async () =>
        `Bearer ${new UnsecuredJWT({ roles: ['admin'] }).setSubject('x').setIssuer('outflow-local').setAudience('outflow-api').encode()}`,
      /rejected/,
    ],
    [
      'wrong signature',
      async () => `Bearer ${await sign({ roles: ['admin'] }, { key: 'another-key-0123456789abcdef012345' })}`,
      /signature/,
    ],
    ['expired', async () => `Bearer ${await sign({ roles: ['admin'] }, { exp: Math.floor(Date.now() / 1000) - 3600 })}`, /expired/],
    ['not yet valid', async () => `Bearer ${await sign({ roles: ['admin'] }, { nbf: Math.floor(Date.now() / 1000) + 3600 })}`, /nbf/],
    ['wrong issuer', async () => `Bearer ${await sign({ roles: ['admin'] }, { issuer: 'evil' })}`, /iss/],
    ['wrong audience', async () => `Bearer ${await sign({ roles: ['admin'] }, { audience: 'other-api' })}`, /aud/],
    ['no expiry (exp)', async () => `Bearer ${await sign({ roles: ['admin'] }, { exp: null })}`, /no expiry \(exp claim\)/],
    ['roles as a string', async () => `Bearer ${await sign({ roles: 'admin' })}`, /"roles" claim must be an array/],
    [
      'roles holding a non-string',
      async () => `Bearer ${await sign({ roles: ['admin', 7] })}`,
      /"roles" claim must be an array of strings/,
    ],
    ['garbage', async () => 'Bearer not.a.jwt', /rejected/],
  ])('refuses %s with 401', async (_name, header, message) => {
    const error = await verifyBearer(await header()).catch((caught) => caught);
    expect(error).toMatchObject({ status: 401 });
    expect(error.message).toMatch(message);
  });
});
