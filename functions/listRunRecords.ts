import { z } from 'zod';
import { defineRoute, json } from '../shared/http/route.js';
import { tableContinuationToken } from '../shared/storage/continuationToken.js';
import { exportId } from '../shared/exports/exportDefinition.js';
import { getRun } from '../shared/runs/runStore.js';
import { runId } from '../shared/runs/run.js';
import { listRecordOutcomes } from '../shared/runs/runLedger.js';
import { recordsAsCsv } from '../shared/runs/recordsCsv.js';

defineRoute({
  name: 'listRunRecords',
  method: 'GET',
  route: 'exports/{id}/runs/{runId}/records',
  summary: 'Per-record outcomes of a run (failed and skipped records), as JSON pages or CSV (Accept: text/csv).',
  roles: ['admin', 'contributor', 'viewer'],
  params: z.object({ id: exportId, runId }),
  query: z.strictObject({
    status: z.enum(['failed', 'skipped']).optional(),
    top: z.coerce.number().int().min(1).max(5000).default(1000),
    continuationToken: tableContinuationToken.optional(),
  }),
  response: {
    status: 200,
    schema: z.object({
      items: z.array(
        z.object({
          email: z.string(),
          key: z
            .string()
            .describe("The profile's key (the entity's primary key, e.g. CustomerId); '' for records stored before keys were kept"),
          status: z.string(),
          category: z.string(),
          code: z.string(),
          message: z.string(),
          segmentId: z.string(),
          operation: z
            .enum(['send', 'remove'])
            .describe('What failed: sending the member, or removing it from the list (delivery.removals)'),
          partition: z.string().describe("The source row's lake partition (blob name); '' when not known"),
          position: z.number().nullable().describe("The source row's byte offset in its partition; null when not known"),
        }),
      ),
      continuationToken: z.string().optional(),
    }),
    description: 'A page of failed and skipped records (or text/csv)',
    alternatives: {
      'text/csv': z
        .string()
        .describe(
          "With Accept: text/csv: the same page as CSV with a header row; the next page's token is in the x-continuation-token header.",
        ),
    },
  },
  handle: async ({ params, query, request }) => {
    await getRun(params.id, params.runId);
    const page = await listRecordOutcomes(params.runId, {
      status: query.status,
      top: query.top,
      continuationToken: query.continuationToken,
    });
    const next: Record<string, string> = page.continuationToken ? { 'x-continuation-token': page.continuationToken } : {};
    if ((request.headers.get('accept') ?? '').includes('text/csv')) {
      return {
        status: 200,
        headers: {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="run-${params.runId}-records.csv"`,
          ...next,
        },
        body: recordsAsCsv(page.records),
      };
    }
    return json(200, { items: page.records, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) });
  },
});
