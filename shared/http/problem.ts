// RFC 9457 problem details: the one place where errors become HTTP answers.
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { DomainError, ValidationFailed } from '../errors.js';
import { createLogger, redactText } from '../observability/log.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problem(
  status: number,
  title: string,
  detail: string,
  extensions: Record<string, unknown> = {},
  type?: string,
): HttpResponseInit {
  return {
    status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE },
    body: JSON.stringify({ type: type ?? 'about:blank', title, status, detail, ...extensions }),
  };
}

/**
 * The Table Storage SDK decodes a caller's continuation token itself and fails with a bare
 * SyntaxError on one it did not make. Routes check their tokens first; this catches any route
 * that does not, so a wrong token is the caller's 400, not our 500.
 */
export function isUnreadableContinuationToken(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error instanceof SyntaxError || error instanceof TypeError) &&
    /\bdecodeContinuationToken\b/.test(error.stack ?? '')
  );
}

export function toProblem(error: unknown, context?: InvocationContext): HttpResponseInit {
  if (isUnreadableContinuationToken(error)) {
    error = new ValidationFailed(
      'The continuationToken is not one this API gave out: pass the token of the previous page unchanged, or leave it out for the first page.',
      [{ path: 'query.continuationToken', message: 'not a continuation token of this list' }],
    );
  }
  if (error instanceof DomainError) {
    const response = problem(error.status, error.title, error.message, error.extensions, error.type);
    if (error.status === 401) response.headers = { ...response.headers, 'www-authenticate': 'Bearer' };
    return response;
  }
  // Unknown failures: log with an id the caller can quote; never echo internals to the caller.
  const errorId = randomUUID();
  // Through the redacting logger: an SDK's or vendor's message in the stack may echo a secret.
  if (context)
    createLogger(context).error('Unhandled error', {
      errorId,
      error: redactText(error instanceof Error ? (error.stack ?? error.message) : String(error)),
    });
  return problem(500, 'Internal error', `Something went wrong on our side. Quote error id ${errorId} when reporting it.`, { errorId });
}
