// Azure Blob Storage / Data Lake Storage adapter: data-out exports (entities) and segment exports
// land as CDM folders in a container of the customer's storage account. The adapter declares the
// connection and the export options and opens the container; the engine's data-out planner and
// writer (shared/dataOut/) do the work, so `sendBatch` is never called.
//
// Confirmed from primary sources:
// - Endpoints are https://<account>.blob.<suffix> and, for Data Lake Storage Gen2,
//   https://<account>.dfs.<suffix>; account names are 3–24 lower-case letters and digits; suffixes
//   core.windows.net (public cloud), core.chinacloudapi.cn (Azure China), core.usgovcloudapi.net
//   (Azure Government) (learn.microsoft.com "Storage account overview" → endpoints; Azure China
//   developer guide → endpoints).
// - Blob APIs work on accounts with a hierarchical namespace and operate on the same data as the
//   DFS APIs ("Multi-protocol access on Azure Data Lake Storage"), so a dfs URL is written through
//   the account's blob endpoint and the folder reads the same through either.
// - Auth: Entra ID (DefaultAzureCredential; the app's managed identity needs "Storage Blob Data
//   Contributor" on the container), a SAS token, or an account key from a connection string
//   (AccountName=…;AccountKey=… or SharedAccessSignature=…) (@azure/storage-blob README).
// - Conditional writes: every write takes If-Match / If-None-Match (BlobRequestConditions), which
//   is how latest.json moves atomically.
// - model.json partitions carry {name, location, refreshTime, fileFormatSettings} (microsoft/CDM
//   objectModel/TypeScript/Persistence/ModelJson/types/Partition.ts); shared/lake/cdmModel.ts holds
//   the schema the lake and the output share.
//
// Decisions: only the account's own endpoints are accepted (no SSRF through a connection); locally
// the one other origin allowed is the Azurite blob endpoint the app itself uses (then, without a
// secret, the app's own storage credentials are used). A connection string supplies only a
// credential: its endpoints are ignored and its account must be the URL's account.
import { z } from 'zod';
import { AnonymousCredential, ContainerClient, StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { blobService, isLocalStorage } from '../storage/clients.js';
import { CONTAINERS } from '../storage/names.js';
import { setting } from '../settings.js';
import { PROFILE_ENTITY, CONTACT_ENTITY, ACCOUNT_ENTITY } from '../lake/platformEntities.js';
import type { DataMatchingField, DestinationAdapter, DestinationCall } from './destination.js';
import { DestinationError } from './destinationError.js';

export const AZURE_BLOB_TYPE = 'azure-blob';

/** Storage endpoint suffixes of the public, China and US Government clouds. */
export const STORAGE_SUFFIXES = ['core.windows.net', 'core.chinacloudapi.cn', 'core.usgovcloudapi.net'] as const;

const AZURE_HOST = new RegExp(
  `^([a-z0-9]{3,24})\\.(blob|dfs)\\.(${STORAGE_SUFFIXES.map((suffix) => suffix.replace(/\./g, '\\.')).join('|')})$`,
);

export interface StorageEndpoint {
  /** The URL as configured, normalised (no trailing slash): partition locations use it. */
  accountUrl: string;
  /** Where the SDK writes: the account's blob endpoint (a dfs URL maps to it). */
  blobUrl: string;
  account: string;
  /** The app's own Azurite endpoint (local development). */
  local: boolean;
}

/** The app's own blob endpoint when it runs on local storage (Azurite), else undefined. */
function localBlobEndpoint(): URL | undefined {
  try {
    return isLocalStorage() ? new URL(blobService().url) : undefined;
  } catch {
    // Storage not configured (unit tests without a stack): nothing local is allowed.
    return undefined;
  }
}

const trimSlashes = (path: string) => path.replace(/\/+$/, '');

/** Parses and checks an account URL against the allow-list; a reason when it is refused. */
export function storageEndpointOf(input: string): StorageEndpoint | { reason: string } {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return { reason: 'not a URL; use https://<account>.blob.core.windows.net or https://<account>.dfs.core.windows.net' };
  }
  if (url.username || url.password || url.search || url.hash)
    return { reason: 'give the account URL only: no user, query (put a SAS token in secrets.sasToken) or fragment' };
  const local = localBlobEndpoint();
  if (local && url.origin === local.origin && trimSlashes(url.pathname) === trimSlashes(local.pathname)) {
    const accountUrl = `${local.origin}${trimSlashes(local.pathname)}`;
    return { accountUrl, blobUrl: accountUrl, account: trimSlashes(local.pathname).split('/').pop() ?? '', local: true };
  }
  const match = AZURE_HOST.exec(url.hostname);
  if (url.protocol !== 'https:' || !match || url.port !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    return {
      reason: `only a storage account endpoint is accepted: https://<account>.blob.<suffix> or https://<account>.dfs.<suffix> with suffix ${STORAGE_SUFFIXES.join(', ')}${local ? `, or the local Azurite endpoint ${trimSlashes(local.href)}` : ''}`,
    };
  }
  const [, account, , suffix] = match;
  return { accountUrl: `https://${url.hostname}`, blobUrl: `https://${account}.blob.${suffix}`, account: account!, local: false };
}

