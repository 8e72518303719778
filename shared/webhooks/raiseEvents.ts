// Turning runs into webhook deliveries. The finalizer only enqueues "this run ended" (one queue
// message, no webhook logic in the engine); the webhook-events queue function then reads the run,
// its export, connection and history, applies each subscription's rules and writes one delivery
// row per event and subscriber (a deterministic id: raising twice is one delivery) before queueing
// it. The slow-run sweep does the same for runs still in progress.
import { createHash } from 'node:crypto';
import { findConnection } from '../connections/connectionStore.js';
import type { ExportRecord } from '../exports/exportDefinition.js';
import { findExport, listExports } from '../exports/exportStore.js';
import { isTerminal, type RunRecord } from '../runs/run.js';
import { findRun, listRuns } from '../runs/runStore.js';
import { setting } from '../settings.js';
import { QUEUES } from '../storage/names.js';
import { sendQueueMessage } from '../storage/clients.js';
import {
  endedRunEvents,
  failureStreak,
  isConnectionFailure,
  slowRunEvent,
  VOLUME_HISTORY,
  type RaisedEvent,
  type RunFacts,
} from './eventRules.js';
import type { DeliveryRecord, WebhookRecord } from './webhook.js';
import { findDelivery, insertDeliveryOnce, listWebhooks } from './webhookStore.js';

export interface RunEndedMessage {
  exportId: string;
  runId: string;
}

export interface DeliveryMessage {
  webhookId: string;
  deliveryId: string;
}

/** The finalizer's one call: queue the ended run for the webhook rules. */
export async function enqueueRunEnded(exportId: string, runId: string): Promise<void> {
  await sendQueueMessage(QUEUES.webhookEvents, { exportId, runId } satisfies RunEndedMessage);
}

/** Same event, same subscriber → same id (also the webhook-id header receivers de-duplicate by). */
export function deliveryIdFor(webhookId: string, eventType: string, subject: string): string {
  return `msg_${createHash('sha256').update(`${webhookId}\n${eventType}\n${subject}`).digest('base64url').slice(0, 32)}`;
}

/** Where payload links point: PUBLIC_API_URL, else paths under /api. */
export function apiBase(): string {
  return (setting('PUBLIC_API_URL') ?? '/api').replace(/\/+$/, '');
}

export function linksFor(exportId: string, runId: string): { run: string; records: string } {
  const run = `${apiBase()}/exports/${encodeURIComponent(exportId)}/runs/${encodeURIComponent(runId)}`;
  return { run, records: `${run}/records?status=failed` };
}

interface RunContext {
  run: RunRecord;
  exportRecord: ExportRecord | undefined;
  connection: { id: string; name: string; type: string } | null;
}

/** The event as sent: Standard Webhooks' {type, timestamp, data}. */
export function eventPayload(event: RaisedEvent, context: RunContext, at: Date): string {
  const { run, exportRecord, connection } = context;
  return JSON.stringify({
    type: event.type,
    timestamp: at.toISOString(),
    data: {
      export: { id: run.exportId, name: exportRecord?.name ?? null },
      connection,
      run: {
        id: run.id,
        status: run.status,
        trigger: run.trigger,
        reason: run.reason,
        createdAt: run.createdAt,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        counts: run.counts,
      },
      reason: run.reason,
      links: linksFor(run.exportId, run.id),
      ...event.details,
    },
  });
}

/** Writes the delivery once and queues it; a delivery written before but never tried is queued again. */
export async function createDelivery(webhookId: string, id: string, eventType: string, payload: string, now: Date): Promise<boolean> {
  const delivery: DeliveryRecord = {
    webhookId,
    id,
    eventType,
    payload,
    status: 'pending',
    attempts: 0,
    createdAt: now.toISOString(),
    firstAttemptAt: null,
    lastAttemptAt: null,
    nextAttemptAt: now.toISOString(),
    responseStatus: null,
    responseExcerpt: null,
    error: null,
    etag: '',
  };
  const inserted = await insertDeliveryOnce(delivery);
  if (!inserted) {
    // Raised before: queue it again only if it never got to its first attempt (the queue send failed).
    const existing = await findDelivery(webhookId, id);
    if (!existing || existing.attempts > 0 || existing.status !== 'pending') return false;
  }
  await sendQueueMessage(QUEUES.webhookDeliveries, { webhookId, deliveryId: id } satisfies DeliveryMessage);
  return inserted;
}

