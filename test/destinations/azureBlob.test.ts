// The azure-blob adapter: the account-URL allow-list (no SSRF: only storage endpoints, and locally
// only the app's own Azurite), its schemas, and its container access against a real Azurite with
// each kind of credential.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { azureBlob, destinationContainer, parseConnectionString, storageEndpointOf } from '../../shared/destinations/azureBlob.js';
import { DEV_ACCOUNT, DEV_KEY, startAzurite, type RunningAzurite } from '../../local/azurite.js';

const accepted = [
  ['https://contoso.blob.core.windows.net', 'https://contoso.blob.core.windows.net', 'https://contoso.blob.core.windows.net'],
  ['https://contoso.blob.core.windows.net/', 'https://contoso.blob.core.windows.net', 'https://contoso.blob.core.windows.net'],
  ['https://contoso.dfs.core.windows.net', 'https://contoso.dfs.core.windows.net', 'https://contoso.blob.core.windows.net'],
  ['https://CONTOSO.blob.core.windows.net', 'https://contoso.blob.core.windows.net', 'https://contoso.blob.core.windows.net'],
  ['https://lake01.dfs.core.chinacloudapi.cn', 'https://lake01.dfs.core.chinacloudapi.cn', 'https://lake01.blob.core.chinacloudapi.cn'],
  ['https://gov1.blob.core.usgovcloudapi.net', 'https://gov1.blob.core.usgovcloudapi.net', 'https://gov1.blob.core.usgovcloudapi.net'],
] as const;

const refused = [
  'http://contoso.blob.core.windows.net',
  'https://contoso.blob.core.windows.net:8443',
  'https://contoso.blob.core.windows.net/container',
  'https://contoso.blob.core.windows.net?sv=2024&sig=x',
  'https://user:pw@contoso.blob.core.windows.net',
  'https://contoso.queue.core.windows.net',
  'https://contoso.blob.core.windows.net.evil.example',
  'https://evil.example/contoso.blob.core.windows.net',
  'https://a.blob.core.windows.net',
  'https://under_score.blob.core.windows.net',
  'https://169.254.169.254',
  'http://127.0.0.1:10000/devstoreaccount1',
  'http://localhost:7071/api',
  'file:///etc/passwd',
  'not a url',
];

describe('account URL allow-list', () => {
  it.each(accepted)('accepts %s', (input, accountUrl, blobUrl) => {
    expect(storageEndpointOf(input)).toMatchObject({ accountUrl, blobUrl, local: false });
  });

  it.each(refused)('refuses %s', (input) => {
    expect(storageEndpointOf(input)).toHaveProperty('reason');
  });

  it('names body.settings.accountUrl through the settings schema', () => {
    const result = azureBlob.connectionSettings.safeParse({ accountUrl: 'https://example.com', container: 'exports' });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join('.'))).toEqual(['accountUrl']);
  });
});

describe('schemas', () => {
  it('checks container names and folders', () => {
    const settings = (extra: object) =>
      azureBlob.connectionSettings.safeParse({ accountUrl: 'https://contoso.blob.core.windows.net', container: 'exports', ...extra });
    expect(settings({}).success).toBe(true);
    expect(settings({ container: 'Exports' }).success).toBe(false);
    expect(settings({ container: 'ex--ports' }).success).toBe(false);
    expect(settings({ folder: '/cdp/out/' }).data?.folder).toBe('cdp/out');
    expect(settings({ folder: 'cdp/../x' }).success).toBe(false);
    expect(settings({ folder: 'cdp//x' }).success).toBe(false);
  });

  it('takes no secret (managed identity), a SAS token or a connection string, not both', () => {
    expect(azureBlob.connectionSecrets.safeParse({}).success).toBe(true);
    expect(azureBlob.connectionSecrets.safeParse({ sasToken: '?sv=2024-11-04&sp=racwdl&sig=abc' }).data).toEqual({
      sasToken: 'sv=2024-11-04&sp=racwdl&sig=abc',
    });
    expect(azureBlob.connectionSecrets.safeParse({ sasToken: 'nonsense' }).success).toBe(false);
    expect(azureBlob.connectionSecrets.safeParse({ connectionString: 'AccountName=a;AccountKey=b' }).success).toBe(true);
    expect(azureBlob.connectionSecrets.safeParse({ sasToken: 'sig=a', connectionString: 'AccountName=a;AccountKey=b' }).success).toBe(
      false,
    );
    // Switching kinds: PATCH merges secrets, so the other one is cleared with "".
    expect(azureBlob.connectionSecrets.safeParse({ sasToken: '', connectionString: 'AccountName=a;AccountKey=b' }).success).toBe(true);
  });

  it('defaults export details to full runs without a header', () => {
    expect(azureBlob.exportDetails.parse({})).toEqual({ mode: 'full', includeHeader: false });
    expect(azureBlob.exportDetails.safeParse({ mode: 'delta' }).success).toBe(false);
  });

  it('parses connection strings with "=" inside values', () => {
    expect(
      parseConnectionString('DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc==;EndpointSuffix=core.windows.net'),
    ).toMatchObject({ accountname: 'acct', accountkey: 'abc==' });
  });
});

