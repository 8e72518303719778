// Connections in Table Storage. Secrets are not here: only the name of their Key Vault secret.
import { odata } from '@azure/data-tables';
import { table } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { fromJson, getEntity, insertEntity, listEntities, replaceEntity, toJson, deleteEntityIfMatch } from '../storage/entities.js';
import type { ConnectionRecord } from './connection.js';
import { NotFound } from '../errors.js';

const PARTITION = 'connection';

interface ConnectionRow {
  name: string;
  type: string;
  settings: string;
  secretName: string;
  secretFields: string;
  sharing: string;
  limits?: string;
  exportUser: string;
  privacyConsent: string;
  createdAt: string;
  updatedAt: string;
}

function toRow(connection: ConnectionRecord): ConnectionRow & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: PARTITION,
    rowKey: connection.id,
    name: connection.name,
    type: connection.type,
    settings: toJson(connection.settings),
    secretName: connection.secretName,
    secretFields: toJson(connection.secretFields),
    sharing: connection.sharing,
    limits: toJson(connection.limits),
    exportUser: toJson(connection.exportUser),
    privacyConsent: toJson(connection.privacyConsent),
    createdAt: connection.createdAt,
    updatedAt: connection.updatedAt,
  };
}

function fromRow(row: ConnectionRow & { rowKey?: string; etag: string }): ConnectionRecord {
  return {
    id: row.rowKey!,
    name: row.name,
    type: row.type,
    settings: fromJson(row.settings, {}),
    secretName: row.secretName,
    secretFields: fromJson(row.secretFields, []),
    sharing: row.sharing as ConnectionRecord['sharing'],
    limits: fromJson(row.limits, {}),
    exportUser: fromJson(row.exportUser, { id: '', name: '' }),
    privacyConsent: fromJson(row.privacyConsent, { acceptedBy: '', acceptedAt: '' }),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    etag: row.etag,
  };
}

export async function insertConnection(connection: ConnectionRecord): Promise<ConnectionRecord> {
  const etag = await insertEntity(await table(TABLES.connections), toRow(connection), 'Connection');
  return { ...connection, etag };
}

export async function findConnection(id: string): Promise<ConnectionRecord | undefined> {
  const row = await getEntity<ConnectionRow>(await table(TABLES.connections), PARTITION, id);
  return row ? fromRow(row) : undefined;
}

export async function getConnection(id: string): Promise<ConnectionRecord> {
  const connection = await findConnection(id);
  if (!connection) throw new NotFound(`Connection '${id}' does not exist.`);
  return connection;
}

export async function listConnections(): Promise<ConnectionRecord[]> {
  const rows = await listEntities<ConnectionRow>(await table(TABLES.connections), odata`PartitionKey eq ${PARTITION}`);
  return rows.map(fromRow);
}

export async function replaceConnection(connection: ConnectionRecord, etag: string): Promise<ConnectionRecord> {
  const newEtag = await replaceEntity(await table(TABLES.connections), toRow(connection), etag, 'Connection');
  return { ...connection, etag: newEtag };
}

export async function deleteConnectionRow(id: string, etag: string): Promise<void> {
  await deleteEntityIfMatch(await table(TABLES.connections), PARTITION, id, etag, 'Connection');
}
