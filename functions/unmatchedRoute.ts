// The catch-all route: problem details for unknown paths (404) and wrong methods (405, Allow).
import { app } from '@azure/functions';
import { answerUnmatched } from '../shared/http/unmatchedRoute.js';

app.http('unmatchedRoute', {
  methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
  route: '{*path}',
  authLevel: 'anonymous',
  handler: async (request) => answerUnmatched(request.method.toUpperCase(), request.params.path ?? ''),
});