/** The blob endpoint of a URL, lower-case, without query or trailing slash: comparable across spellings. */
function blobEndpointKey(url: string): string | undefined {
  const endpoint = storageEndpointOf(url);
  if (!('reason' in endpoint)) return endpoint.blobUrl.toLowerCase();
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${trimSlashes(parsed.pathname)}`.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Why a destination container is the platform's own, or undefined: the lake the exports read
 * (LAKE_BLOB_SERVICE_URI or the app's storage, LAKE_CONTAINER) and the app's working container.
 * Writing there would overwrite the source data or the engine's files.
 */
export function platformContainerReason(accountUrl: string, container: string): string | undefined {
  const target = blobEndpointKey(accountUrl);
  if (!target) return undefined;
  let own: string | undefined;
  try {
    own = blobEndpointKey(blobService().url);
  } catch {
    // Storage not configured (unit tests without a stack): no own account to compare with.
  }
  const lakeUri = setting('LAKE_BLOB_SERVICE_URI');
  const lake = lakeUri ? blobEndpointKey(lakeUri) : own;
  if (target === lake && container === setting('LAKE_CONTAINER'))
    return `container '${container}' of this account is the platform's own lake, which exports read; choose another container`;
  if (target === own && container === CONTAINERS.work)
    return `container '${container}' of this account holds the platform's working files; choose another container`;
  return undefined;
}

/** A CDM folder path: slash-separated names, no "." or ".." parts, no backslashes. */
const folder = z
  .string()
  .trim()
  .max(512)
  .transform((value) => value.replace(/^\/+|\/+$/g, ''))
  .refine(
    (value) => !value.includes('\\') && value.split('/').every((part) => part !== '.' && part !== '..' && (value === '' || part !== '')),
    'a folder is names separated by single slashes, without . or .. parts',
  )
  .describe(
    'Folder inside the container that receives the exports (default: the container root). Each export writes {folder}/{exportName}/{runTimestamp}/.',
  );

const settingsSchema = z
  .object({
    accountUrl: z
      .string()
      .trim()
      .superRefine((value, ctx) => {
        const endpoint = storageEndpointOf(value);
        if ('reason' in endpoint) ctx.addIssue({ code: 'custom', message: endpoint.reason });
      })
      .describe(
        'Storage account endpoint: https://<account>.blob.core.windows.net, or the Data Lake Storage Gen2 endpoint https://<account>.dfs.core.windows.net (China and US Government suffixes too).',
      ),
    container: z
      .string()
      .trim()
      .regex(
        /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
        'a container name is 3–63 lower-case letters, digits and single dashes, starting and ending with a letter or digit',
      )
      .describe('Container (Data Lake: file system) that receives the CDM folders; it must exist.'),
    folder: folder.optional(),
  })
  .superRefine((settings, ctx) => {
    // Runs even when a field failed; only whole settings can name the platform's container.
    if (typeof settings.accountUrl !== 'string' || typeof settings.container !== 'string') return;
    const reason = platformContainerReason(settings.accountUrl, settings.container);
    if (reason) ctx.addIssue({ code: 'custom', path: ['container'], message: reason });
  });
