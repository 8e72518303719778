import { defineRoute, json } from '../shared/http/route.js';
import { openApiDocument } from '../shared/http/openApiDocument.js';

defineRoute({
  name: 'getOpenApi',
  method: 'GET',
  route: 'openapi.json',
  summary: 'This API as an OpenAPI 3.1 document, generated from the schemas that validate requests (no auth).',
  roles: 'anonymous',
  handle: async () => json(200, openApiDocument()),
});
