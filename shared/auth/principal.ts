export const ROLES = ['admin', 'contributor', 'viewer', 'system'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller. */
export interface Principal {
  /** Stable caller id (the token's `sub`, or `oid` for Entra ID). */
  id: string;
  /** Display name when the token has one, else the id. */
  name: string;
  roles: Role[];
}

export function hasRole(principal: Principal, ...roles: Role[]): boolean {
  return principal.roles.some((role) => roles.includes(role));
}