async function contextOf(run: RunRecord): Promise<RunContext & { facts: Omit<RunFacts, 'previousMembers' | 'connectionFailureStreak'> }> {
  const exportRecord = await findExport(run.exportId);
  const connectionRecord = exportRecord?.connectionId ? await findConnection(exportRecord.connectionId) : undefined;
  const connection = connectionRecord ? { id: connectionRecord.id, name: connectionRecord.name, type: connectionRecord.type } : null;
  return {
    run,
    exportRecord,
    connection,
    facts: {
      status: run.status,
      reason: run.reason,
      counts: run.counts,
      startedAt: run.startedAt,
      createdAt: run.createdAt,
      predictedSeconds: predictedSecondsOf(run),
      exportId: run.exportId,
      connectionId: exportRecord?.connectionId ?? null,
      destinationType: exportRecord?.connectionType ?? null,
    },
  };
}

/** The planner's prediction for the run, once planning records one (shared/plans/predictionAtStart.ts). */
export function predictedSecondsOf(run: RunRecord): number | null {
  const predicted = run.prediction?.predictedSeconds;
  return typeof predicted === 'number' && Number.isFinite(predicted) && predicted > 0 ? predicted : null;
}

/** Runs that say something about the connection or the volume: cancelled and skipped ones do not. */
const DELIVERING = new Set(['succeeded', 'partiallySucceeded', 'failed']);

async function previousMembers(run: RunRecord): Promise<number[]> {
  const { runs } = await listRuns(run.exportId, VOLUME_HISTORY + 15);
  // Run ids sort newest first; the earlier runs are those after this one.
  return runs
    .filter((other) => other.id > run.id && (other.status === 'succeeded' || other.status === 'partiallySucceeded'))
    .map((other) => other.counts.members);
}

async function connectionFailureStreak(run: RunRecord, connectionId: string | null, longest: number): Promise<number> {
  if (!connectionId || !isConnectionFailure(run.status, run.reason)) return 0;
  const exports = (await listExports()).filter((candidate) => candidate.connectionId === connectionId);
  const runs: RunRecord[] = [];
  for (const exportRecord of exports)
    runs.push(...(await listRuns(exportRecord.id, longest + 5)).runs.filter((other) => DELIVERING.has(other.status)));
  const ended = run.finishedAt ?? '';
  const history = runs
    .filter((other) => (other.finishedAt ?? '') <= ended)
    .sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? '') || a.id.localeCompare(b.id));
  return failureStreak(history);
}

/** Raises the events of an ended run for every subscription that wants them; answers how many. */
export async function raiseRunEndedEvents(message: RunEndedMessage, now = new Date()): Promise<{ deliveries: number }> {
  const webhooks = (await listWebhooks()).filter((webhook) => webhook.enabled);
  if (webhooks.length === 0) return { deliveries: 0 };
  const run = await findRun(message.exportId, message.runId);
  if (!run || !isTerminal(run.status)) return { deliveries: 0 };
  const context = await contextOf(run);
  const longestStreak = Math.max(...webhooks.map((webhook) => webhook.thresholds.failingRuns));
  const facts: RunFacts = {
    ...context.facts,
    previousMembers: webhooks.some((webhook) => webhook.events.includes('volume.changed')) ? await previousMembers(run) : [],
    connectionFailureStreak: webhooks.some((webhook) => webhook.events.includes('connection.failing'))
      ? await connectionFailureStreak(run, context.facts.connectionId, longestStreak)
      : 0,
  };
  let deliveries = 0;
  for (const webhook of webhooks) {
    for (const event of endedRunEvents(webhook, facts)) {
      if (
        await createDelivery(webhook.id, deliveryIdFor(webhook.id, event.type, run.id), event.type, eventPayload(event, context, now), now)
      )
        deliveries++;
    }
  }
  return { deliveries };
}

/** run.slow for every run in progress past a subscription's limit (once per run and subscriber). */
export async function raiseSlowRunEvents(now = new Date()): Promise<{ deliveries: number }> {
  const webhooks: WebhookRecord[] = (await listWebhooks()).filter((webhook) => webhook.enabled && webhook.events.includes('run.slow'));
  if (webhooks.length === 0) return { deliveries: 0 };
  let deliveries = 0;
  for (const exportRecord of await listExports()) {
    if (!exportRecord.activeRunId) continue;
    const run = await findRun(exportRecord.id, exportRecord.activeRunId);
    if (!run || run.status !== 'running') continue;
    const context = await contextOf(run);
    const facts: RunFacts = { ...context.facts, previousMembers: [], connectionFailureStreak: 0 };
    for (const webhook of webhooks) {
      const event = slowRunEvent(webhook, facts, now);
      if (!event) continue;
      if (
        await createDelivery(webhook.id, deliveryIdFor(webhook.id, event.type, run.id), event.type, eventPayload(event, context, now), now)
      )
        deliveries++;
    }
  }
  return { deliveries };
}
