import { z } from 'zod';
import { connectionId } from '../connections/connection.js';
import { jsonAtMost, NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MESSAGE } from '../validation.js';

export const exportId = z
  .string()
  .max(64)
  .regex(/^[a-z0-9-]{8,64}$/, 'an export id is lower-case letters, digits and dashes');

const timeOfDay = z
  .string()
  .max(5)
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'use HH:mm, 24-hour');

const timeZone = z
  .string()
  .max(64)
  .refine((zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'use an IANA time zone name such as Europe/Oslo');

export const recurrence = z.strictObject({
  frequency: z.enum(['hourly', 'daily', 'weekly', 'monthly']),
  interval: z.number().int().min(1).max(366).default(1),
  daysOfWeek: z
    .array(z.enum(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']))
    .min(1)
    .max(7)
    .refine((days) => new Set(days).size === days.length, 'name each day once')
    .meta({ uniqueItems: true })
    .optional(),
  dayOfMonth: z.number().int().min(1).max(31).optional(),
  time: timeOfDay.default('00:00'),
  timeZone: timeZone.default('UTC'),
});

export const schedule = z.discriminatedUnion('mode', [
  z.strictObject({ active: z.boolean(), mode: z.literal('systemRefresh') }),
  z.strictObject({ active: z.boolean(), mode: z.literal('custom'), recurrence }),
]);
export type Schedule = z.infer<typeof schedule>;

export const DEFAULT_SCHEDULE: Schedule = { active: true, mode: 'systemRefresh' };

const name = z
  .string()
  .trim()
  .min(1, 'give the export a name')
  .max(200, 'at most 200 characters')
  .regex(NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MESSAGE);

// Each of these is one Table Storage column (at most 32,768 characters), so each is capped.
const segmentIds = z.array(z.string().min(1).max(256)).max(50);
const entityNames = z.array(z.string().min(1).max(256)).max(100);
/** destination field → source attribute of the segment's entity */
const mapping = jsonAtMost(z.record(z.string().min(1).max(100), z.string().min(1).max(256)), 16_000);
const details = jsonAtMost(z.record(z.string().max(100), z.unknown()), 16_000);

/**
 * How a segment export delivers: `full` sends every member each run; `changes` sends only members
 * who joined or whose mapped values changed since the last delivery. `removals` takes members who
 * left the segments off the destination list.
 */
export const delivery = z.strictObject({
  mode: z
    .enum(['full', 'changes'])
    .default('full')
    .describe('full: every member each run; changes: only members who joined or whose mapped values changed since the last delivery'),
  removals: z.boolean().default(false).describe('Remove members who left the segments from the destination list'),
});
export type Delivery = z.infer<typeof delivery>;
export const DEFAULT_DELIVERY: Delivery = { mode: 'full', removals: false };

export const createExportBody = z.strictObject({
  name,
  connectionId,
  kind: z.enum(['segment', 'dataOut']).default('segment'),
  segments: segmentIds.default([]),
  mapping: mapping.default({}),
  details: details.default({}),
  entities: entityNames.default([]),
  schedule: schedule.default(DEFAULT_SCHEDULE),
  delivery: delivery.default(DEFAULT_DELIVERY),
});
export type CreateExportBody = z.infer<typeof createExportBody>;

export const updateExportBody = z.strictObject({
  name: name.optional(),
  connectionId: connectionId.optional(),
  segments: segmentIds.optional(),
  mapping: mapping.optional(),
  details: details.optional(),
  entities: entityNames.optional(),
  schedule: schedule.optional(),
  delivery: delivery.optional(),
});
export type UpdateExportBody = z.infer<typeof updateExportBody>;

export const EXPORT_STATUSES = ['active', 'inactive', 'noConnection'] as const;

/** The stored definition. */
export interface ExportRecord {
  id: string;
  name: string;
  connectionId: string | null;
  /** Kept after the connection is removed, so the list can still say what it was. */
  connectionType: string;
  kind: 'segment' | 'dataOut';
  segments: string[];
  mapping: Record<string, string>;
  details: Record<string, unknown>;
  entities: string[];
  schedule: Schedule;
  /** Segment exports: full or changes-only delivery, with or without removals (absent: full, no removals). */
  delivery?: Delivery;
  createdAt: string;
  createdBy: { id: string; name: string };
  updatedAt: string;
  lastRefreshed: string | null;
  lastRunStatus: string | null;
  /** The run in progress, if any: one active run per export. */
  activeRunId: string | null;
  etag: string;
}

export const exportView = z.object({
  id: z.string(),
  name: z.string(),
  connectionId: z.string().nullable(),
  connectionName: z.string(),
  connectionType: z.string(),
  kind: z.enum(['segment', 'dataOut']),
  segments: z.array(z.string()),
  mapping: z.record(z.string(), z.string()),
  details: z.record(z.string(), z.unknown()),
  entities: z.array(z.string()),
  schedule,
  delivery,
  status: z.enum(EXPORT_STATUSES),
  lastRefreshed: z.string().nullable(),
  lastRunStatus: z.string().nullable(),
  /** The next due time of an active custom schedule (null for systemRefresh, inactive, no connection). */
  nextRun: z.string().nullable(),
  activeRunId: z.string().nullable(),
  yourPermissions: z.enum(['edit', 'view']),
  createdAt: z.string(),
  updatedAt: z.string(),
  etag: z.string(),
});
export type ExportView = z.infer<typeof exportView>;
