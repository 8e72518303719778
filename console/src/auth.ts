// Who is signed in. Locally: a development token, from npm start's one-time console link or pasted
// by the user (npm run -s token); in Azure: Microsoft Entra ID through MSAL (authorization code +
// PKCE), loaded only when the app is configured for it. Tokens stay in this tab's sessionStorage
// (or MSAL's cache) and travel only in Authorization headers, never in a URL.

export interface ConsoleConfig {
  entra?: { clientId: string; authority: string; scopes: string[] };
  localTokens: boolean;
}

export interface Claims {
  sub?: string;
  oid?: string;
  name?: string;
  preferred_username?: string;
  roles?: string[] | string;
  exp?: number;
}

interface EntraSession {
  signIn(): Promise<void>;
  getToken(): Promise<string | undefined>;
  signOut(): Promise<void>;
}

const TOKEN_KEY = 'outflow.console.token';

export const config: ConsoleConfig = (() => {
  try {
    return JSON.parse(document.querySelector('meta[name="outflow-console"]')?.getAttribute('content') ?? '{}') as ConsoleConfig;
  } catch {
    return { localTokens: false };
  }
})();

let entra: EntraSession | undefined;
let signedOutMessage: string | undefined;
let onSignedOut: (() => void) | undefined;

export function decodeClaims(token: string): Claims | undefined {
  try {
    const payload = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(payload)))) as Claims;
  } catch {
    return undefined;
  }
}

export function rolesOf(claims: Claims | undefined): string[] {
  const roles = claims?.roles;
  return Array.isArray(roles) ? roles : typeof roles === 'string' ? [roles] : [];
}

export async function currentToken(): Promise<string | undefined> {
  if (entra) return entra.getToken();
  const token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  const claims = token ? decodeClaims(token) : undefined;
  if (token && claims?.exp && claims.exp * 1000 < Date.now()) {
    sessionStorage.removeItem(TOKEN_KEY);
    signedOutMessage = 'Your token has expired: sign in again.';
    return undefined;
  }
  return token;
}

export async function currentClaims(): Promise<Claims | undefined> {
  const token = await currentToken();
  return token ? decodeClaims(token) : undefined;
}

/** A pasted development token: checked for shape here, for its signature by the API on first use. */
export function useToken(token: string): Claims {
  const trimmed = token.trim().replace(/^Bearer\s+/i, '');
  const claims = decodeClaims(trimmed);
  if (!claims || trimmed.split('.').length !== 3)
    throw new Error('That is not a token: paste the whole output of npm run -s token (three parts separated by dots).');
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new Error('That token has expired: make a new one with npm run -s token.');
  sessionStorage.setItem(TOKEN_KEY, trimmed);
  signedOutMessage = undefined;
  return claims;
}

export function signedOut(message?: string): void {
  sessionStorage.removeItem(TOKEN_KEY);
  signedOutMessage = message;
  onSignedOut?.();
}

export function takeSignedOutMessage(): string | undefined {
  const message = signedOutMessage;
  signedOutMessage = undefined;
  return message;
}

export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

export async function signOut(): Promise<void> {
  sessionStorage.removeItem(TOKEN_KEY);
  if (entra) await entra.signOut();
}

/**
 * Runs once as the page loads. A `#code=…` fragment (npm start's link) is removed from the
 * address bar and history first, then traded once for an admin token. With Entra ID configured,
 * MSAL finishes a sign-in redirect that has just come back.
 */
export async function startSession(): Promise<string | undefined> {
  const code = /^#code=([A-Za-z0-9_-]{16,200})$/.exec(location.hash)?.[1];
  if (code) {
    history.replaceState(null, '', `${location.pathname}#/exports`);
    const response = await fetch('/api/console/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
      cache: 'no-store',
    });
    const body = (await response.json().catch(() => ({}))) as { token?: unknown; detail?: string };
    if (response.ok && typeof body.token === 'string') useToken(body.token);
    else return body.detail ?? 'The sign-in link did not work: paste a token instead.';
  }
  if (config.entra && !sessionStorage.getItem(TOKEN_KEY)) {
    const { createEntraSession } = await import('./msal.js');
    entra = await createEntraSession(config.entra);
  }
  return undefined;
}

export async function signInWithMicrosoft(): Promise<void> {
  if (!entra) throw new Error('Microsoft sign-in is not configured for this app.');
  await entra.signIn();
}
