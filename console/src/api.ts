// Calls to the Outflow API with the signed-in user's bearer token; failures become ApiError with
// the RFC 9457 problem details the API answers (errors[].path names the field to fix).
import { currentToken, signedOut } from './auth.js';

export const API_BASE = '/api';

export interface FieldError {
  path: string;
  message: string;
  exportId?: string;
}

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  etag: string | null;
  headers: Headers;
}

export async function request<T = unknown>(
  method: string,
  path: string,
  options: { body?: unknown; ifMatch?: string | null; accept?: string; query?: Record<string, string | number | undefined> } = {},
): Promise<ApiResponse<T>> {
  const url = new URL(API_BASE + path, location.origin);
  for (const [name, value] of Object.entries(options.query ?? {}))
    if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  const token = await currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.ifMatch) headers['if-match'] = options.ifMatch;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError({
      title: 'Network error',
      status: 0,
      detail: `The API could not be reached (${(error as Error).message}). Is the app running?`,
    });
  }
  const type = response.headers.get('content-type') ?? '';
  const body = type.includes('json')
    ? ((await response.json().catch(() => undefined)) as unknown)
    : response.status === 204
      ? undefined
      : await response.text();
  if (!response.ok) {
    const problem: Problem =
      body && typeof body === 'object'
        ? (body as Problem)
        : { title: response.statusText || 'Error', status: response.status, detail: String(body ?? '') };
    if (response.status === 401) signedOut(problem.detail);
    throw new ApiError({ ...problem, status: response.status });
  }
  return { status: response.status, body: body as T, etag: response.headers.get('etag'), headers: response.headers };
}

export const get = <T>(path: string, query?: Record<string, string | number | undefined>) => request<T>('GET', path, { query });
export const post = <T>(path: string, body?: unknown, query?: Record<string, string | number | undefined>) =>
  request<T>('POST', path, { body, query });

/** The message to show for any failure (problem details' detail, or the error's text). */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.problem.detail || error.problem.title;
  return (error as Error)?.message ?? String(error);
}
