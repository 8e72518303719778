// The OpenAPI document holds every route every function file declares, and is valid OpenAPI 3.1
// by the official schema, with each path parameter, the bearer scheme and problem responses.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { declaredRoutes } from '../../shared/http/route.js';
import { buildOpenApiDocument, openApiPath, type OpenApiDocument } from '../../shared/http/openApiDocument.js';
import { PROJECT_DIR } from '../../local/stack.js';

let document: OpenApiDocument;

beforeAll(async () => {
  // Outside the Functions runtime app.http only warns; the routes still land in declaredRoutes.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  const folder = join(PROJECT_DIR, 'functions');
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts'))) await import(pathToFileURL(join(folder, file)).href);
  document = buildOpenApiDocument();
});

describe('the OpenAPI document', () => {
  it("is valid OpenAPI 3.1 by the specification's schema", async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(document)));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every declared route with its method, parameters and roles', () => {
    expect(declaredRoutes.length).toBeGreaterThanOrEqual(20);
    for (const route of declaredRoutes) {
      const { path, params } = openApiPath(route.route);
      const operation = (document.paths?.[path] as Record<string, any> | undefined)?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${path}`).toBeDefined();
      expect(operation.operationId).toBe(route.name);
      const pathParams = (operation.parameters ?? []).filter((parameter: { in: string }) => parameter.in === 'path');
      expect(pathParams.map((parameter: { name: string }) => parameter.name).sort()).toEqual([...params].sort());
      expect(pathParams.every((parameter: { required: boolean }) => parameter.required)).toBe(true);
      expect(operation['x-roles']).toEqual(route.roles === 'anonymous' ? ['anonymous'] : route.roles);
      if (route.roles === 'anonymous') {
        expect(operation.security).toEqual([]);
      } else {
        expect(operation.security).toEqual([{ bearerAuth: [] }]);
        expect(operation.responses['401'].content['application/problem+json']).toBeDefined();
        expect(operation.responses['403'].content['application/problem+json']).toBeDefined();
        // Every authenticated route is behind the per-caller rate limit.
        expect(operation.responses['429'].content['application/problem+json'], `${route.name} 429`).toBeDefined();
        expect(operation.responses['429'].headers['Retry-After'].schema).toMatchObject({ type: 'integer' });
      }
      if (route.body) {
        expect(operation.requestBody.content['application/json'].schema).toBeDefined();
        for (const status of ['400', '413', '415', '422']) expect(operation.responses[status], `${route.name} ${status}`).toBeDefined();
      }
      if (['PATCH', 'PUT', 'DELETE'].includes(route.method)) expect(operation.responses['412']).toBeDefined();
    }
  });

  it('holds no operation that is not a declared route', () => {
    const declared = new Set(declaredRoutes.map((route) => `${route.method.toLowerCase()} ${openApiPath(route.route).path}`));
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const method of Object.keys(item as object)) expect(declared.has(`${method} ${path}`), `${method} ${path}`).toBe(true);
    }
  });

  it('describes request bodies and queries from the validating schemas', () => {
    const createConnection = (document.paths!['/connections'] as any).post;
    const body = createConnection.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(expect.arrayContaining(['name', 'type', 'privacyConsent']));
    expect(body.additionalProperties).toBe(false);
    const listExports = (document.paths!['/exports'] as any).get;
    const sort = listExports.parameters.find((parameter: { name: string }) => parameter.name === 'sort');
    expect(sort.schema.enum).toContain('connectionName');
    expect(document.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(document.components?.schemas?.Problem).toBeDefined();
  });

  it("describes the start-run body and answer, the records route's CSV, and each tag once", () => {
    const startRun = (document.paths!['/exports/{id}/runs'] as any).post;
    expect(startRun.requestBody.required).toBe(false);
    expect(startRun.requestBody.content['application/json'].schema.properties.fullResync).toMatchObject({ type: 'boolean' });
    const accepted = startRun.responses['202'].content['application/json'].schema;
    expect(accepted.required).toEqual(expect.arrayContaining(['runId', 'status']));
    expect(accepted.properties.status.enum).toContain('queued');
    const records = (document.paths!['/exports/{id}/runs/{runId}/records'] as any).get;
    expect(records.responses['200'].content['text/csv'].schema).toMatchObject({ type: 'string' });
    const tags = (document.tags ?? []).map((tag) => tag.name);
    expect(tags).toEqual([...new Set(tags)].sort());
    const used = Object.values(document.paths ?? {}).flatMap((item) =>
      Object.values(item as Record<string, { tags?: string[] }>).flatMap((operation) => operation.tags ?? []),
    );
    expect(new Set(tags)).toEqual(new Set(used));
    expect((document.tags ?? []).every((tag) => tag.description)).toBe(true);
  });

  it("bounds the schedule's days: at most 7, each once", () => {
    const found: unknown[] = [];
    JSON.stringify(document, (key, value: unknown) => {
      if (key === 'daysOfWeek') found.push(value);
      return value;
    });
    expect(found.length).toBeGreaterThan(0);
    for (const daysOfWeek of found) expect(daysOfWeek).toMatchObject({ type: 'array', minItems: 1, maxItems: 7, uniqueItems: true });
  });

  it('turns Functions route templates into OpenAPI paths', () => {
    expect(openApiPath('exports/{id}/runs/{runId}')).toEqual({ path: '/exports/{id}/runs/{runId}', params: ['id', 'runId'] });
    expect(openApiPath('items/{id:int}/{rest?}')).toEqual({ path: '/items/{id}/{rest}', params: ['id', 'rest'] });
    expect(openApiPath('health')).toEqual({ path: '/health', params: [] });
  });
});
