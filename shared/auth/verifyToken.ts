// Bearer JWT verification with jose. In Azure, tokens come from Entra ID and are checked against
// its JWKS; locally a development HS256 key signs them (npm run -s token). Algorithms are pinned
// so `alg: none` or a key-type confusion can never pass.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { Unauthorized } from '../errors.js';
import { setting } from '../settings.js';
import { ROLES, type Principal, type Role } from './principal.js';

let remoteKeys: { url: string; keys: JWTVerifyGetKey } | undefined;

function verificationKey(): { key: Uint8Array | JWTVerifyGetKey; algorithms: string[] } {
  const jwksUrl = setting('AUTH_JWKS_URL');
  if (jwksUrl) {
    if (remoteKeys?.url !== jwksUrl) remoteKeys = { url: jwksUrl, keys: createRemoteJWKSet(new URL(jwksUrl)) };
    return { key: remoteKeys.keys, algorithms: ['RS256'] };
  }
  const devKey = setting('AUTH_DEV_SIGNING_KEY');
  if (!devKey) throw new Unauthorized('The API has no token verification configured (AUTH_JWKS_URL or, locally, AUTH_DEV_SIGNING_KEY).');
  return { key: new TextEncoder().encode(devKey), algorithms: ['HS256'] };
}

export async function verifyBearer(authorization: string | null): Promise<Principal> {
  if (!authorization) throw new Unauthorized('Send a bearer token: Authorization: Bearer <JWT>.');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw new Unauthorized('The Authorization header must be "Bearer <JWT>".');
  const { key, algorithms } = verificationKey();
  let payload: JWTPayload;
  try {
    const verified = await jwtVerify(match[1]!, key as Uint8Array, {
      issuer: setting('AUTH_ISSUER'),
      audience: setting('AUTH_AUDIENCE'),
      algorithms,
      clockTolerance: 30,
      // A token without exp would never expire; Entra ID always sets it.
      requiredClaims: ['exp'],
    });
    payload = verified.payload;
  } catch (error) {
    throw new Unauthorized(`The bearer token was rejected: ${describeJoseError(error)}.`);
  }
  const id = (payload.oid as string | undefined) ?? payload.sub;
  if (!id) throw new Unauthorized('The bearer token has no subject (sub).');
  return {
    id,
    name: (payload.name as string | undefined) ?? (payload.preferred_username as string | undefined) ?? id,
    roles: rolesOf(payload),
  };
}

/**
 * The roles claim is an array of strings, as Entra ID writes it (app roles,
 * https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference#payload-claims).
 * Anything else is a token made by hand that we refuse rather than guess at.
 */
function rolesOf(payload: JWTPayload): Role[] {
  const claim = payload.roles;
  if (claim === undefined) return [];
  if (!Array.isArray(claim) || !claim.every((value) => typeof value === 'string')) {
    throw new Unauthorized('The bearer token\'s "roles" claim must be an array of strings, e.g. ["admin"].');
  }
  return claim.filter((value): value is Role => (ROLES as readonly string[]).includes(value as string));
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'it has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp' && error.reason === 'missing')
    return 'it has no expiry (exp claim); sign tokens that expire';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim "${error.claim}" is not valid (${error.reason})`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'its algorithm is not allowed';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'it is not a well-formed JWT';
  return 'it could not be verified';
}