describe("the platform's own containers", () => {
  const saved = { ...process.env };
  afterAll(() => {
    for (const name of ['AzureWebJobsStorage', 'AzureWebJobsStorage__accountName', 'LAKE_BLOB_SERVICE_URI', 'LAKE_CONTAINER']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  const check = (accountUrl: string, container: string) => azureBlob.connectionSettings.safeParse({ accountUrl, container });

  it("refuses the lake container of the app's own account, however the URL is spelt, naming the container", () => {
    delete process.env.AzureWebJobsStorage;
    delete process.env.LAKE_BLOB_SERVICE_URI;
    process.env.AzureWebJobsStorage__accountName = 'outflowapp';
    process.env.LAKE_CONTAINER = 'cdp-lake';
    for (const url of ['https://outflowapp.blob.core.windows.net', 'https://OUTFLOWAPP.dfs.core.windows.net/']) {
      const result = check(url, 'cdp-lake');
      expect(result.success, url).toBe(false);
      expect(result.error!.issues.map((issue) => issue.path.join('.'))).toEqual(['container']);
      expect(result.error!.issues[0]!.message).toContain('own lake');
    }
    expect(check('https://outflowapp.blob.core.windows.net', 'outflow-work').error!.issues[0]!.message).toContain('working files');
    expect(check('https://outflowapp.blob.core.windows.net', 'exports').success).toBe(true);
    expect(check('https://customer.blob.core.windows.net', 'cdp-lake').success).toBe(true);
  });

  it('refuses the lake of a separate lake account (LAKE_BLOB_SERVICE_URI)', () => {
    process.env.LAKE_BLOB_SERVICE_URI = 'https://platformlake.blob.core.windows.net/';
    expect(check('https://platformlake.dfs.core.windows.net', 'cdp-lake').success).toBe(false);
    expect(check('https://platformlake.blob.core.windows.net', 'exports').success).toBe(true);
  });
});

describe('against Azurite', () => {
  let azurite: RunningAzurite;
  let savedStorage: string | undefined;
  let accountUrl: string;

  beforeAll(async () => {
    azurite = await startAzurite();
    savedStorage = process.env.AzureWebJobsStorage;
    // The app's own storage is this Azurite: its endpoint is the one local URL allowed.
    process.env.AzureWebJobsStorage = azurite.connectionString;
    accountUrl = `http://127.0.0.1:${azurite.blobPort}/${DEV_ACCOUNT}`;
    await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('exports').create();
  });

  afterAll(async () => {
    if (savedStorage === undefined) delete process.env.AzureWebJobsStorage;
    else process.env.AzureWebJobsStorage = savedStorage;
    await azurite?.stop();
  });

  const call = (secrets: Record<string, string>, container = 'exports') => ({
    settings: { accountUrl, container },
    secrets,
    details: { mode: 'full' as const, includeHeader: false },
    apiOrigin: undefined,
  });

  it("accepts the app's own Azurite endpoint, and no other local origin", () => {
    expect(storageEndpointOf(accountUrl)).toMatchObject({ accountUrl, local: true, account: DEV_ACCOUNT });
    expect(storageEndpointOf(`${accountUrl}/`)).toMatchObject({ local: true });
    expect(storageEndpointOf(`http://127.0.0.1:${azurite.blobPort + 1}/${DEV_ACCOUNT}`)).toHaveProperty('reason');
    expect(storageEndpointOf(`http://127.0.0.1:${azurite.blobPort}/otheraccount`)).toHaveProperty('reason');
  });

  it("tests the connection with the app's credentials, a connection string and a SAS token", async () => {
    expect(await azureBlob.testConnection(call({}))).toEqual({ ok: true });
    expect(await azureBlob.testConnection(call({ connectionString: `AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY}` }))).toEqual({
      ok: true,
    });
    const sas = generateBlobSASQueryParameters(
      { containerName: 'exports', permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
    ).toString();
    expect(await azureBlob.testConnection(call({ sasToken: sas }))).toEqual({ ok: true });
    await destinationContainer(call({ sasToken: sas }))
      .getBlockBlobClient('probe.txt')
      .upload('x', 1);
  });

  it('says what is wrong: a missing container, a wrong key, another account', async () => {
    const missing = await azureBlob.testConnection(call({}, 'nowhere'));
    expect(missing).toMatchObject({ ok: false, reason: expect.stringContaining('does not exist') });
    const wrongKey = await azureBlob.testConnection(
      call({ connectionString: `AccountName=${DEV_ACCOUNT};AccountKey=${Buffer.from('wrong key').toString('base64')}` }),
    );
    expect(wrongKey).toMatchObject({ ok: false, reason: expect.stringContaining('refused access') });
    const otherAccount = await azureBlob.testConnection(call({ connectionString: `AccountName=someoneelse;AccountKey=${DEV_KEY}` }));
    expect(otherAccount).toMatchObject({ ok: false, reason: expect.stringContaining("'someoneelse'") });
  });
});
