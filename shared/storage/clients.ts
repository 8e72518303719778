// Storage clients from the same settings the Functions runtime uses: a connection string locally
// (Azurite), identity-based service URIs in Azure. Tables and queues are created on first use.
import { TableClient } from '@azure/data-tables';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { setting } from '../settings.js';
import { CONTAINERS } from './names.js';

const DEVELOPMENT_STORAGE =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';

interface StorageAccess {
  connectionString?: string;
  credential?: TokenCredential;
  blobUrl?: string;
  queueUrl?: string;
  tableUrl?: string;
}

let cached: { key: string; access: StorageAccess } | undefined;

function storageAccess(): StorageAccess {
  const connection = setting('AzureWebJobsStorage');
  const accountName = setting('AzureWebJobsStorage__accountName');
  const key = `${connection}|${accountName}|${setting('AzureWebJobsStorage__blobServiceUri')}`;
  if (cached?.key === key) return cached.access;
  let access: StorageAccess;
  if (connection) {
    access = { connectionString: connection.trim() === 'UseDevelopmentStorage=true' ? DEVELOPMENT_STORAGE : connection };
  } else {
    // Identity-based connection, as the Functions runtime reads it (AzureWebJobsStorage__*).
    const blobUrl = setting('AzureWebJobsStorage__blobServiceUri') ?? (accountName && `https://${accountName}.blob.core.windows.net`);
    const queueUrl = setting('AzureWebJobsStorage__queueServiceUri') ?? (accountName && `https://${accountName}.queue.core.windows.net`);
    const tableUrl = setting('AzureWebJobsStorage__tableServiceUri') ?? (accountName && `https://${accountName}.table.core.windows.net`);
    if (!blobUrl || !queueUrl || !tableUrl) {
      throw new Error(
        'Storage is not configured: set AzureWebJobsStorage (connection string) or AzureWebJobsStorage__accountName / __*ServiceUri.',
      );
    }
    const clientId = setting('AzureWebJobsStorage__clientId') ?? setting('AZURE_CLIENT_ID');
    access = { blobUrl, queueUrl, tableUrl, credential: new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}) };
  }
  cached = { key, access };
  return access;
}

export function isLocalStorage(): boolean {
  return !!storageAccess().connectionString?.includes('127.0.0.1');
}

const tableClients = new Map<string, Promise<TableClient>>();

/** A table client; the table is created once per process on first use. */
export function table(name: string): Promise<TableClient> {
  let client = tableClients.get(name);
  if (!client) {
    client = (async () => {
      const access = storageAccess();
      const tableClient = access.connectionString
        ? TableClient.fromConnectionString(access.connectionString, name, { allowInsecureConnection: true })
        : new TableClient(access.tableUrl!, name, access.credential!);
      await tableClient.createTable();
      return tableClient;
    })();
    client.catch(() => tableClients.delete(name));
    tableClients.set(name, client);
  }
  return client;
}

const queueClients = new Map<string, Promise<QueueClient>>();

/** A queue client; messages must be base64 (what the queue trigger expects). */
export function queue(name: string): Promise<QueueClient> {
  let client = queueClients.get(name);
  if (!client) {
    client = (async () => {
      const access = storageAccess();
      const service = access.connectionString
        ? QueueServiceClient.fromConnectionString(access.connectionString)
        : new QueueServiceClient(access.queueUrl!, access.credential!);
      const queueClient = service.getQueueClient(name);
      await queueClient.createIfNotExists();
      return queueClient;
    })();
    client.catch(() => queueClients.delete(name));
    queueClients.set(name, client);
  }
  return client;
}

/** Sends a JSON message the way a queue output binding does (base64 of the JSON text). */
export async function sendQueueMessage(name: string, message: unknown, options: { visibilityTimeoutSeconds?: number } = {}): Promise<void> {
  const client = await queue(name);
  const text = Buffer.from(JSON.stringify(message)).toString('base64');
  await client.sendMessage(text, { visibilityTimeout: options.visibilityTimeoutSeconds, messageTimeToLive: -1 });
}

export function blobService(): BlobServiceClient {
  const access = storageAccess();
  return access.connectionString
    ? BlobServiceClient.fromConnectionString(access.connectionString)
    : new BlobServiceClient(access.blobUrl!, access.credential!);
}

let workReady: Promise<ContainerClient> | undefined;

/** Outflow's own working files (created on first use). */
export function workContainer(): Promise<ContainerClient> {
  workReady ??= (async () => {
    const container = blobService().getContainerClient(CONTAINERS.work);
    await container.createIfNotExists();
    return container;
  })();
  workReady.catch(() => (workReady = undefined));
  return workReady;
}

/** The lake: in the app's own storage, or a separate account given by LAKE_BLOB_SERVICE_URI. */
export function lakeContainer(): ContainerClient {
  const lakeUri = setting('LAKE_BLOB_SERVICE_URI');
  const service = lakeUri ? new BlobServiceClient(lakeUri, managedIdentity()) : blobService();
  return service.getContainerClient(setting('LAKE_CONTAINER')!);
}

let identity: TokenCredential | undefined;
function managedIdentity(): TokenCredential {
  const clientId = setting('AZURE_CLIENT_ID');
  identity ??= new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
  return identity;
}
