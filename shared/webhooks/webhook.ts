// Webhook subscriptions: what a subscriber asks for (URL, events, filters, thresholds) and what the
// API answers. The signing secret is never part of a subscription view: it is shown once, when
// made or rotated, and otherwise lives only in Key Vault.
import { z } from 'zod';
import { connectionId } from '../connections/connection.js';
import { exportId } from '../exports/exportDefinition.js';
import { destinationTypes } from '../destinations/registry.js';

export const WEBHOOK_EVENTS = [
  'run.failed',
  'run.partiallySucceeded',
  'run.skipped',
  'run.slow',
  'run.succeeded',
  'connection.failing',
  'volume.changed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
/** Sent only by POST /webhooks/{id}/test; no subscription asks for it. */
export const TEST_EVENT = 'webhook.test';

export const webhookId = z
  .string()
  .max(64)
  .regex(/^[a-z0-9-]{8,64}$/, 'a webhook id is lower-case letters, digits and dashes');

const url = z.string().trim().min(1, 'give the URL that receives the events').max(2_000, 'at most 2,000 characters');
const name = z.string().trim().min(1, 'give the webhook a name').max(100, 'at most 100 characters');
const events = z
  .array(z.enum(WEBHOOK_EVENTS, { error: `use events among: ${WEBHOOK_EVENTS.join(', ')}` }))
  .min(1, 'subscribe to at least one event')
  .max(WEBHOOK_EVENTS.length);

export const webhookFilters = z.strictObject({
  exportIds: z.array(exportId).max(100).default([]).describe('Only these exports (empty: every export).'),
  connectionIds: z.array(connectionId).max(100).default([]).describe('Only exports of these connections (empty: every connection).'),
  destinationTypes: z
    .array(z.enum(destinationTypes as [string, ...string[]]))
    .max(20)
    .default([])
    .describe('Only these destination types (empty: every type).'),
});
export type WebhookFilters = z.infer<typeof webhookFilters>;

export const DEFAULT_THRESHOLDS = {
  rejectedShare: 0.05,
  slowFactor: 2,
  slowAfterMinutes: 60,
  failingRuns: 3,
  volumeChangeShare: 0.5,
} as const;

export const webhookThresholds = z.strictObject({
  rejectedShare: z
    .number()
    .min(0)
    .max(1)
    .default(DEFAULT_THRESHOLDS.rejectedShare)
    .describe('run.partiallySucceeded only when failed + skipped members are at least this share of the members (0..1).'),
  slowFactor: z
    .number()
    .min(1)
    .max(100)
    .default(DEFAULT_THRESHOLDS.slowFactor)
    .describe('run.slow when a run with a predicted duration runs this many times longer.'),
  slowAfterMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(DEFAULT_THRESHOLDS.slowAfterMinutes)
    .describe('run.slow after this many minutes when the run has no prediction.'),
  failingRuns: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(DEFAULT_THRESHOLDS.failingRuns)
    .describe('connection.failing once this many runs in a row on the connection failed on auth or configuration.'),
  volumeChangeShare: z
    .number()
    .min(0.01)
    .max(100)
    .default(DEFAULT_THRESHOLDS.volumeChangeShare)
    .describe("volume.changed when a run's members differ from the export's recent median by more than this share of it."),
});
export type WebhookThresholds = z.infer<typeof webhookThresholds>;

export const createWebhookBody = z.strictObject({
  name,
  url,
  events,
  filters: webhookFilters.default({ exportIds: [], connectionIds: [], destinationTypes: [] }),
  thresholds: webhookThresholds.default({ ...DEFAULT_THRESHOLDS }),
  enabled: z.boolean().default(true),
});
export type CreateWebhookBody = z.infer<typeof createWebhookBody>;

export const updateWebhookBody = z.strictObject({
  name: name.optional(),
  url: url.optional(),
  events: events.optional(),
  filters: webhookFilters.optional(),
  thresholds: webhookThresholds.partial().optional(),
  /** Turning a webhook on again also clears an automatic disabling. */
  enabled: z.boolean().optional(),
});
export type UpdateWebhookBody = z.infer<typeof updateWebhookBody>;

export interface WebhookRecord {
  id: string;
  name: string;
  url: string;
  events: WebhookEventType[];
  filters: WebhookFilters;
  thresholds: WebhookThresholds;
  enabled: boolean;
  /** Why it was turned off by Outflow itself (a day of failed deliveries), if it was. */
  disabledReason: string | null;
  /** When deliveries started failing without a success since; null while they succeed. */
  failingSince: string | null;
  secretName: string;
  createdBy: { id: string; name: string };
  createdAt: string;
  updatedAt: string;
  etag: string;
}

export const webhookView = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  filters: z.object({ exportIds: z.array(z.string()), connectionIds: z.array(z.string()), destinationTypes: z.array(z.string()) }),
  thresholds: z.object({
    rejectedShare: z.number(),
    slowFactor: z.number(),
    slowAfterMinutes: z.number(),
    failingRuns: z.number(),
    volumeChangeShare: z.number(),
  }),
  enabled: z.boolean(),
  disabledReason: z.string().optional(),
  failingSince: z.string().optional(),
  createdBy: z.object({ id: z.string(), name: z.string() }),
  createdAt: z.string(),
  updatedAt: z.string(),
  etag: z.string(),
});
export type WebhookView = z.infer<typeof webhookView>;

/** A view with the signing secret: only the answer to creation and rotation. */
export const webhookWithSecretView = webhookView.extend({
  secret: z.string().describe('The signing secret (whsec_…). Shown this once: store it now.'),
});

export const DELIVERY_STATUSES = ['pending', 'retrying', 'succeeded', 'failed', 'abandoned'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryRecord {
  webhookId: string;
  /** Also the webhook-id header: the same for every attempt of this event to this subscriber. */
  id: string;
  eventType: string;
  /** The exact JSON text that is signed and sent, the same for every attempt. */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  firstAttemptAt: string | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  responseStatus: number | null;
  /** The first few hundred characters of the last answer, or the error when there was none. */
  responseExcerpt: string | null;
  error: string | null;
  etag: string;
}

export const deliveryView = z.object({
  id: z.string(),
  eventType: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  createdAt: z.string(),
  lastAttemptAt: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  responseStatus: z.number().int().nullable(),
  responseExcerpt: z.string().nullable(),
  error: z.string().nullable(),
  payload: z.unknown().describe('The event as it was sent.'),
});
export type DeliveryView = z.infer<typeof deliveryView>;
