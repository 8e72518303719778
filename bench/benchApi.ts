// The management API as a benchmark calls it: as an admin, JSON in and out, any error fatal.
import { signDevToken } from '../shared/auth/devToken.js';

export type ApiCall = (method: string, path: string, body?: unknown) => Promise<any>;

export async function adminApi(apiUrl: string, signingKey: string): Promise<ApiCall> {
  const token = await signDevToken({ key: signingKey, role: 'admin', sub: 'bench', issuer: 'outflow-local', audience: 'outflow-api' });
  return async (method, path, body) => {
    const response = await fetch(`${apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const json = (await response.json()) as any;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
}
