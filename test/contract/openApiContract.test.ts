// The request checker on two small documents written here (one OpenAPI 3.0, one Swagger 2.0, of an
// imaginary mailing API): whatever vendor documents are present, a request shape outside the
// document it is checked against fails.
import { describe, expect, it } from 'vitest';
import { ContractDocument } from './openApiContract.js';

const openApi = new ContractDocument({
  openapi: '3.0.0',
  info: { title: 'Sample mailing API', version: '1' },
  servers: [{ url: 'https://api.example.test/v1' }],
  paths: {
    '/lists/{listId}': {
      get: { parameters: [{ name: 'listId', in: 'path', required: true, schema: { type: 'integer' } }] },
    },
    '/lists/{listId}/import/{mode}': {
      post: {
        parameters: [
          { name: 'listId', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'mode', in: 'path', required: true, schema: { $ref: '#/components/schemas/Mode' } },
          { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Import' } } } },
      },
    },
  },
  components: {
    schemas: {
      Mode: { type: 'string', enum: ['Add', 'Replace'] },
      Import: {
        type: 'object',
        required: ['contacts'],
        properties: {
          contacts: { type: 'array', items: { $ref: '#/components/schemas/Contact' } },
          note: { type: 'string', nullable: true },
        },
      },
      Contact: {
        type: 'object',
        required: ['email'],
        properties: { email: { type: 'string', format: 'email' }, name: { type: 'string' } },
      },
    },
  },
});

const swagger = new ContractDocument({
  swagger: '2.0',
  info: { title: 'Sample mailing API', version: '2' },
  basePath: '/api',
  consumes: ['application/json'],
  paths: {
    '/lists/subscribe': {
      post: { parameters: [{ name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/Subscribe Request' } }] },
    },
    '/lists/{listId}': { delete: { parameters: [{ name: 'listId', in: 'path', required: true, type: 'integer' }] } },
  },
  definitions: {
    'Subscribe Request': {
      type: 'object',
      required: ['listId'],
      properties: {
        listId: { type: 'integer' },
        subscribers: { type: 'array', items: { type: 'object', properties: { email: { type: 'string' } } } },
      },
    },
  },
});

describe('ContractDocument (OpenAPI 3.0)', () => {
  const url = 'https://api.example.test/v1/lists/7/import/Add';
  const body = { contacts: [{ email: 'a@example.test', name: 'A' }], note: null };

  it('passes a request the document describes', () => {
    expect(openApi.check({ method: 'POST', url, contentType: 'application/json', body })).toEqual([]);
    expect(openApi.check({ method: 'POST', url: `${url}?dryRun=true`, contentType: 'application/json; charset=utf-8', body })).toEqual([]);
    expect(openApi.check({ method: 'GET', url: 'https://api.example.test/v1/lists/7' })).toEqual([]);
  });

  it('fails every shape outside it', () => {
    const check = (request: Parameters<ContractDocument['check']>[0]) => openApi.check(request).join('\n');
    expect(check({ method: 'POST', url, contentType: 'application/json', body: { ...body, extra: 1 } })).toContain("'extra'");
    expect(
      check({ method: 'POST', url, contentType: 'application/json', body: { contacts: [{ email: 'a@example.test', phone: '1' }] } }),
    ).toContain("'phone'");
    expect(check({ method: 'POST', url, contentType: 'application/json', body: { contacts: [{ email: 'not an email' }] } })).toContain(
      'must match format "email"',
    );
    expect(check({ method: 'POST', url, contentType: 'application/json', body: {} })).toContain("must have required property 'contacts'");
    expect(check({ method: 'POST', url, contentType: 'text/csv', body })).toContain("content type 'text/csv'");
    expect(check({ method: 'POST', url })).toContain('requires a body');
    expect(check({ method: 'POST', url: url.replace('Add', 'Merge'), contentType: 'application/json', body })).toContain(
      'mode must be one of Add, Replace',
    );
    expect(check({ method: 'POST', url: `${url}?dryRun=maybe`, contentType: 'application/json', body })).toContain('must be true or false');
    expect(check({ method: 'POST', url: `${url}?force=1`, contentType: 'application/json', body })).toContain(
      "query parameter 'force' is not declared",
    );
    expect(check({ method: 'GET', url: 'https://api.example.test/v1/lists/newsletter' })).toContain('must be an integer');
    expect(check({ method: 'DELETE', url: 'https://api.example.test/v1/lists/7' })).toContain('is not an operation');
    expect(check({ method: 'GET', url: 'https://api.example.test/v1/contacts' })).toContain('matches no path');
    expect(check({ method: 'GET', url: 'https://api.example.test/v1/lists/7', contentType: 'application/json', body: {} })).toContain(
      'takes no body',
    );
  });
});

describe('ContractDocument (Swagger 2.0)', () => {
  const url = 'https://api.example.test/api/lists/subscribe';

  it('passes a request the document describes, literal paths before templated ones', () => {
    expect(
      swagger.check({
        method: 'POST',
        url,
        contentType: 'application/json',
        body: { listId: 1, subscribers: [{ email: 'a@example.test' }] },
      }),
    ).toEqual([]);
    expect(swagger.check({ method: 'DELETE', url: 'https://api.example.test/api/lists/3' })).toEqual([]);
  });

  it('fails every shape outside it, with definition names that have spaces', () => {
    expect(swagger.check({ method: 'POST', url, contentType: 'application/json', body: { listId: '1' } }).join()).toContain(
      '/listId must be integer',
    );
    expect(
      swagger
        .check({
          method: 'POST',
          url,
          contentType: 'application/json',
          body: { listId: 1, subscribers: [{ email: 'a@example.test', fields: {} }] },
        })
        .join(),
    ).toContain("'fields'");
    expect(swagger.check({ method: 'POST', url, contentType: 'multipart/form-data; boundary=x', body: '--x' }).join()).toContain(
      "content type 'multipart/form-data'",
    );
    expect(swagger.check({ method: 'DELETE', url: 'https://api.example.test/api/lists/three' }).join()).toContain('must be an integer');
  });
});
