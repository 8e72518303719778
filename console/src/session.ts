// The signed-in user as the pages see it: name and roles (from the token's claims, for showing
// and hiding controls only — the API decides what is allowed).
import { currentClaims, rolesOf } from './auth.js';

export interface User {
  name: string;
  roles: string[];
  isAdmin: boolean;
  isWriter: boolean;
}

export async function currentUser(): Promise<User | undefined> {
  const claims = await currentClaims();
  if (!claims) return undefined;
  const roles = rolesOf(claims);
  return {
    name: claims.name ?? claims.preferred_username ?? claims.sub ?? 'signed in',
    roles,
    isAdmin: roles.includes('admin'),
    isWriter: roles.includes('admin') || roles.includes('contributor'),
  };
}
