// Use cases for connections: who may see and change them, secrets kept in Key Vault only.
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import { hasRole } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { destinationFor } from '../destinations/registry.js';
import type { DestinationAdapter } from '../destinations/destination.js';
import { Forbidden, NotFound, PreconditionFailed, ValidationFailed } from '../errors.js';
import { secretStoreFromSettings } from '../secretStore.js';
import { refusingUnknownKeys, validateWith } from '../validation.js';
import { setting } from '../settings.js';
import {
  MAX_SECRETS_JSON,
  type ConnectionLimits,
  type ConnectionRecord,
  type ConnectionView,
  type CreateConnectionBody,
  type UpdateConnectionBody,
} from './connection.js';
import * as store from './connectionStore.js';

export function toConnectionView(connection: ConnectionRecord): ConnectionView {
  return {
    id: connection.id,
    name: connection.name,
    type: connection.type,
    settings: connection.settings,
    secretsSet: connection.secretFields,
    sharing: connection.sharing,
    limits: connection.limits,
    exportUser: connection.exportUser,
    privacyConsent: connection.privacyConsent,
    status: 'ready',
    createdAt: connection.createdAt,
    updatedAt: connection.updatedAt,
    etag: connection.etag,
  };
}

/** Admins see every connection; contributors only those shared with contributors. */
export function canUseConnection(principal: Principal, connection: ConnectionRecord): boolean {
  return hasRole(principal, 'admin') || (hasRole(principal, 'contributor') && connection.sharing === 'contributors');
}

/** A connection may lower the destination's member cap, never raise it (the rate is min'ed at run time). */
function checkLimits(destination: DestinationAdapter, limits: ConnectionLimits): ConnectionLimits {
  const cap = destination.limits.maxMembersPerExport;
  if (limits.maxMembersPerExport !== undefined && limits.maxMembersPerExport > cap) {
    throw new ValidationFailed(
      `A connection can only lower ${destination.displayName}'s limit of ${cap.toLocaleString('en-US')} members per export.`,
      [{ path: 'body.limits.maxMembersPerExport', message: `at most ${cap}` }],
    );
  }
  return limits;
}

function secretNameFor(id: string): string {
  return `connection-${id}`;
}

/**
 * Each change of a connection's secrets is stored under a name of its own, which the row then
 * points at: the row's conditional write decides which of two concurrent updates wins, and the
 * loser's secret is removed, never half of one update's secrets with half of the other's.
 */
function rotatedSecretNameFor(id: string): string {
  return `connection-${id}-${randomUUID().slice(0, 8)}`;
}

export async function createConnection(principal: Principal, body: CreateConnectionBody): Promise<ConnectionRecord> {
  const destination = destinationFor(body.type);
  const settings = validateWith(refusingUnknownKeys(destination.connectionSettings), body.settings, 'body.settings', 'settings') as Record<
    string,
    unknown
  >;
  const secrets = validateWith(refusingUnknownKeys(destination.connectionSecrets), body.secrets, 'body.secrets', 'secrets') as Record<
    string,
    string
  >;
  const limits = checkLimits(destination, body.limits);
  const id = randomUUID();
  const now = new Date().toISOString();
  const secretName = secretNameFor(id);
  // The secret goes first: a row never points at a secret that was not stored.
  await secretStoreFromSettings().set(secretName, JSON.stringify(secrets));
  const connection = await store.insertConnection({
    id,
    name: body.name,
    type: destination.type,
    settings,
    secretName,
    secretFields: Object.keys(secrets).sort(),
    sharing: body.sharing,
    limits,
    exportUser: { id: principal.id, name: principal.name },
    privacyConsent: { acceptedBy: principal.id, acceptedAt: now },
    createdAt: now,
    updatedAt: now,
    etag: '',
  });
  await recordAudit(
    principal,
    'connection.created',
    { type: 'connection', id, name: body.name },
    { destinationType: destination.type, sharing: body.sharing, privacyConsentAcceptedAt: now },
  );
  return connection;
}

export async function getVisibleConnection(principal: Principal, id: string): Promise<ConnectionRecord> {
  const connection = await store.getConnection(id);
  // Hide the existence of connections the caller may not use.
  if (!canUseConnection(principal, connection)) throw new NotFound(`Connection '${id}' does not exist.`);
  return connection;
}

export async function listVisibleConnections(principal: Principal): Promise<ConnectionRecord[]> {
  if (!hasRole(principal, 'admin', 'contributor')) throw new Forbidden('Viewers cannot see connections.');
  const connections = await store.listConnections();
  return connections.filter((connection) => canUseConnection(principal, connection)).sort((a, b) => a.name.localeCompare(b.name));
}

