// Microsoft Entra ID sign-in with MSAL.js: authorization code flow with PKCE, by redirect, in a
// separate script chunk that only apps configured for Entra ID load.
// https://learn.microsoft.com/entra/identity-platform/tutorial-v2-javascript-auth-code
import { InteractionRequiredAuthError, PublicClientApplication, type AccountInfo } from '@azure/msal-browser';

export async function createEntraSession(settings: { clientId: string; authority: string; scopes: string[] }) {
  const redirectUri = `${location.origin}/api/console/`;
  const client = new PublicClientApplication({
    auth: { clientId: settings.clientId, authority: settings.authority, redirectUri, postLogoutRedirectUri: redirectUri },
    cache: { cacheLocation: 'sessionStorage' },
  });
  await client.initialize();
  const result = await client.handleRedirectPromise();
  let account: AccountInfo | null = result?.account ?? client.getAllAccounts()[0] ?? null;
  return {
    async signIn() {
      await client.loginRedirect({ scopes: settings.scopes });
    },
    async getToken(): Promise<string | undefined> {
      if (!account) return undefined;
      try {
        return (await client.acquireTokenSilent({ scopes: settings.scopes, account })).accessToken;
      } catch (error) {
        if (error instanceof InteractionRequiredAuthError) {
          await client.acquireTokenRedirect({ scopes: settings.scopes, account });
          return undefined;
        }
        throw error;
      }
    },
    async signOut() {
      const current = account;
      account = null;
      await client.logoutRedirect(current ? { account: current } : {});
    },
  };
}
