// Development tokens for the local stack, signed with AUTH_DEV_SIGNING_KEY.
import { SignJWT } from 'jose';
import type { Role } from './principal.js';

export async function signDevToken(options: {
  key: string;
  role: Role | Role[];
  sub: string;
  issuer: string;
  audience: string;
  expiresIn?: string;
  name?: string;
}): Promise<string> {
  const roles = Array.isArray(options.role) ? options.role : [options.role];
  return new SignJWT({ roles, ...(options.name ? { name: options.name } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h')
    .sign(new TextEncoder().encode(options.key));
}
