import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { listAudit } from '../shared/audit/auditLog.js';

const auditEntry = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.object({ id: z.string(), name: z.string() }),
  action: z.string().describe('e.g. connection.created, export.updated, export.run, export.disconnected, connection.deleted'),
  target: z.object({ type: z.string(), id: z.string(), name: z.string().optional() }),
  details: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Names and ids only, never secret values; lastWriterWins: true when an update came without If-Match.'),
});

defineRoute({
  name: 'listAudit',
  method: 'GET',
  route: 'audit',
  summary: 'Who created, changed, ran, disconnected or removed what, and when; newest first, one month at a time (admins).',
  roles: ['admin'],
  query: z.strictObject({
    top: z.coerce.number().int().min(1).max(1000).default(100),
    month: z
      .string()
      .max(7)
      .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'use YYYY-MM, e.g. 2026-05')
      .optional()
      .describe('Defaults to the current month (UTC).'),
  }),
  response: { status: 200, schema: z.object({ items: z.array(auditEntry) }), description: 'Audit entries, newest first' },
  handle: async ({ query }) => json(200, { items: await listAudit({ top: query.top, month: query.month }) }),
});
