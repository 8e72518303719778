// Assertions shared by the API integration tests: problem details, and secrets that must appear
// nowhere the caller or an operator can read.
import { expect } from 'vitest';
import type { ApiClient, ApiResponse } from './apiClient.js';
import type { TestStack } from './testStack.js';

export function expectProblem(response: ApiResponse, status: number): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
}

/** The field paths a validation problem names. */
export function problemPaths(response: ApiResponse): string[] {
  return ((response.body?.errors ?? []) as { path: string }[]).map((error) => error.path);
}

/** Every audit entry of this month as text (admins only). */
export async function auditText(api: ApiClient): Promise<string> {
  const response = await api.get('/audit?top=1000');
  expect(response.status).toBe(200);
  return JSON.stringify(response.body);
}

/** No secret in any response the tests received, any host log line, or any audit entry. */
export async function expectSecretsNowhere(stack: TestStack, secrets: string[]): Promise<void> {
  const audit = await auditText(stack.api);
  const transcript = stack.api.transcript.join('\n');
  const logs = stack.logs.join('\n');
  expect(transcript.length).toBeGreaterThan(0);
  for (const secret of secrets) {
    expect(transcript.includes(secret), `a response holds secret ${secret.slice(0, 4)}…`).toBe(false);
    expect(logs.includes(secret), `a log line holds secret ${secret.slice(0, 4)}…`).toBe(false);
    expect(audit.includes(secret), `an audit entry holds secret ${secret.slice(0, 4)}…`).toBe(false);
  }
}
