// The OpenAPI 3.1 document, generated from the very zod schemas the routes validate with, so the
// contract cannot drift from the code. Built from `declaredRoutes` when first asked for: by then
// the host has loaded every function file.
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { declaredRoutes, MAX_BODY_BYTES, type AnyRouteSpec, type RouteSpec } from './route.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

export const BEARER_SCHEME = 'bearerAuth';

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const problemSchema = z
  .object({
    type: z.string().describe('A URI naming the kind of problem (stable per kind).'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What went wrong and what to change.'),
    errors: z
      .array(z.object({ path: z.string().describe('e.g. body.mapping.email'), message: z.string() }))
      .optional()
      .describe('One entry per invalid field (validation failures).'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

const ERROR_STATUSES: Record<number, string> = {
  400: 'Bad request: malformed JSON or a field that is not valid (errors[] names each)',
  401: 'No bearer token, or one that does not verify',
  403: "The caller's role may not do this",
  404: 'The resource does not exist (or is not visible to the caller)',
  409: 'Conflicts with the current state (e.g. a run in progress)',
  412: "If-Match does not match the resource's current ETag",
  413: `The body is larger than ${MAX_BODY_BYTES} bytes`,
  415: 'The body is not application/json',
  422: 'Valid, but not acceptable for the destination (e.g. an ineligible segment)',
  429: "The caller sent too many requests; wait the Retry-After header's seconds",
};

/** Top-level tags: the first path segment of each route, described once. */
const TAGS: Record<string, string> = {
  audit: 'Who changed what, newest first',
  console: "The web console's own routes",
  connections: 'Accounts at destinations, with their secrets kept in Key Vault',
  destinations: 'The destination types and what each needs',
  entities: "Entities of the platform's lake (data-out exports)",
  exports: 'Export definitions, schedules and runs',
  health: 'Liveness of the API',
  'openapi.json': 'This document',
  refreshes: "Refreshes of the platform's data, which schedules wait for",
  segments: 'Segments of the platform, with their eligibility per destination',
  webhooks: "Signed notifications of finished runs to the caller's endpoints",
};

/** `exports/{id:guid}/runs/{runId?}` → `/exports/{id}/runs/{runId}` and its parameter names. */
export function openApiPath(route: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = route.replace(/\{\*{0,2}([A-Za-z_]\w*)\??(?::[^}]*)?\}/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: `/${path.replace(/^\/+/, '')}`, params };
}

function errorStatusesFor(spec: RouteSpec<unknown, unknown, unknown>, hasParams: boolean): number[] {
  const statuses: number[] = [];
  if (spec.params || spec.query || spec.body) statuses.push(400);
  if (spec.roles !== 'anonymous') statuses.push(401, 403);
  if (hasParams) statuses.push(404);
  if (spec.method !== 'GET') statuses.push(409);
  if (spec.method === 'PATCH' || spec.method === 'PUT' || spec.method === 'DELETE') statuses.push(412);
  if (spec.body) statuses.push(413, 415, 422);
  if (spec.roles !== 'anonymous') statuses.push(429);
  return statuses;
}

function asObject(schema: z.ZodType | undefined): z.ZodObject | undefined {
  return schema instanceof z.ZodObject ? schema : undefined;
}

function routeConfig(spec: RouteSpec<unknown, unknown, unknown>): RouteConfig {
  const { path, params } = openApiPath(spec.route);
  // Path parameters the route declares without a schema are still listed, as strings.
  const paramsSchema =
    asObject(spec.params) ?? (params.length ? z.object(Object.fromEntries(params.map((name) => [name, z.string()]))) : undefined);
  const updates = spec.method === 'PATCH' || spec.method === 'PUT' || spec.method === 'DELETE';
  const problem = { content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } } };
  const responses: Record<string, ResponseConfig> = {
    [String(spec.response?.status ?? 200)]: {
      description: spec.response?.description ?? 'OK',
      ...(spec.response?.schema
        ? {
            content: {
              'application/json': { schema: spec.response.schema },
              ...Object.fromEntries(Object.entries(spec.response.alternatives ?? {}).map(([mediaType, schema]) => [mediaType, { schema }])),
            },
          }
        : {}),
    },
  };
  for (const status of errorStatusesFor(spec, params.length > 0))
    responses[String(status)] = { description: ERROR_STATUSES[status]!, ...problem };
  if (responses['429'])
    responses['429'].headers = {
      'Retry-After': { description: 'Seconds to wait before the next request.', schema: { type: 'integer', minimum: 1 } },
    };
  responses.default = { description: 'Any other failure, as problem details', ...problem };
  const roles = spec.roles === 'anonymous' ? [] : spec.roles;
  return {
    method: spec.method.toLowerCase() as RouteConfig['method'],
    path,
    operationId: spec.name,
    summary: spec.summary,
    description: spec.roles === 'anonymous' ? 'No authentication.' : `Roles: ${roles.join(', ')}.`,
    tags: [path.split('/')[1] ?? 'api'],
    security: spec.roles === 'anonymous' ? [] : [{ [BEARER_SCHEME]: [] }],
    'x-roles': spec.roles === 'anonymous' ? ['anonymous'] : roles,
    request: {
      ...(paramsSchema ? { params: paramsSchema } : {}),
      ...(asObject(spec.query) ? { query: asObject(spec.query) } : {}),
      ...(updates
        ? {
            headers: z.object({
              'If-Match': z
                .string()
                .max(256)
                .optional()
                .describe('The ETag read last; a mismatch is 412. Without it the write wins and is audited as such.'),
            }),
          }
        : {}),
      ...(spec.body ? { body: { required: !spec.bodyOptional, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses,
  };
}

export function buildOpenApiDocument(routes: readonly AnyRouteSpec[] = declaredRoutes): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'Entra ID token (or, locally, `npm run -s token`); the `roles` claim is an array holding admin, contributor, viewer or system. Tokens are checked as RFC8725 (JWT Best Current Practices) asks: pinned algorithms (RS256 with Entra ID, HS256 locally; never none), issuer and audience, and a required expiry (exp).',
  });
  for (const spec of [...routes].sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method)))
    registry.registerPath(routeConfig(spec));
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Outflow management API',
      version: '1.0.0',
      description:
        'Connections, destinations, segments, exports, runs and the audit log. Errors are RFC 9457 problem details (application/problem+json).',
    },
    // x-internal: the API is reachable from outside the network, behind Entra ID (OWASP API9 inventory).
    servers: [{ url: '/api', 'x-internal': false } as { url: string }],
    tags: [...new Set(routes.map((spec) => openApiPath(spec.route).path.split('/')[1] ?? 'api'))]
      .sort()
      .map((name) => ({ name, ...(TAGS[name] ? { description: TAGS[name] } : {}) })),
  });
}

let cached: { routeCount: number; document: OpenApiDocument } | undefined;

/** The document for every route declared so far (rebuilt if more were declared since). */
export function openApiDocument(): OpenApiDocument {
  if (cached?.routeCount !== declaredRoutes.length) cached = { routeCount: declaredRoutes.length, document: buildOpenApiDocument() };
  return cached.document;
}