export type AzureBlobSettings = z.infer<typeof settingsSchema>;

/** An empty string clears a secret (PATCH merges secret fields), so a connection can switch kinds. */
const secretsSchema = z
  .object({
    sasToken: z
      .string()
      .trim()
      .transform((value) => value.replace(/^\?/, ''))
      .refine((value) => value === '' || /(^|&)sig=/.test(value), 'a SAS token is a query string holding sig=…')
      .optional()
      .describe("SAS token for the container (racwdl). Leave out both secrets to use the app's managed identity."),
    connectionString: z
      .string()
      .trim()
      .refine(
        (value) => value === '' || /AccountKey=|SharedAccessSignature=/i.test(value),
        'a connection string with AccountName and AccountKey (or SharedAccessSignature)',
      )
      .optional()
      .describe('Storage connection string; only its credential is used, the endpoint is always accountUrl.'),
  })
  .refine((secrets) => !(secrets.sasToken && secrets.connectionString), {
    message: 'give a SAS token or a connection string, not both (set the other to "")',
    path: ['connectionString'],
  });
export type AzureBlobSecrets = z.infer<typeof secretsSchema>;

const detailsSchema = z.object({
  mode: z
    .enum(['full', 'incremental'])
    .default('full')
    .describe(
      'full: every run writes every row. incremental: after a first full run, runs write only inserted, updated and deleted rows by primary key, with an _operation column.',
    ),
  includeHeader: z.boolean().default(false).describe('Write a header row in each CSV partition (model.json says whether there is one).'),
  keys: z
    .record(z.string().min(1).max(256), z.string().min(1).max(256))
    .optional()
    .describe(
      'Incremental mode: the primary-key attribute per entity, e.g. {"UnifiedCustomerProfile": "CustomerId"}; default: the entity\'s first attribute.',
    ),
});
export type AzureBlobDetails = z.infer<typeof detailsSchema>;

/**
 * Segment exports name their columns with the mapping (column → attribute). Mapping keys must be
 * declared fields, so the columns on offer are the attribute names of the platform's profile,
 * contact and account entities (any of them may feed any column; none is required).
 */
const COLUMN_FIELDS: DataMatchingField[] = [
  ...new Set([PROFILE_ENTITY, CONTACT_ENTITY, ACCOUNT_ENTITY].flatMap((entity) => entity.attributes.map((attribute) => attribute.name))),
].map((name) => ({
  name,
  label: name,
  required: false,
  description: `Output column ${name}; map any attribute of the segment onto it.`,
}));

let identity: TokenCredential | undefined;
function managedIdentity(): TokenCredential {
  const clientId = setting('AZURE_CLIENT_ID');
  identity ??= new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
  return identity;
}

/** Blob writes are retried by the SDK (exponential backoff) before a chunk sees an error. */
const PIPELINE: StoragePipelineOptions = { retryOptions: { maxTries: 6, retryDelayInMs: 500, maxRetryDelayInMs: 15_000 } };

export function parseConnectionString(text: string): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts[part.slice(0, at).trim().toLowerCase()] = part.slice(at + 1).trim();
  }
  return parts;
}

/** The configured endpoint, checked again at use (rules may have tightened since it was saved). */
export function endpointFor(settings: AzureBlobSettings): StorageEndpoint {
  const endpoint = storageEndpointOf(settings.accountUrl);
  if ('reason' in endpoint) throw new DestinationError('config', `The connection's account URL is not accepted: ${endpoint.reason}.`);
  return endpoint;
}

