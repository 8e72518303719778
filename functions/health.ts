import { defineRoute, json } from '../shared/http/route.js';

defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  summary: 'Liveness: answers when the app is up (no auth).',
  roles: 'anonymous',
  handle: async () => json(200, { status: 'ok', time: new Date().toISOString() }),
});
