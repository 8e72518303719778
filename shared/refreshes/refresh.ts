// Refresh processes the upstream platform reports (ingestion, unification, segments, measures, …):
// what schedules wait on. A `segments` refresh that succeeds is a system refresh.
import { z } from 'zod';

export const REFRESH_STATUSES = ['running', 'succeeded', 'failed'] as const;
export type RefreshStatus = (typeof REFRESH_STATUSES)[number];

/** The process whose success is a system refresh for exports on the default schedule. */
export const SYSTEM_REFRESH_PROCESS = 'segments';

/** A refresh still `running` this long after it started is taken as abandoned: it no longer holds exports back. */
export const ABANDONED_AFTER_MS = 24 * 60 * 60 * 1000;

export const refreshId = z
  .string()
  .max(22)
  .regex(/^\d{13}-[0-9a-f]{8}$/, 'a refresh id looks like 8236019958123-1a2b3c4d');

const names = z.array(z.string().trim().min(1).max(256)).max(500);

export const reportRefreshBody = z.strictObject({
  process: z
    .string()
    .max(64)
    .regex(/^[a-z][A-Za-z0-9-]{0,63}$/, 'a process name such as ingestion, unification, segments or measures'),
  status: z.enum(REFRESH_STATUSES).default('running'),
  /** Entities the process writes; with no entities and no segments it touches everything. */
  entities: names.default([]),
  /** Segment ids the process writes. */
  segments: names.default([]),
  reason: z.string().max(2000).optional(),
});
export type ReportRefreshBody = z.infer<typeof reportRefreshBody>;

export const updateRefreshBody = z.strictObject({
  status: z.enum(REFRESH_STATUSES),
  /** Why it failed, shown on the runs it skips. */
  reason: z.string().max(2000).optional(),
});
export type UpdateRefreshBody = z.infer<typeof updateRefreshBody>;

export interface RefreshRecord {
  id: string;
  process: string;
  status: RefreshStatus;
  entities: string[];
  segments: string[];
  reason: string | null;
  reportedBy: { id: string; name: string };
  startedAt: string;
  finishedAt: string | null;
  updatedAt: string;
  etag: string;
}

export const refreshView = z.object({
  id: z.string(),
  process: z.string(),
  status: z.enum(REFRESH_STATUSES),
  entities: z.array(z.string()),
  segments: z.array(z.string()),
  reason: z.string().optional(),
  reportedBy: z.object({ id: z.string(), name: z.string() }),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** True for a refresh still running after 24 hours: it no longer holds exports back. */
  abandoned: z.boolean(),
  etag: z.string(),
});
export type RefreshView = z.infer<typeof refreshView>;

export function isAbandoned(refresh: RefreshRecord, now: Date): boolean {
  return refresh.status === 'running' && now.getTime() - Date.parse(refresh.startedAt) > ABANDONED_AFTER_MS;
}

export function toRefreshView(refresh: RefreshRecord, now = new Date()): RefreshView {
  return {
    id: refresh.id,
    process: refresh.process,
    status: refresh.status,
    entities: refresh.entities,
    segments: refresh.segments,
    ...(refresh.reason ? { reason: refresh.reason } : {}),
    reportedBy: refresh.reportedBy,
    startedAt: refresh.startedAt,
    finishedAt: refresh.finishedAt,
    abandoned: isAbandoned(refresh, now),
    etag: refresh.etag,
  };
}
