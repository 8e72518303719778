// Use cases for webhook subscriptions (admins): the URL is checked before it is saved, the
// signing secret is made here (whsec_ + base64 of 32 random bytes, the Standard Webhooks form),
// kept in Key Vault and answered once — at creation and at rotation — and never again.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { PreconditionFailed } from '../errors.js';
import { secretStoreFromSettings } from '../secretStore.js';
import { apiBase, createDelivery } from './raiseEvents.js';
import {
  TEST_EVENT,
  type CreateWebhookBody,
  type DeliveryRecord,
  type DeliveryView,
  type UpdateWebhookBody,
  type WebhookRecord,
  type WebhookView,
} from './webhook.js';
import * as store from './webhookStore.js';
import { checkWebhookUrl } from './webhookUrl.js';

/** Standard Webhooks: secrets are base64, 24 to 64 bytes, prefixed whsec_ by convention. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function secretNameFor(id: string): string {
  return `webhook-${id}`;
}

export function toWebhookView(webhook: WebhookRecord): WebhookView {
  return {
    id: webhook.id,
    name: webhook.name,
    url: webhook.url,
    events: webhook.events,
    filters: webhook.filters,
    thresholds: webhook.thresholds,
    enabled: webhook.enabled,
    ...(webhook.disabledReason ? { disabledReason: webhook.disabledReason } : {}),
    ...(webhook.failingSince ? { failingSince: webhook.failingSince } : {}),
    createdBy: webhook.createdBy,
    createdAt: webhook.createdAt,
    updatedAt: webhook.updatedAt,
    etag: webhook.etag,
  };
}

export function toDeliveryView(delivery: DeliveryRecord): DeliveryView {
  let payload: unknown = null;
  try {
    payload = JSON.parse(delivery.payload);
  } catch {
    payload = null;
  }
  return {
    id: delivery.id,
    eventType: delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    createdAt: delivery.createdAt,
    lastAttemptAt: delivery.lastAttemptAt,
    nextAttemptAt: delivery.nextAttemptAt,
    responseStatus: delivery.responseStatus,
    responseExcerpt: delivery.responseExcerpt,
    error: delivery.error,
    payload,
  };
}

const unique = <T>(values: T[]): T[] => [...new Set(values)];

export async function createWebhook(principal: Principal, body: CreateWebhookBody): Promise<{ webhook: WebhookRecord; secret: string }> {
  const url = await checkWebhookUrl(body.url);
  const id = randomUUID();
  const now = new Date().toISOString();
  const secret = newSigningSecret();
  const secretName = secretNameFor(id);
  // The secret first: a row never points at a secret that was not stored.
  await secretStoreFromSettings().set(secretName, secret);
  const webhook = await store.insertWebhook({
    id,
    name: body.name,
    url,
    events: unique(body.events),
    filters: {
      exportIds: unique(body.filters.exportIds),
      connectionIds: unique(body.filters.connectionIds),
      destinationTypes: unique(body.filters.destinationTypes),
    },
    thresholds: body.thresholds,
    enabled: body.enabled,
    disabledReason: null,
    failingSince: null,
    secretName,
    createdBy: { id: principal.id, name: principal.name },
    createdAt: now,
    updatedAt: now,
    etag: '',
  });
  await recordAudit(
    principal,
    'webhook.created',
    { type: 'webhook', id, name: body.name },
    { events: webhook.events, enabled: webhook.enabled, host: new URL(url).host },
  );
  return { webhook, secret };
}

export async function listWebhookViews(): Promise<WebhookView[]> {
  return (await store.listWebhooks()).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)).map(toWebhookView);
}

export const getWebhook = store.getWebhook;

function checkIfMatch(webhook: WebhookRecord, ifMatch: string | undefined): string {
  if (ifMatch && ifMatch !== '*' && ifMatch !== webhook.etag) {
    throw new PreconditionFailed(`Webhook '${webhook.id}' has changed (ETag ${webhook.etag}); read it again and retry.`);
  }
  return ifMatch && ifMatch !== '*' ? ifMatch : webhook.etag;
}

export async function updateWebhook(
  principal: Principal,
  id: string,
  body: UpdateWebhookBody,
  ifMatch: string | undefined,
): Promise<WebhookRecord> {
  const current = await store.getWebhook(id);
  const etag = checkIfMatch(current, ifMatch);
  const url = body.url !== undefined ? await checkWebhookUrl(body.url) : current.url;
  const turnedOn = body.enabled === true && !current.enabled;
  const updated = await store.replaceWebhook(
    {
      ...current,
      name: body.name ?? current.name,
      url,
      events: body.events ? unique(body.events) : current.events,
      filters: body.filters ?? current.filters,
      thresholds: { ...current.thresholds, ...body.thresholds },
      enabled: body.enabled ?? current.enabled,
      // On again: a fresh start for the automatic turning off.
      disabledReason: turnedOn ? null : current.disabledReason,
      failingSince: turnedOn ? null : current.failingSince,
      updatedAt: new Date().toISOString(),
    },
    etag,
  );
  await recordAudit(
    principal,
    'webhook.updated',
    { type: 'webhook', id, name: updated.name },
    { changed: Object.keys(body).sort(), ...(ifMatch ? {} : { lastWriterWins: true }) },
  );
  return updated;
}

export async function deleteWebhook(principal: Principal, id: string, ifMatch: string | undefined): Promise<void> {
  const current = await store.getWebhook(id);
  const etag = checkIfMatch(current, ifMatch);
  await store.deleteWebhookRow(id, etag);
  await secretStoreFromSettings().delete(current.secretName);
  await recordAudit(principal, 'webhook.deleted', { type: 'webhook', id, name: current.name }, ifMatch ? {} : { lastWriterWins: true });
}

/** A new signing secret replaces the old one at once; answered this once. */
export async function rotateWebhookSecret(
  principal: Principal,
  id: string,
  ifMatch: string | undefined,
): Promise<{ webhook: WebhookRecord; secret: string }> {
  const current = await store.getWebhook(id);
  const etag = checkIfMatch(current, ifMatch);
  const secret = newSigningSecret();
  await secretStoreFromSettings().set(current.secretName, secret);
  const webhook = await store.replaceWebhook({ ...current, updatedAt: new Date().toISOString() }, etag);
  await recordAudit(principal, 'webhook.secretRotated', { type: 'webhook', id, name: current.name });
  return { webhook, secret };
}

/** Queues a webhook.test event to the webhook (sent even while it is turned off). */
export async function sendTestEvent(principal: Principal, id: string): Promise<{ deliveryId: string }> {
  const webhook = await store.getWebhook(id);
  const now = new Date();
  const deliveryId = `msg_test_${randomUUID().replace(/-/g, '')}`;
  const payload = JSON.stringify({
    type: TEST_EVENT,
    timestamp: now.toISOString(),
    data: {
      webhook: { id: webhook.id, name: webhook.name },
      requestedBy: { id: principal.id, name: principal.name },
      links: { deliveries: `${apiBase()}/webhooks/${webhook.id}/deliveries` },
    },
  });
  await createDelivery(webhook.id, deliveryId, TEST_EVENT, payload, now);
  await recordAudit(principal, 'webhook.tested', { type: 'webhook', id, name: webhook.name });
  return { deliveryId };
}

export async function listDeliveryViews(id: string, top: number): Promise<DeliveryView[]> {
  await store.getWebhook(id);
  return (await store.listDeliveries(id, top)).map(toDeliveryView);
}
