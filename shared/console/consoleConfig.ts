// What the console page needs to know to sign people in, from the app's settings. It is written
// into the page (a <meta> tag, never an inline script) and shapes the Content-Security-Policy.
import { setting } from '../settings.js';

export interface ConsoleConfig {
  /** Microsoft Entra ID sign-in (authorization code + PKCE with MSAL), when the settings name an app registration. */
  entra?: { clientId: string; authority: string; scopes: string[] };
  /** Local stack only: the page may exchange npm start's one-time sign-in code and accept pasted development tokens. */
  localTokens: boolean;
}

/** Entra ID's sign-in host for the public cloud (https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud). */
export const ENTRA_LOGIN_ORIGIN = 'https://login.microsoftonline.com';

export function consoleConfig(): ConsoleConfig {
  const clientId = setting('CONSOLE_AUTH_CLIENT_ID');
  const tenant = setting('CONSOLE_AUTH_TENANT_ID');
  const scope = setting('CONSOLE_AUTH_API_SCOPE');
  const entra =
    clientId && tenant && scope
      ? { clientId, authority: `${ENTRA_LOGIN_ORIGIN}/${tenant}`, scopes: scope.split(/[\s,]+/).filter(Boolean) }
      : undefined;
  // Development tokens are only accepted where the API verifies them (no Entra ID keys configured).
  const localTokens = !setting('AUTH_JWKS_URL') && !!setting('AUTH_DEV_SIGNING_KEY');
  return { ...(entra ? { entra } : {}), localTokens };
}

/**
 * Scripts and styles from this origin only, nothing inline, no framing; with Entra ID configured,
 * MSAL may also call the sign-in host (token endpoint, silent renewal in a hidden frame).
 */
export function contentSecurityPolicy(config: ConsoleConfig): string {
  const login = config.entra ? ` ${ENTRA_LOGIN_ORIGIN}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${login}`,
    `frame-src ${config.entra ? ENTRA_LOGIN_ORIGIN : "'none'"}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