function checkIfMatch(connection: ConnectionRecord, ifMatch: string | undefined): string {
  if (ifMatch && ifMatch !== '*' && ifMatch !== connection.etag) {
    throw new PreconditionFailed(`Connection '${connection.id}' has changed (ETag ${connection.etag}); read it again and retry.`);
  }
  return ifMatch && ifMatch !== '*' ? ifMatch : connection.etag;
}

export async function updateConnection(
  principal: Principal,
  id: string,
  body: UpdateConnectionBody,
  ifMatch: string | undefined,
): Promise<ConnectionRecord> {
  const current = await store.getConnection(id);
  const etag = checkIfMatch(current, ifMatch);
  const destination = destinationFor(current.type);
  const settings = body.settings
    ? (validateWith(refusingUnknownKeys(destination.connectionSettings), body.settings, 'body.settings', 'settings') as Record<
        string,
        unknown
      >)
    : current.settings;
  const limits = body.limits ? checkLimits(destination, body.limits) : current.limits;
  let secretFields = current.secretFields;
  let secretName = current.secretName;
  if (body.secrets) {
    // Merged with the secrets of the version read: the row write below is conditional on it.
    const merged = { ...(await readSecrets(current)), ...body.secrets };
    const secrets = validateWith(refusingUnknownKeys(destination.connectionSecrets), merged, 'body.secrets', 'secrets') as Record<
      string,
      string
    >;
    if (JSON.stringify(secrets).length > MAX_SECRETS_JSON) {
      throw new ValidationFailed('The secrets are too long to keep in Key Vault.', [
        { path: 'body.secrets', message: `at most ${MAX_SECRETS_JSON.toLocaleString('en-US')} characters as JSON, with the secrets kept` },
      ]);
    }
    secretName = rotatedSecretNameFor(id);
    await secretStoreFromSettings().set(secretName, JSON.stringify(secrets));
    secretFields = Object.keys(secrets).sort();
  }
  let updated: ConnectionRecord;
  try {
    updated = await store.replaceConnection(
      {
        ...current,
        name: body.name ?? current.name,
        settings,
        sharing: body.sharing ?? current.sharing,
        limits,
        secretName,
        secretFields,
        updatedAt: new Date().toISOString(),
      },
      etag,
    );
  } catch (error) {
    // The row kept the secret it had: the new one is nobody's.
    if (secretName !== current.secretName)
      await secretStoreFromSettings()
        .delete(secretName)
        .catch(() => undefined);
    throw error;
  }
  // The row points at the new secret now; the old one is only read by senders until their cache expires.
  if (secretName !== current.secretName)
    await secretStoreFromSettings()
      .delete(current.secretName)
      .catch(() => undefined);
  await recordAudit(
    principal,
    'connection.updated',
    { type: 'connection', id, name: updated.name },
    {
      changed: Object.keys(body).sort(),
      ...(ifMatch ? {} : { lastWriterWins: true }),
    },
  );
  return updated;
}

export async function readSecrets(connection: ConnectionRecord): Promise<Record<string, string>> {
  const value = await secretStoreFromSettings().get(connection.secretName);
  return value ? (JSON.parse(value) as Record<string, string>) : {};
}

/** Removes the connection and its secret; exports using it keep their definition (see exports). */
export async function deleteConnection(
  principal: Principal,
  id: string,
  ifMatch: string | undefined,
  onDeleted: (connection: ConnectionRecord) => Promise<void>,
): Promise<void> {
  const current = await store.getConnection(id);
  const etag = checkIfMatch(current, ifMatch);
  await store.deleteConnectionRow(id, etag);
  await secretStoreFromSettings().delete(current.secretName);
  await onDeleted(current);
  await recordAudit(
    principal,
    'connection.deleted',
    { type: 'connection', id, name: current.name },
    ifMatch ? {} : { lastWriterWins: true },
  );
}

export async function testConnection(principal: Principal, id: string): Promise<{ ok: boolean; reason?: string }> {
  const connection = await getVisibleConnection(principal, id);
  const destination: DestinationAdapter = destinationFor(connection.type);
  const result = await destination
    .testConnection({
      settings: connection.settings,
      secrets: await readSecrets(connection),
      details: {},
      apiOrigin: apiOriginFor(destination),
    })
    .catch((error: Error) => ({ ok: false as const, reason: error.message }));
  await recordAudit(principal, 'connection.tested', { type: 'connection', id, name: connection.name }, { ok: result.ok });
  return result.ok ? { ok: true } : { ok: false, reason: result.reason };
}

/** The local-simulator origin for a destination, when its *_API_URL setting is set. */
export function apiOriginFor(destination: DestinationAdapter): string | undefined {
  return destination.apiUrlSetting ? setting(destination.apiUrlSetting) : undefined;
}
