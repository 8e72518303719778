// One attempt of one delivery, and what follows: success, or the next try queued again with a
// visibility delay (WEBHOOK_RETRY_DELAYS_SECONDS) until 24 h after the first attempt. A webhook
// whose deliveries have failed for a day without one success is turned off, with an audit line.
import type { Principal } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { secretStoreFromSettings } from '../secretStore.js';
import { setting } from '../settings.js';
import { sendQueueMessage } from '../storage/clients.js';
import { QUEUES } from '../storage/names.js';
import type { DeliveryMessage } from './raiseEvents.js';
import { sendSigned, type SendOutcome } from './sendSigned.js';
import { TEST_EVENT, type DeliveryRecord, type WebhookRecord } from './webhook.js';
import { findDelivery, findWebhook, replaceDelivery, replaceWebhook } from './webhookStore.js';
import { targetPolicyFromSettings } from './webhookUrl.js';
import { isPreconditionFailed } from '../storage/preconditionFailed.js';

export const RETRY_WINDOW_MS = 24 * 3600_000;
export const DISABLE_AFTER_FAILING_MS = 24 * 3600_000;
export const WEBHOOK_SYSTEM: Principal = { id: 'outflow-webhooks', name: 'Outflow webhooks', roles: ['system'] };

export function retryDelaysSeconds(text = setting('WEBHOOK_RETRY_DELAYS_SECONDS')): number[] {
  const delays = (text ?? '')
    .split(',')
    .map((part) => Number(part.trim()))
    .filter((value) => Number.isFinite(value) && value >= 0);
  return delays.length ? delays : [5, 300, 1800, 7200, 18000, 36000];
}

/** Seconds until the next attempt after `attempts` failed ones, or undefined when the 24 h are up. */
export function nextDelaySeconds(attempts: number, firstAttemptAt: Date, now: Date, delays = retryDelaysSeconds()): number | undefined {
  const delay = delays[Math.min(Math.max(attempts - 1, 0), delays.length - 1)]!;
  return now.getTime() + delay * 1000 - firstAttemptAt.getTime() > RETRY_WINDOW_MS ? undefined : delay;
}

/** Whether a webhook failing since `failingSince` has failed long enough to be turned off. */
export function failedForADay(failingSince: string | null, now: Date): boolean {
  return failingSince !== null && now.getTime() - Date.parse(failingSince) >= DISABLE_AFTER_FAILING_MS;
}

const FINISHED = new Set(['succeeded', 'failed', 'abandoned']);

export type AttemptResult = 'succeeded' | 'retrying' | 'failed' | 'abandoned' | 'skipped';

export async function deliverWebhook(
  message: DeliveryMessage,
  now = new Date(),
): Promise<{ result: AttemptResult; delivery?: DeliveryRecord }> {
  const delivery = await findDelivery(message.webhookId, message.deliveryId);
  if (!delivery || FINISHED.has(delivery.status)) return { result: 'skipped' };
  // A copy of the message that arrived before its time (the queue delivers at least once).
  if (delivery.nextAttemptAt && Date.parse(delivery.nextAttemptAt) > now.getTime() + 2_000) return { result: 'skipped' };
  const webhook = await findWebhook(message.webhookId);
  if (!webhook) return { result: 'abandoned', delivery: await abandon(delivery, 'the webhook was removed') };
  if (!webhook.enabled && delivery.eventType !== TEST_EVENT)
    return { result: 'abandoned', delivery: await abandon(delivery, 'the webhook is turned off') };
  const secret = await secretStoreFromSettings().get(webhook.secretName);
  if (!secret) return { result: 'abandoned', delivery: await abandon(delivery, 'the signing secret is missing; rotate it') };

  const outcome = await sendSigned(
    { url: webhook.url, secret, messageId: delivery.id, payload: delivery.payload, timestamp: now },
    targetPolicyFromSettings(),
  );
  const attempted = recordAttempt(delivery, outcome, now);
  if (outcome.ok) {
    const saved = await replaceDelivery({ ...attempted, status: 'succeeded', nextAttemptAt: null });
    if (webhook.failingSince) await updateWebhookQuietly(webhook, (current) => ({ ...current, failingSince: null }));
    return { result: 'succeeded', delivery: saved };
  }
  const delay = nextDelaySeconds(attempted.attempts, new Date(attempted.firstAttemptAt!), now);
  if (delay !== undefined && webhook.enabled) {
    const saved = await replaceDelivery({
      ...attempted,
      status: 'retrying',
      nextAttemptAt: new Date(now.getTime() + delay * 1000).toISOString(),
    });
    await sendQueueMessage(QUEUES.webhookDeliveries, message, { visibilityTimeoutSeconds: Math.max(0, Math.ceil(delay)) });
    await noteFailure(webhook, now);
    return { result: 'retrying', delivery: saved };
  }
  const saved = await replaceDelivery({ ...attempted, status: 'failed', nextAttemptAt: null });
  await noteFailure(webhook, now);
  return { result: 'failed', delivery: saved };
}

function recordAttempt(delivery: DeliveryRecord, outcome: SendOutcome, now: Date): DeliveryRecord {
  return {
    ...delivery,
    attempts: delivery.attempts + 1,
    firstAttemptAt: delivery.firstAttemptAt ?? now.toISOString(),
    lastAttemptAt: now.toISOString(),
    responseStatus: outcome.status,
    responseExcerpt: outcome.excerpt,
    error: outcome.error,
  };
}

async function abandon(delivery: DeliveryRecord, why: string): Promise<DeliveryRecord> {
  return replaceDelivery({ ...delivery, status: 'abandoned', nextAttemptAt: null, error: `not sent: ${why}` });
}

/** Marks when failing started; turns the webhook off after a day of it (with an audit line). */
async function noteFailure(webhook: WebhookRecord, now: Date): Promise<void> {
  if (!webhook.failingSince) {
    await updateWebhookQuietly(webhook, (current) => (current.failingSince ? undefined : { ...current, failingSince: now.toISOString() }));
    return;
  }
  if (!webhook.enabled || !failedForADay(webhook.failingSince, now)) return;
  const reason = `Turned off by Outflow: every delivery since ${webhook.failingSince} failed (a day without one success).`;
  const disabled = await updateWebhookQuietly(webhook, (current) =>
    current.enabled ? { ...current, enabled: false, disabledReason: reason, updatedAt: now.toISOString() } : undefined,
  );
  if (disabled)
    await recordAudit(
      WEBHOOK_SYSTEM,
      'webhook.disabled',
      { type: 'webhook', id: webhook.id, name: webhook.name },
      { reason: 'a day of failed deliveries', failingSince: webhook.failingSince },
    );
}

/** A conditional update of the latest row, retried on a concurrent change; false if nothing changed. */
async function updateWebhookQuietly(
  webhook: WebhookRecord,
  change: (current: WebhookRecord) => WebhookRecord | undefined,
): Promise<boolean> {
  let current: WebhookRecord | undefined = webhook;
  for (let attempt = 0; attempt < 5 && current; attempt++) {
    const next = change(current);
    if (!next) return false;
    try {
      await replaceWebhook(next, current.etag);
      return true;
    } catch (error) {
      if (!isPreconditionFailed(error)) throw error;
      current = await findWebhook(webhook.id);
    }
  }
  return false;
}