/** The destination container, authenticated by the connection's secret or the app's identity. */
export function destinationContainer(call: Pick<DestinationCall, 'settings' | 'secrets'>): ContainerClient {
  const settings = call.settings as AzureBlobSettings;
  const secrets = call.secrets as AzureBlobSecrets;
  const endpoint = endpointFor(settings);
  const url = `${endpoint.blobUrl}/${settings.container}`;
  if (secrets.sasToken) return new ContainerClient(`${url}?${secrets.sasToken}`, new AnonymousCredential(), PIPELINE);
  if (secrets.connectionString) {
    const parts = parseConnectionString(secrets.connectionString);
    if (parts.accountname && parts.accountname !== endpoint.account) {
      throw new DestinationError(
        'config',
        `The connection string is for account '${parts.accountname}' but the account URL is for '${endpoint.account}'.`,
      );
    }
    if (parts.sharedaccesssignature)
      return new ContainerClient(`${url}?${parts.sharedaccesssignature.replace(/^\?/, '')}`, new AnonymousCredential(), PIPELINE);
    if (!parts.accountkey) throw new DestinationError('config', 'The connection string has neither AccountKey nor SharedAccessSignature.');
    return new ContainerClient(url, new StorageSharedKeyCredential(endpoint.account, parts.accountkey), PIPELINE);
  }
  // Locally, Azurite takes no Entra ID tokens over http: the app's own storage client it is.
  if (endpoint.local) return blobService().getContainerClient(settings.container);
  return new ContainerClient(url, managedIdentity(), PIPELINE);
}

/** Maps a storage failure to the engine's categories, with what to fix. */
export function toDestinationError(error: unknown, what: string): DestinationError {
  if (error instanceof DestinationError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  const code = (error as { code?: string }).code;
  const message = (error as Error).message?.split('\n')[0] ?? String(error);
  if (status === 401 || status === 403)
    return new DestinationError(
      'auth',
      `Storage refused access while ${what} (${code ?? status}): check the SAS token, key or the app identity's role on the container.`,
      { status, code },
    );
  if (status === 404 && code === 'ContainerNotFound')
    return new DestinationError('config', `The container does not exist (${what}).`, { status, code });
  if (status === 429 || status === 503)
    return new DestinationError('rateLimited', `Storage is throttling (${what}): ${message}`, { status, code });
  if (status !== undefined && status >= 500)
    return new DestinationError('vendorUnavailable', `Storage failed while ${what} (${status}): ${message}`, { status, code });
  if (status === undefined) return new DestinationError('network', `Storage could not be reached while ${what}: ${message}`, { code });
  return new DestinationError('config', `Storage answered ${status} while ${what}: ${message}`, { status, code });
}

/** One cheap authenticated call: list at most one blob under the folder. */
export async function probeContainer(container: ContainerClient, folder: string | undefined): Promise<void> {
  try {
    await container
      .listBlobsFlat({ prefix: folder ? `${folder}/` : undefined })
      .byPage({ maxPageSize: 1 })
      .next();
  } catch (error) {
    throw toDestinationError(error, `listing container '${container.containerName}'`);
  }
}

export const azureBlob: DestinationAdapter<AzureBlobSettings, AzureBlobSecrets, AzureBlobDetails> = {
  type: AZURE_BLOB_TYPE,
  displayName: 'Azure Blob Storage / Data Lake',
  connectionSettings: settingsSchema,
  connectionSecrets: secretsSchema,
  exportDetails: detailsSchema,
  dataMatching: COLUMN_FIELDS,
  freeColumnNames: true,
  // Rows per output CSV batch; files are sized by bytes (≤ 256 MB per partition), not by this.
  batchSize: 10_000,
  limits: { maxMembersPerExport: Number.MAX_SAFE_INTEGER, requestsPerSecond: 1_000, burst: 1_000 },
  eligibleSegmentTypes: ['Profile', 'Contact', 'Account'],
  exportKinds: ['dataOut', 'segment'],
  // No removeBatch: a file has no list to take anyone off, so `delivery.removals` is refused for it.

  async testConnection(call) {
    try {
      await probeContainer(destinationContainer(call), call.settings.folder);
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  },

  async sendBatch() {
    // Files, not batches: the data-out writer handles every chunk of this destination.
    throw new DestinationError('config', 'Azure Blob Storage exports are written as files by the data-out writer, not sent in batches.');
  },
};
