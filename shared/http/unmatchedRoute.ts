// Answers the requests no route takes: 404 for a path the API does not have, 405 with Allow for a
// method a path does not take, both as problem details. Registered as a catch-all function route,
// so it holds in Azure as in the local host: the runtime routes literal and parameter segments
// before a catch-all (ASP.NET Core route precedence,
// https://learn.microsoft.com/aspnet/core/fundamentals/routing#route-template-precedence-and-order-of-endpoint-selection).
import type { HttpResponseInit } from '@azure/functions';
import { declaredRoutes } from './route.js';
import { problem } from './problem.js';

/** Methods a path takes, sorted; HEAD goes with GET. */
export function allowedMethods(path: string, routes = declaredRoutes): string[] {
  const segments = path.split('/').filter((part) => part !== '');
  const allowed = new Set<string>();
  for (const route of routes) {
    if (!templateMatches(route.route, segments)) continue;
    allowed.add(route.method);
    if (route.method === 'GET') allowed.add('HEAD');
  }
  return [...allowed].sort();
}

function templateMatches(template: string, segments: string[]): boolean {
  const parts = template.split('/').filter((part) => part !== '');
  if (parts.length !== segments.length) return false;
  return parts.every((part, index) =>
    /^\{[^}]+\}$/.test(part) ? segments[index] !== '' : part.toLowerCase() === segments[index]!.toLowerCase(),
  );
}

export function answerUnmatched(method: string, path: string): HttpResponseInit {
  const allowed = allowedMethods(path);
  const shown = `/api/${path.replace(/^\/+/, '')}`;
  let response: HttpResponseInit;
  if (allowed.length === 0) {
    response = problem(404, 'Not found', `There is no route ${shown}. GET /api/openapi.json lists every route.`);
  } else if (method === 'OPTIONS') {
    response = { status: 204, headers: { allow: [...allowed, 'OPTIONS'].join(', ') } };
  } else {
    response = problem(405, 'Method not allowed', `${shown} does not take ${method}; it takes ${allowed.join(', ')}.`);
    response.headers = { ...(response.headers as Record<string, string>), allow: allowed.join(', ') };
  }
  if (method === 'HEAD') delete response.body;
  return response;
}
