// Declares an HTTP route once: registration with the Functions runtime, auth by role, zod
// validation of params/query/body, problem details for every failure, and the OpenAPI entry.
import { app, type FunctionOutput, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType, ValidationFailed } from '../errors.js';
import { summarize, toFieldErrors } from '../validation.js';
import { verifyBearer } from '../auth/verifyToken.js';
import type { Principal, Role } from '../auth/principal.js';
import { hasRole } from '../auth/principal.js';
import { toProblem } from './problem.js';
import { CallerRateLimit, callerRateLimitOptions, tooManyRequests } from './rateLimit.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/** Deeper JSON is no real request, and walking it (validation, JSON.stringify) would overflow the stack. */
export const MAX_JSON_DEPTH = 64;

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteInput<P, Q, B> {
  principal: Principal;
  params: P;
  query: Q;
  body: B;
  request: HttpRequest;
  context: InvocationContext;
  /** The If-Match header, for optimistic concurrency on updates. */
  ifMatch: string | undefined;
}

export interface RouteSpec<P, Q, B> {
  /** Function name (unique). */
  name: string;
  method: Method;
  /** Route under /api, Functions syntax: `exports/{id}/runs`. */
  route: string;
  summary: string;
  /** Roles allowed; 'anonymous' skips authentication. */
  roles: Role[] | 'anonymous';
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** The body may be left out (it is then parsed as {}). */
  bodyOptional?: boolean;
  /** Schema of the success body, for the OpenAPI document. */
  response?: {
    status: number;
    schema?: z.ZodType;
    description: string;
    /** Other representations of the success body, by media type (e.g. text/csv on Accept). */
    alternatives?: Record<string, z.ZodType>;
  };
  /**
   * Output bindings the handler may set through `context.extraOutputs` (e.g. a storage-queue
   * message the runtime sends once the function has returned).
   */
  extraOutputs?: FunctionOutput[];
  handle(input: RouteInput<P, Q, B>): Promise<HttpResponseInit>;
}

/** Every declared route, for the OpenAPI document and the role-matrix tests. */
export const declaredRoutes: AnyRouteSpec[] = [];

/** A route of any input shape: the list holds them all, and each handle() takes only its own input. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- no narrower type is assignable from every RouteSpec<P, Q, B>
export type AnyRouteSpec = RouteSpec<any, any, any>;

export function defineRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined>(spec: RouteSpec<P, Q, B>): void {
  declaredRoutes.push(spec);
  app.http(spec.name, {
    // The Functions runtime answers only the methods a function declares, HEAD included
    // (https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#http-methods).
    methods: spec.method === 'GET' ? ['GET', 'HEAD'] : [spec.method],
    route: spec.route,
    authLevel: 'anonymous',
    ...(spec.extraOutputs ? { extraOutputs: spec.extraOutputs } : {}),
    handler: (request, context) => handleRequest(spec, request, context),
  });
}

async function handleRequest<P, Q, B>(
  spec: RouteSpec<P, Q, B>,
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  try {
    const principal = spec.roles === 'anonymous' ? anonymous : await verifyBearer(request.headers.get('authorization'));
    if (spec.roles !== 'anonymous') {
      callerRateLimit ??= new CallerRateLimit(callerRateLimitOptions());
      const decision = callerRateLimit.take(principal.id);
      if (!decision.allowed) return tooManyRequests(decision.retryAfterSeconds, callerRateLimit.options);
    }
    if (spec.roles !== 'anonymous' && !hasRole(principal, ...spec.roles)) {
      throw new Forbidden(
        `This action needs one of the roles: ${spec.roles.join(', ')}. Your token has: ${principal.roles.join(', ') || 'none'}.`,
      );
    }
    const params = parse(spec.params, request.params, 'path') as P;
    const query = parse(spec.query, Object.fromEntries(request.query.entries()), 'query') as Q;
    const body = (spec.body ? parse(spec.body, await readJson(request, spec.bodyOptional ?? false), 'body') : undefined) as B;
    const response = await spec.handle({
      principal,
      params,
      query,
      body,
      request,
      context,
      ifMatch: request.headers.get('if-match') ?? undefined,
    });
    return request.method === 'HEAD' ? withoutBody(response) : response;
  } catch (error) {
    const response = toProblem(error, context);
    return request.method === 'HEAD' ? withoutBody(response) : response;
  }
}

/** HEAD answers with GET's status and headers, and no body (RFC 9110 §9.3.2). */
function withoutBody(response: HttpResponseInit): HttpResponseInit {
  const rest = { ...response };
  delete rest.body;
  delete rest.jsonBody;
  return rest;
}

const anonymous: Principal = { id: 'anonymous', name: 'anonymous', roles: [] };
/** One budget per authenticated caller, shared by every route of this instance (made on first use: it reads a setting). */
let callerRateLimit: CallerRateLimit | undefined;

function parse(schema: z.ZodType | undefined, value: unknown, where: 'path' | 'query' | 'body'): unknown {
  if (!schema) return where === 'body' ? undefined : value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationFailed(
    `The request ${where === 'body' ? 'body' : where === 'path' ? 'path' : 'query string'} is not valid: ${summarize(result.error)}`,
    toFieldErrors(result.error, where),
  );
}

async function readJson(request: HttpRequest, optional: boolean): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new PayloadTooLarge(`The body is ${declared} bytes; the limit is ${MAX_BODY_BYTES} bytes.`);
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLarge(`The body is larger than the limit of ${MAX_BODY_BYTES} bytes.`);
  if (text.trim() === '') {
    if (optional) return {};
    throw new BadRequest('This request needs a JSON body.');
  }
  checkJsonContentType(request.headers.get('content-type'));
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new BadRequest(`The body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep.`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequest(`The body is not valid JSON: ${(error as Error).message}.`);
  }
}

/**
 * A body is JSON only when the caller says so: Content-Type application/json (or a +json type),
 * in UTF-8, the only encoding JSON has between systems (RFC 8259 §8.1).
 */
export function checkJsonContentType(contentType: string | null): void {
  if (!contentType) throw new UnsupportedMediaType('Send the body with the header Content-Type: application/json.');
  const [mediaType, ...parameters] = contentType.split(';').map((part) => part.trim());
  if (!/^application\/([a-z0-9.+-]*\+)?json$/i.test(mediaType ?? ''))
    throw new UnsupportedMediaType(`Send the body as application/json (got ${mediaType || 'an empty Content-Type'}).`);
  for (const parameter of parameters) {
    const [name, value] = parameter.split('=').map((part) => part.trim().replace(/^"|"$/g, ''));
    if (name?.toLowerCase() === 'charset' && !/^utf-?8$/i.test(value ?? '')) {
      throw new UnsupportedMediaType(
        `Send the body in UTF-8 (Content-Type: application/json; charset=utf-8), not ${value || 'an empty charset'}.`,
      );
    }
  }
}

/** The deepest nesting of objects and arrays in JSON text (brackets inside strings do not count). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c)
        index++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (char === 0x7d || char === 0x5d) depth--;
  }
  return deepest;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
