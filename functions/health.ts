import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';

defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  summary: 'Liveness: answers when the app is up (no auth).',
  roles: 'anonymous',
  response: { status: 200, schema: z.object({ status: z.literal('ok'), time: z.string() }), description: 'The app is up' },
  handle: async () => json(200, { status: 'ok', time: new Date().toISOString() }),
});
