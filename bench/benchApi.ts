// The management API as a benchmark calls it: as an admin, JSON in and out, any error fatal.
import { signDevToken } from '../shared/auth/devToken.js';

export type ApiCall = (method: string, path: string, body?: unknown) => Promise<any>;

export async function adminApi(apiUrl: string, signingKey: string): Promise<ApiCall> {
  const token = await signDevToken({ key: signingKey, role: 'admin', sub: 'bench', issuer: 'outflow-local', audience: 'outflow-api' });
  return async (method, path, body) => {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      // The local front door's own 502/503 (an instance busy or restarting on a loaded machine)
      // has no body: ask again rather than lose a setup that took minutes.
      if ((response.status === 502 || response.status === 503) && !text && attempt < 5) {
        await new Promise((resolve) => setTimeout(resolve, 2_000 * attempt));
        continue;
      }
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    }
  };
}
