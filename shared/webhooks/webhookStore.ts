// Webhook subscriptions and their delivery log in Table Storage. The signing secret is not here:
// only the name of its Key Vault secret. Deliveries: partition = webhook id, row key = the
// delivery's id (deterministic per event and subscriber, so raising an event twice is one row).
import { odata } from '@azure/data-tables';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import {
  deleteEntityIfMatch,
  fromJson,
  getEntity,
  insertEntity,
  isStatus,
  listEntities,
  replaceEntity,
  toJson,
} from '../storage/entities.js';
import { NotFound } from '../errors.js';
import { DEFAULT_THRESHOLDS, type DeliveryRecord, type WebhookRecord } from './webhook.js';

const PARTITION = 'webhook';

interface WebhookRow {
  name: string;
  url: string;
  events: string;
  filters: string;
  thresholds: string;
  enabled: boolean;
  disabledReason: string;
  failingSince: string;
  secretName: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

function toRow(webhook: WebhookRecord): WebhookRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: PARTITION,
    rowKey: webhook.id,
    name: webhook.name,
    url: webhook.url,
    events: toJson(webhook.events),
    filters: toJson(webhook.filters),
    thresholds: toJson(webhook.thresholds),
    enabled: webhook.enabled,
    disabledReason: webhook.disabledReason ?? '',
    failingSince: webhook.failingSince ?? '',
    secretName: webhook.secretName,
    createdBy: toJson(webhook.createdBy),
    createdAt: webhook.createdAt,
    updatedAt: webhook.updatedAt,
  };
}

function fromRow(row: WebhookRow & { rowKey?: string; etag: string }): WebhookRecord {
  return {
    id: row.rowKey!,
    name: row.name,
    url: row.url,
    events: fromJson(row.events, []),
    filters: fromJson(row.filters, { exportIds: [], connectionIds: [], destinationTypes: [] }),
    thresholds: { ...DEFAULT_THRESHOLDS, ...fromJson(row.thresholds, {}) },
    enabled: row.enabled,
    disabledReason: row.disabledReason || null,
    failingSince: row.failingSince || null,
    secretName: row.secretName,
    createdBy: fromJson(row.createdBy, { id: '', name: '' }),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    etag: row.etag,
  };
}

export async function insertWebhook(webhook: WebhookRecord): Promise<WebhookRecord> {
  const etag = await insertEntity(await table(TABLES.webhooks), toRow(webhook), 'Webhook');
  return { ...webhook, etag };
}

export async function findWebhook(id: string): Promise<WebhookRecord | undefined> {
  const row = await getEntity<WebhookRow>(await table(TABLES.webhooks), PARTITION, id);
  return row ? fromRow(row) : undefined;
}

export async function getWebhook(id: string): Promise<WebhookRecord> {
  const webhook = await findWebhook(id);
  if (!webhook) throw new NotFound(`Webhook '${id}' does not exist.`);
  return webhook;
}

export async function listWebhooks(): Promise<WebhookRecord[]> {
  const rows = await listEntities<WebhookRow>(await table(TABLES.webhooks), odata`PartitionKey eq ${PARTITION}`);
  return rows.map(fromRow);
}

export async function replaceWebhook(webhook: WebhookRecord, etag: string): Promise<WebhookRecord> {
  const newEtag = await replaceEntity(await table(TABLES.webhooks), toRow(webhook), etag, 'Webhook');
  return { ...webhook, etag: newEtag };
}

export async function deleteWebhookRow(id: string, etag: string): Promise<void> {
  await deleteEntityIfMatch(await table(TABLES.webhooks), PARTITION, id, etag, 'Webhook');
}

// ---------------------------------------------------------------------------------------------

interface DeliveryRow {
  eventType: string;
  payload: string;
  status: string;
  attempts: number;
  createdAt: string;
  firstAttemptAt: string;
  lastAttemptAt: string;
  nextAttemptAt: string;
  responseStatus: number;
  responseExcerpt: string;
  error: string;
}

function toDeliveryRow(delivery: DeliveryRecord): DeliveryRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: delivery.webhookId,
    rowKey: delivery.id,
    eventType: delivery.eventType,
    payload: delivery.payload,
    status: delivery.status,
    attempts: delivery.attempts,
    createdAt: delivery.createdAt,
    firstAttemptAt: delivery.firstAttemptAt ?? '',
    lastAttemptAt: delivery.lastAttemptAt ?? '',
    nextAttemptAt: delivery.nextAttemptAt ?? '',
    responseStatus: delivery.responseStatus ?? 0,
    responseExcerpt: delivery.responseExcerpt ?? '',
    error: delivery.error ?? '',
  };
}

function fromDeliveryRow(row: DeliveryRow & { partitionKey?: string; rowKey?: string; etag: string }): DeliveryRecord {
  return {
    webhookId: row.partitionKey!,
    id: row.rowKey!,
    eventType: row.eventType,
    payload: row.payload,
    status: row.status as DeliveryRecord['status'],
    attempts: row.attempts,
    createdAt: row.createdAt,
    firstAttemptAt: row.firstAttemptAt || null,
    lastAttemptAt: row.lastAttemptAt || null,
    nextAttemptAt: row.nextAttemptAt || null,
    responseStatus: row.responseStatus || null,
    responseExcerpt: row.responseExcerpt || null,
    error: row.error || null,
    etag: row.etag,
  };
}

/** Inserts the delivery; false when it exists already (the event was raised before). */
export async function insertDeliveryOnce(delivery: DeliveryRecord): Promise<boolean> {
  try {
    await (await table(TABLES.webhookDeliveries)).createEntity(toDeliveryRow(delivery));
    return true;
  } catch (error) {
    if (isStatus(error, 409)) return false;
    throw error;
  }
}

export async function findDelivery(webhookId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
  const row = await getEntity<DeliveryRow>(await table(TABLES.webhookDeliveries), webhookId, deliveryId);
  return row ? fromDeliveryRow(row) : undefined;
}

export async function replaceDelivery(delivery: DeliveryRecord): Promise<DeliveryRecord> {
  const etag = await replaceEntity(await table(TABLES.webhookDeliveries), toDeliveryRow(delivery), delivery.etag, 'Delivery');
  return { ...delivery, etag };
}

/** The webhook's deliveries, newest first (a partition per webhook). */
export async function listDeliveries(webhookId: string, top: number): Promise<DeliveryRecord[]> {
  const rows = await listEntities<DeliveryRow>(await table(TABLES.webhookDeliveries), odata`PartitionKey eq ${webhookId}`);
  return rows
    .map(fromDeliveryRow)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
    .slice(0, top);
}
