// The console: a web page over this API, served by the app itself at /api/console (why not a
// Static Web App: README, The console), and the local sign-in code exchange.
import { app } from '@azure/functions';
import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { serveConsole } from '../shared/console/serveConsole.js';
import { exchangeSignInCode } from '../shared/console/localSignIn.js';

app.http('console', {
  methods: ['GET', 'HEAD'],
  route: 'console/{*path}',
  authLevel: 'anonymous',
  handler: async (request) =>
    serveConsole(request.params.path ?? '', { ifNoneMatch: request.headers.get('if-none-match'), head: request.method === 'HEAD' }),
});

defineRoute({
  name: 'consoleSignIn',
  method: 'POST',
  route: 'console/sign-in',
  summary:
    'Local stack only: trade the one-time code of the console link npm start prints for an admin development token (once). 404 where the code is not configured.',
  roles: 'anonymous',
  body: z.strictObject({ code: z.string().min(16, 'the code from the console link').max(200) }),
  response: {
    status: 200,
    schema: z.object({ token: z.string(), expiresIn: z.number().int() }),
    description: 'A development token for the console',
  },
  handle: async ({ body }) => json(200, await exchangeSignInCode(body.code), { 'cache-control': 'no-store' }),
});
