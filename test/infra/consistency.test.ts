// Keeps infra/ in step with the code: every setting the code reads, every queue/table/container it
// uses, every role it needs, the runtime version, host.json, the package .funcignore makes and the
// security review items (basic auth, audit logs, soft delete, network, regions, lake, alerts). Each check also runs on mutated
// copies (in memory) to show it fails when a setting, queue, role… goes missing. The templates
// are read (bicepReader.ts), not compiled: the compiler check is the Bicep CLI where it exists,
// `az bicep build --file infra/main.bicep` (CI's deploy job compiles them in azd provision).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../shared/settings.js';
import { METRICS } from '../../shared/observability/metrics.js';
import { CONTAINERS, QUEUES, TABLES } from '../../shared/storage/names.js';
import { checkPackageFitsBuildMode } from './deployPackage.js';
import { DEFAULT_INSTANCE_MEMORY_MB, workerExecArgv, workerHeapMb } from '../../local/host/workerArguments.js';
import {
  appSettings,
  checkAlertRules,
  checkAppSettingsKnown,
  checkAuditLogs,
  checkAzureYaml,
  checkBasicAuthOff,
  checkLakeReadOnly,
  checkLocationAllowed,
  checkSoftDelete,
  checkVnetOption,
  checkHosting,
  checkNodeWorkerHeap,
  checkHostJson,
  checkNoSecrets,
  checkParametersFile,
  checkRequiredRoles,
  checkRoleAssignmentShape,
  checkRolesGoToIdentity,
  checkSettingsCovered,
  checkStorageNames,
  createdStorageNames,
  majorSatisfies,
  optionalSettingsFromReadme,
  satisfies,
  type RequiredRole,
  type SettingSpecLike,
} from './consistency.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

const settings = SETTINGS as Record<string, SettingSpecLike>;
const functionApp = read('infra/functionApp.bicep');
const storage = read('infra/storage.bicep');
const main = read('infra/main.bicep');
const roleFiles = { 'roleAssignments.bicep': read('infra/roleAssignments.bicep'), 'lakeAccess.bicep': read('infra/lakeAccess.bicep') };
const readme = read('infra/README.md');
const hostJson = read('host.json');
const packageJson = JSON.parse(read('package.json')) as { engines?: { node?: string } };
const MODULES = [
  'main',
  'identity',
  'storage',
  'lakeStorage',
  'keyVault',
  'monitoring',
  'network',
  'functionApp',
  'roleAssignments',
  'lakeAccess',
];
const infraFiles = Object.fromEntries(MODULES.map((n) => [`infra/${n}.bicep`, read(`infra/${n}.bicep`)]));
/** The same files by name in infra/ (what the security checks take). */
const templates: Record<string, string> = Object.fromEntries(MODULES.map((n) => [`${n}.bicep`, read(`infra/${n}.bicep`)]));
const lakeStorage = templates['lakeStorage.bicep']!;

/** Settings the Functions host or the Azure Monitor distro reads (not declared in shared/settings.ts). */
const PLATFORM_SETTINGS = new Set([
  'AzureWebJobsStorage__credential',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'languageWorkers__node__arguments',
]);
/** Set by infra before the code that reads it is declared in shared/settings.ts (none now). */
const AWAITING_SETTINGS = new Set<string>();

/** Built-in Azure role definitions (ids are the same in every tenant). */
const BUILT_IN_ROLES: Record<string, string> = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  // Roles the app must not get; listed so a mix-up is named in the failure.
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
};

const STORAGE = 'Microsoft.Storage/storageAccounts';
const REQUIRED_ROLES: RequiredRole[] = [
  {
    file: 'roleAssignments.bicep',
    role: 'Storage Blob Data Owner',
    scopeType: STORAGE,
    why: 'host state, deployment package, lake in the same account',
  },
  { file: 'roleAssignments.bicep', role: 'Storage Queue Data Contributor', scopeType: STORAGE, why: 'queue triggers and sends' },
  { file: 'roleAssignments.bicep', role: 'Storage Table Data Contributor', scopeType: STORAGE, why: 'the tables' },
  {
    file: 'roleAssignments.bicep',
    role: 'Key Vault Secrets Officer',
    scopeType: 'Microsoft.KeyVault/vaults',
    why: 'the app writes connection secrets',
  },
  {
    file: 'roleAssignments.bicep',
    role: 'Monitoring Metrics Publisher',
    scopeType: 'Microsoft.Insights/components',
    why: 'telemetry with Entra auth',
  },
  { file: 'lakeAccess.bicep', role: 'Storage Blob Data Reader', scopeType: STORAGE, why: 'reads a separate lake account' },
];

const expectedNames = { queues: Object.values(QUEUES), tables: Object.values(TABLES), containers: Object.values(CONTAINERS) };

function mutate(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  expect(out, `mutation ${String(from)} did not apply`).not.toBe(text);
  return out;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Removes the line(s) matching `^\s*<start>` (a setting, a list entry, a table row). */
const removeLine = (text: string, start: string): string => mutate(text, new RegExp(`^[ \\t]*${escape(start)}.*\\n`, 'gm'), '');
/** Removes a top-level resource block by symbol. */
const removeResource = (text: string, symbol: string): string =>
  mutate(text, new RegExp(`\\nresource ${symbol} [^\\n]*\\n[\\s\\S]*?\\n}\\n`), '\n');

const settingsProblems = (bicep = functionApp, markdown = readme, registry = settings): string[] =>
  checkSettingsCovered(registry, new Set(appSettings(bicep).keys()), optionalSettingsFromReadme(markdown));

describe('(a) every setting the code reads is set in Azure or documented as optional', () => {
  it('covers every non-local setting in shared/settings.ts', () => {
    expect(settingsProblems()).toEqual([]);
  });

  it('sets nothing that neither the code nor the platform reads', () => {
    expect(checkAppSettingsKnown(new Set(appSettings(functionApp).keys()), settings, PLATFORM_SETTINGS, AWAITING_SETTINGS)).toEqual([]);
  });

  it('reads the app settings and the README list it checks against', () => {
    expect([...appSettings(functionApp).keys()]).toEqual(
      expect.arrayContaining(['AzureWebJobsStorage__queueServiceUri', 'KEY_VAULT_URL', 'AUTH_AUDIENCE', 'LAKE_BLOB_SERVICE_URI']),
    );
    expect(optionalSettingsFromReadme(readme).size).toBeGreaterThan(0);
  });

  const listedOptional = optionalSettingsFromReadme(readme);
  const setInBicep = Object.entries(settings)
    .filter(([name, spec]) => !spec.localOnly && appSettings(functionApp).has(name) && !listedOptional.has(name))
    .map(([name]) => name);
  // Set only on a condition (e.g. the console's sign-in, when its app registration is given) and so also listed as optional.
  const setOnCondition = Object.entries(settings)
    .filter(([name, spec]) => !spec.localOnly && appSettings(functionApp).has(name) && listedOptional.has(name))
    .map(([name]) => name);
  it.each(setOnCondition)('fails when %s is removed from both the app settings and the README optional list', (name) => {
    expect(settingsProblems(removeLine(functionApp, `${name}:`), removeLine(readme, `| \`${name}\``)).join('\n')).toContain(name);
  });
  it.each(setInBicep)('fails when %s is removed from the app settings', (name) => {
    expect(settingsProblems(removeLine(functionApp, `${name}:`)).join('\n')).toContain(name);
  });

  const optional = [...optionalSettingsFromReadme(readme)].filter((name) => name in settings && !appSettings(functionApp).has(name));
  it.each(optional)('fails when %s is removed from the README optional list', (name) => {
    expect(settingsProblems(functionApp, removeLine(readme, `| \`${name}\``)).join('\n')).toContain(name);
  });

  it('fails for a new setting the code starts reading', () => {
    const grown = { ...settings, OUTFLOW_SOMETHING_NEW: { description: 'new' } };
    expect(settingsProblems(functionApp, readme, grown).join('\n')).toContain('OUTFLOW_SOMETHING_NEW');
  });

  it('fails when a local-only setting is set in Azure', () => {
    const localOnly = Object.entries(settings).find(([, spec]) => spec.localOnly)?.[0] ?? 'LOCAL_ONLY_EXAMPLE';
    const registry = localOnly in settings ? settings : { ...settings, [localOnly]: { localOnly: true } };
    const mutated = mutate(functionApp, '  KEY_VAULT_URL: keyVaultUri\n', `  KEY_VAULT_URL: keyVaultUri\n  ${localOnly}: 'x'\n`);
    expect(settingsProblems(mutated, readme, registry).join('\n')).toMatch(new RegExp(`${localOnly} is local-only`));
  });

  it('fails when the README lists a setting the code does not declare', () => {
    expect(settingsProblems(functionApp, readme.replace('| `LINKEDIN_API_URL`', '| `LINKEDIN_URL`')).join('\n')).toContain('LINKEDIN_URL');
  });

  it('fails for an app setting nobody reads', () => {
    const mutated = mutate(functionApp, '  KEY_VAULT_URL: keyVaultUri\n', '  KEY_VAULT_URL: keyVaultUri\n  VAULT_URI: keyVaultUri\n');
    expect(checkAppSettingsKnown(new Set(appSettings(mutated).keys()), settings, PLATFORM_SETTINGS, AWAITING_SETTINGS).join()).toContain(
      'VAULT_URI',
    );
  });
});

describe('(b) identity-based connections only: no keys or connection strings', () => {
  it('has none', () => {
    expect(checkNoSecrets(infraFiles, appSettings(functionApp))).toEqual([]);
  });

  it('connects to storage and Key Vault as the user-assigned identity', () => {
    const app = appSettings(functionApp);
    expect(app.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(app.get('AzureWebJobsStorage__clientId')).toBe('identityClientId');
    expect(app.get('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(app.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toContain('Authorization=AAD');
    expect(app.has('AzureWebJobsStorage')).toBe(false);
  });

  it('fails for a connection string built from listKeys()', () => {
    const mutated = mutate(
      functionApp,
      '  KEY_VAULT_URL: keyVaultUri\n',
      "  KEY_VAULT_URL: keyVaultUri\n  AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${storage.listKeys().keys[0].value}'\n",
    );
    const problems = checkNoSecrets({ 'infra/functionApp.bicep': mutated }, appSettings(mutated)).join('\n');
    expect(problems).toMatch(/listKeys\(\)/);
    expect(problems).toMatch(/DefaultEndpointsProtocol/);
    expect(problems).toMatch(/app setting AzureWebJobsStorage is the connection-string form/);
  });

  it('fails for an account key in a string or a secure input', () => {
    expect(checkNoSecrets({ 'x.bicep': "var c = 'AccountName=a;AccountKey=abc'\noutput o string = c" }, new Map()).join()).toMatch(
      /AccountKey=/,
    );
    expect(checkNoSecrets({ 'x.bicep': '@secure()\nparam vendorApiKey string\noutput o string = vendorApiKey' }, new Map()).join()).toMatch(
      /@secure\(\)/,
    );
    expect(checkNoSecrets({}, new Map([['VENDOR_API_SECRET', "'x'"]])).join()).toMatch(/looks like a credential/);
  });
});

/** What the app storage account and the lake account create together. */
function created(appStorage = storage, lake = lakeStorage): ReturnType<typeof createdStorageNames> {
  const a = createdStorageNames(appStorage);
  const b = createdStorageNames(lake);
  return {
    queues: new Set([...a.queues, ...b.queues]),
    tables: new Set([...a.tables, ...b.tables]),
    containers: new Set([...a.containers, ...b.containers]),
  };
}

describe('(c) every queue, table and container the code uses is created', () => {
  it('creates names.ts queues (+ poison), tables and containers', () => {
    expect(checkStorageNames(expectedNames, created())).toEqual([]);
  });

  it.each(expectedNames.queues)('fails when queue %s is removed', (queue) => {
    expect(checkStorageNames(expectedNames, created(removeLine(storage, `'${queue}'`))).join()).toContain(`queue ${queue} `);
  });

  it.each(expectedNames.queues)('fails when the poison queue of %s is removed', (queue) => {
    expect(checkStorageNames(expectedNames, created(removeLine(storage, `'${queue}-poison'`))).join()).toContain(`${queue}-poison`);
  });

  it.each(expectedNames.tables)('fails when table %s is removed', (table) => {
    expect(checkStorageNames(expectedNames, created(removeLine(storage, `'${table}'`))).join()).toContain(`table ${table} `);
  });

  it('fails when the lake container is removed', () => {
    expect(checkStorageNames(expectedNames, created(storage, removeResource(lakeStorage, 'lakeContainer'))).join()).toContain(
      `container ${CONTAINERS.lake} `,
    );
  });

  it('fails for a name the code uses that infra does not know', () => {
    const grown = { ...expectedNames, queues: [...expectedNames.queues, 'export-retries'] };
    expect(checkStorageNames(grown, created()).join()).toContain('export-retries');
  });

  it('sets the LAKE_CONTAINER default and the main.bicep default to names.ts', () => {
    expect(main).toMatch(new RegExp(`param lakeContainerName string = '${CONTAINERS.lake}'`));
    expect(appSettings(functionApp).get('LAKE_CONTAINER')).toBe('lakeContainerName');
  });
});

describe('(d) every role the code needs is assigned, as guid(scope, principal, role), and no more', () => {
  it('assigns exactly the required roles', () => {
    expect(checkRequiredRoles(roleFiles, REQUIRED_ROLES, BUILT_IN_ROLES)).toEqual([]);
  });

  it.each(Object.entries(roleFiles))(
    'names every assignment in %s guid(scope.id, principalId, role), to a service principal',
    (_file, text) => {
      expect(checkRoleAssignmentShape(text)).toEqual([]);
    },
  );

  it('gives the roles to the user-assigned identity the function app runs as', () => {
    expect(checkRolesGoToIdentity(main, ['roleAssignments.bicep', 'lakeAccess.bicep'], 'functionApp.bicep')).toEqual([]);
    expect(
      checkRolesGoToIdentity(
        mutate(main, /principalId: identity\.outputs\.principalId/, 'principalId: deployer().objectId'),
        ['roleAssignments.bicep'],
        'functionApp.bicep',
      ).join(),
    ).toMatch(/roleAssignments.bicep gets principalId/);
  });

  const assignments: [string, string, string][] = [
    ['roleAssignments.bicep', 'blobDataOwner', 'Storage Blob Data Owner'],
    ['roleAssignments.bicep', 'queueDataContributor', 'Storage Queue Data Contributor'],
    ['roleAssignments.bicep', 'tableDataContributor', 'Storage Table Data Contributor'],
    ['roleAssignments.bicep', 'secretsOfficer', 'Key Vault Secrets Officer'],
    ['roleAssignments.bicep', 'metricsPublisher', 'Monitoring Metrics Publisher'],
    ['lakeAccess.bicep', 'lakeBlobDataReader', 'Storage Blob Data Reader'],
  ];
  it.each(assignments)('fails when %s loses %s (%s)', (file, symbol, role) => {
    const mutated = { ...roleFiles, [file]: removeResource(roleFiles[file as keyof typeof roleFiles], symbol) };
    expect(checkRequiredRoles(mutated, REQUIRED_ROLES, BUILT_IN_ROLES).join('\n')).toContain(`${role} on`);
  });

  const ra = roleFiles['roleAssignments.bicep'];
  it('fails when a name is not guid(scope.id, principalId, role)', () => {
    expect(
      checkRoleAssignmentShape(
        mutate(
          ra,
          'guid(storage.id, principalId, roles.storageBlobDataOwner)',
          'guid(principalId, storage.id, roles.storageBlobDataOwner)',
        ),
      ).join(),
    ).toMatch(/blobDataOwner.*expected guid\(storage \. id/);
    expect(
      checkRoleAssignmentShape(
        mutate(ra, 'guid(vault.id, principalId, roles.keyVaultSecretsOfficer)', 'guid(vault.id, principalId)'),
      ).join(),
    ).toMatch(/secretsOfficer/);
    expect(
      checkRoleAssignmentShape(
        mutate(ra, 'guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)', "'metrics-publisher'"),
      ).join(),
    ).toMatch(/metricsPublisher.*name is not guid/);
    expect(
      checkRoleAssignmentShape(
        mutate(
          ra,
          'guid(storage.id, principalId, roles.storageQueueDataContributor)',
          'guid(storage.id, principalId, roles.storageTableDataContributor)',
        ),
      ).join(),
    ).toMatch(/queueDataContributor/);
  });

  it('fails when the principal is not a service principal', () => {
    expect(checkRoleAssignmentShape(mutate(ra, "principalType: 'ServicePrincipal'", "principalType: 'User'")).join()).toMatch(
      /principalType/,
    );
  });

  it('fails for a wrong or extra role GUID', () => {
    const wrong = mutate(
      ra,
      "storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'",
      "storageBlobDataOwner: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'",
    );
    const problems = checkRequiredRoles({ ...roleFiles, 'roleAssignments.bicep': wrong }, REQUIRED_ROLES, BUILT_IN_ROLES).join('\n');
    expect(problems).toContain('Storage Blob Data Owner on');
    expect(problems).toMatch(/assigns Storage Blob Data Contributor .* which the app does not need/);
    expect(problems).toMatch(/references storageBlobDataOwner but the GUID is Storage Blob Data Contributor/);
  });
});

describe('(e) the runtime matches the code', () => {
  const engines = packageJson.engines?.node ?? '';

  it('package.json declares engines.node', () => {
    expect(engines).not.toBe('');
  });

  it('runs Node on Flex Consumption (FC1, Linux) with a version that satisfies engines.node', () => {
    expect(checkHosting(functionApp, engines)).toEqual([]);
  });

  it('fails for a Node version engines.node rejects or Flex does not offer', () => {
    expect(checkHosting(mutate(functionApp, "var nodeVersion = '22'", "var nodeVersion = '18'"), engines).join()).toMatch(/Node 18/);
    expect(checkHosting(functionApp, '>=24').join()).toMatch(/does not satisfy/);
    expect(checkHosting(mutate(functionApp, "name: 'node'", "name: 'python'"), engines).join()).toMatch(/expected node/);
  });

  it('fails for another plan', () => {
    expect(checkHosting(mutate(functionApp, "name: 'FC1'", "name: 'Y1'"), engines).join()).toMatch(/expected FC1/);
    expect(
      checkHosting(mutate(functionApp, "type: 'UserAssignedIdentity'", "type: 'StorageAccountConnectionString'"), engines).join(),
    ).toMatch(/user-assigned identity/);
  });

  it("caps the Node worker's heap at the share of the instance memory the local host uses", () => {
    expect(checkNodeWorkerHeap(functionApp, main, workerHeapMb, DEFAULT_INSTANCE_MEMORY_MB)).toEqual([]);
    expect(workerExecArgv({})).toEqual([`--max-old-space-size=${workerHeapMb(DEFAULT_INSTANCE_MEMORY_MB)}`]);
  });

  it('fails when the cap is gone, another share, or the default size differs', () => {
    const check = (app: string, mainText = main) => checkNodeWorkerHeap(app, mainText, workerHeapMb, DEFAULT_INSTANCE_MEMORY_MB).join();
    expect(check(removeLine(functionApp, 'languageWorkers__node__arguments:'))).toMatch(/is not set/);
    expect(check(mutate(functionApp, 'instanceMemoryMB / 2', 'instanceMemoryMB / 4'))).toMatch(
      /instance 2048 MB: infra caps the Node heap at 512 MB, the local host at 1024 MB/,
    );
    expect(check(mutate(functionApp, '--max-old-space-size=', '--max-semi-space-size='))).toMatch(/does not pass --max-old-space-size/);
    expect(check(functionApp, mutate(main, 'param instanceMemoryMB int = 2048', 'param instanceMemoryMB int = 4096'))).toMatch(
      /default instanceMemoryMB is 4096/,
    );
  });

  it('reads semver ranges', () => {
    expect(majorSatisfies('22', '>=20')).toBe(true);
    expect(majorSatisfies('20', '>=20')).toBe(true);
    expect(majorSatisfies('18', '>=20')).toBe(false);
    expect(majorSatisfies('22', '^20 || ^22')).toBe(true);
    expect(majorSatisfies('22', '^20')).toBe(false);
    expect(majorSatisfies('22', '>=20 <23')).toBe(true);
    expect(majorSatisfies('22', '>= 20.6')).toBe(true);
    expect(majorSatisfies('22', '20.x')).toBe(false);
    expect(satisfies([22, 1, 0], '~22.1')).toBe(true);
    expect(satisfies([22, 2, 0], '~22.1')).toBe(false);
    expect(satisfies([22, 0, 0], '<=22')).toBe(true);
  });
});

describe('(f) host.json is valid for the runtime', () => {
  const host = JSON.parse(hostJson) as Record<string, any>;
  const withChange = (change: (h: Record<string, any>) => void): Record<string, any> => {
    const copy = structuredClone(host);
    change(copy);
    return copy;
  };

  it('passes', () => {
    expect(checkHostJson(host)).toEqual([]);
  });

  it.each([
    ['version 1.0', (h: any) => (h.version = '1.0'), /version/],
    ['bundle 3', (h: any) => (h.extensionBundle.version = '[3.*, 4.0.0)'), /extensionBundle.version/],
    ['batchSize 64', (h: any) => (h.extensions.queues.batchSize = 64), /batchSize/],
    ['batchSize 0', (h: any) => (h.extensions.queues.batchSize = 0), /batchSize/],
    ['newBatchThreshold -1', (h: any) => (h.extensions.queues.newBatchThreshold = -1), /newBatchThreshold/],
    [
      'newBatchThreshold above batchSize',
      (h: any) => (h.extensions.queues.newBatchThreshold = h.extensions.queues.batchSize + 1),
      /newBatchThreshold/,
    ],
    ['messageEncoding utf8', (h: any) => (h.extensions.queues.messageEncoding = 'utf8'), /messageEncoding/],
    ['maxDequeueCount 0', (h: any) => (h.extensions.queues.maxDequeueCount = 0), /maxDequeueCount/],
    ['visibilityTimeout in seconds', (h: any) => (h.extensions.queues.visibilityTimeout = 5), /visibilityTimeout/],
    ['no routePrefix', (h: any) => delete h.extensions.http.routePrefix, /routePrefix/],
    ['no queues section', (h: any) => delete h.extensions.queues, /extensions.queues/],
  ])('fails for %s', (_label, change, pattern) => {
    expect(checkHostJson(withChange(change)).join()).toMatch(pattern);
  });
});

describe('azd wiring', () => {
  it('main.parameters.json sets every required parameter and only declared ones', () => {
    expect(checkParametersFile(main, read('infra/main.parameters.json'))).toEqual([]);
  });

  it('main.parameters.json uses azd substitutions for environment name and location', () => {
    const parameters = JSON.parse(read('infra/main.parameters.json')).parameters;
    expect(parameters.environmentName.value).toBe('${AZURE_ENV_NAME}');
    expect(parameters.location.value).toBe('${AZURE_LOCATION}');
  });

  it('fails for a missing required or an undeclared parameter', () => {
    const parameters = JSON.parse(read('infra/main.parameters.json'));
    delete parameters.parameters.authAudience;
    parameters.parameters.notAParam = { value: 'x' };
    const problems = checkParametersFile(main, JSON.stringify(parameters)).join('\n');
    expect(problems).toContain('authAudience');
    expect(problems).toContain('notAParam');
  });

  it('azure.yaml deploys the repository root as a function app from infra/', () => {
    const yaml = read('azure.yaml');
    expect(checkAzureYaml(yaml)).toEqual([]);
    expect(checkAzureYaml(mutate(yaml, 'host: function', 'host: containerapp')).join()).toMatch(/host/);
  });

  it('.funcignore fits the build mode azure.yaml asks for (package.test.ts builds the package itself)', () => {
    const shape = {
      funcignore: read('.funcignore'),
      azureYaml: read('azure.yaml'),
      scripts: JSON.parse(read('package.json')).scripts,
      appSources: ['functions/health.ts', 'shared/settings.ts'],
    };
    expect(checkPackageFitsBuildMode(shape)).toEqual([]);
    expect(checkPackageFitsBuildMode({ ...shape, funcignore: shape.funcignore.replace('node_modules/\n', '') }).join()).toMatch(
      /requires '.funcignore' to exclude node_modules/,
    );
    expect(checkPackageFitsBuildMode({ ...shape, funcignore: `${shape.funcignore}\ntsconfig.json\n` }).join()).toMatch(
      /leaves out tsconfig.json/,
    );
    expect(checkPackageFitsBuildMode({ ...shape, funcignore: shape.funcignore.replace('/test/\n', '') }).join()).toMatch(/ships test\//);
  });

  it('tags the function app for azd deploy', () => {
    expect(functionApp).toMatch(/'azd-service-name': 'api'/);
    expect(read('azure.yaml')).toMatch(/^ {2}api:\s*$/m);
  });

  it('the README says az bicep build is the compiler check', () => {
    expect(readme).toContain('az bicep build --file infra/main.bicep');
  });
});

describe('security settings of the resources', () => {
  it('storage: no shared keys, TLS 1.2, no public blob access', () => {
    expect(storage).toMatch(/allowSharedKeyAccess: false/);
    expect(storage).toMatch(/minimumTlsVersion: 'TLS1_2'/);
    expect(storage).toMatch(/allowBlobPublicAccess: false/);
  });

  it('Key Vault: RBAC, soft delete, purge protection', () => {
    const vault = read('infra/keyVault.bicep');
    expect(vault).toMatch(/enableRbacAuthorization: true/);
    expect(vault).toMatch(/enableSoftDelete: true/);
    expect(vault).toMatch(/enablePurgeProtection: true/);
  });

  it('monitoring: local auth disabled on Application Insights and Log Analytics', () => {
    const monitoring = read('infra/monitoring.bicep');
    expect(monitoring.match(/disableLocalAuth: true/gi)?.length).toBe(2);
  });
});

describe('what a security review expects', () => {
  const withFile = (name: string, text: string): Record<string, string> => ({ ...templates, [name]: text });

  it('basic-auth publishing (SCM, FTP) is off', () => {
    expect(checkBasicAuthOff(templates)).toEqual([]);
    const app = templates['functionApp.bicep']!;
    expect(checkBasicAuthOff(withFile('functionApp.bicep', removeResource(app, 'ftpBasicAuth'))).join()).toMatch(/'ftp'/);
    expect(checkBasicAuthOff(withFile('functionApp.bicep', mutate(app, /allow: false/, 'allow: true'))).join()).toMatch(
      /'scm' does not set allow: false/,
    );
  });

  it('Key Vault audit logs and storage diagnostic logs go to Log Analytics', () => {
    expect(checkAuditLogs(templates)).toEqual([]);
    expect(checkAuditLogs(withFile('keyVault.bicep', removeResource(templates['keyVault.bicep']!, 'auditLogs'))).join()).toMatch(
      /vaults 'vault' sends no diagnostic logs/,
    );
    expect(
      checkAuditLogs(
        withFile('keyVault.bicep', mutate(templates['keyVault.bicep']!, "'AuditEvent'", "'AzurePolicyEvaluationDetails'")),
      ).join(),
    ).toMatch(/does not log AuditEvent/);
    expect(checkAuditLogs(withFile('storage.bicep', removeResource(storage, 'queueDiagnostics'))).join()).toMatch(
      /queueServices 'queueService' sends no diagnostic logs/,
    );
    expect(
      checkAuditLogs(withFile('storage.bicep', mutate(storage, "category: 'StorageDelete'", "category: 'StorageRead'"))).join(),
    ).toMatch(/does not log StorageDelete/);
    expect(checkAuditLogs(withFile('lakeStorage.bicep', removeResource(lakeStorage, 'blobDiagnostics'))).join()).toMatch(
      /lakeStorage.bicep/,
    );
  });

  it('deleted blobs and containers can be restored', () => {
    expect(checkSoftDelete(templates)).toEqual([]);
    expect(
      checkSoftDelete(
        withFile(
          'storage.bicep',
          mutate(
            storage,
            /containerDeleteRetentionPolicy: \{\n\s*enabled: true/,
            'containerDeleteRetentionPolicy: {\n      enabled: false',
          ),
        ),
      ).join(),
    ).toMatch(/storage.bicep: blob service containerDeleteRetentionPolicy/);
    expect(
      checkSoftDelete(
        withFile(
          'lakeStorage.bicep',
          mutate(lakeStorage, /deleteRetentionPolicy: \{\n\s*enabled: true/, 'deleteRetentionPolicy: {\n      enabled: false'),
        ),
      ).join(),
    ).toMatch(/lakeStorage.bicep: blob service deleteRetentionPolicy/);
  });

  it('vnetEnabled (opt-in): VNet integration, private endpoints, public network access off', () => {
    expect(checkVnetOption(templates)).toEqual([]);
    expect(
      checkVnetOption(withFile('main.bicep', mutate(main, 'param vnetEnabled bool = false', 'param vnetEnabled bool = true'))).join(),
    ).toMatch(/opt-in/);
    expect(
      checkVnetOption(
        withFile(
          'keyVault.bicep',
          mutate(
            templates['keyVault.bicep']!,
            "publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'",
            "publicNetworkAccess: 'Enabled'",
          ),
        ),
      ).join(),
    ).toMatch(/keyVault.bicep: publicNetworkAccess/);
    expect(checkVnetOption(withFile('main.bicep', mutate(main, /\n {4}vnetEnabled: vnetEnabled\n/, '\n'))).join()).toMatch(
      /is not given vnetEnabled/,
    );
    expect(checkVnetOption(withFile('network.bicep', removeResource(templates['network.bicep']!, 'keyVaultEndpoint'))).join()).toMatch(
      /no private endpoint for vault/,
    );
    expect(
      checkVnetOption(
        withFile('network.bicep', mutate(templates['network.bicep']!, "'Microsoft.App/environments'", "'Microsoft.Web/serverFarms'")),
      ).join(),
    ).toMatch(/Microsoft.App\/environments/);
    expect(
      checkVnetOption(
        withFile(
          'main.bicep',
          mutate(main, /virtualNetworkSubnetId: vnetEnabled \? network\.outputs\.appSubnetId : ''/, "virtualNetworkSubnetId: ''"),
        ),
      ).join(),
    ).toMatch(/does not join/);
  });

  it('location is limited to Flex Consumption regions', () => {
    expect(checkLocationAllowed(main)).toEqual([]);
    expect(checkLocationAllowed(mutate(main, /@allowed\(\[\n {2}'australiaeast'[\s\S]*?\]\)\n/, '')).join()).toMatch(/no @allowed list/);
  });

  it('the app cannot write or delete the lake: its own account, read-only for the app', () => {
    expect(checkLakeReadOnly(templates, CONTAINERS.lake)).toEqual([]);
    const withLake = mutate(
      storage,
      'resource queueService ',
      `resource lakeContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {\n  parent: blobService\n  name: '${CONTAINERS.lake}'\n}\n\nresource queueService `,
    );
    expect(checkLakeReadOnly(withFile('storage.bicep', withLake), CONTAINERS.lake).join()).toMatch(/creates the lake container/);
    expect(
      checkLakeReadOnly(
        withFile('main.bicep', mutate(main, /var lakeBlobServiceUri = .*\n/, "var lakeBlobServiceUri = ''\n")),
        CONTAINERS.lake,
      ).join(),
    ).toMatch(/LAKE_BLOB_SERVICE_URI/);
  });

  it('the Key Vault role is Key Vault Secrets Officer: get, set and delete secrets, nothing on keys, certificates or access', () => {
    // Key Vault Secrets User only reads; Key Vault Administrator and Contributor manage far more.
    expect(checkRequiredRoles(roleFiles, REQUIRED_ROLES, BUILT_IN_ROLES)).toEqual([]);
    expect(REQUIRED_ROLES.filter((r) => r.scopeType === 'Microsoft.KeyVault/vaults').map((r) => r.role)).toEqual([
      'Key Vault Secrets Officer',
    ]);
  });

  const alertNames = {
    runDuration: METRICS.runDuration,
    queueBacklog: METRICS.queueBacklog,
    chunkQueue: QUEUES.exportChunks,
    poisonFunctions: [...read('functions/failPoisonedWork.ts').matchAll(/app\.storageQueue\('(\w+)'/g)].map((m) => m[1]!),
  };

  it('alert rules: failed runs, poison messages, a growing chunk backlog, on names the code emits', () => {
    expect(alertNames.poisonFunctions).toEqual(['failPoisonedChunk', 'failPoisonedPlan']);
    expect(checkAlertRules(templates['monitoring.bicep']!, alertNames)).toEqual([]);
    const monitoring = templates['monitoring.bicep']!;
    expect(checkAlertRules(monitoring, { ...alertNames, runDuration: 'outflow.run.seconds' }).join()).toMatch(/failed runs/);
    expect(
      checkAlertRules(monitoring, { ...alertNames, poisonFunctions: [...alertNames.poisonFunctions, 'failPoisonedSend'] }).join(),
    ).toMatch(/poison message/);
    expect(checkAlertRules(removeResource(monitoring, 'chunkBacklogAlert'), alertNames).join()).toMatch(/growing chunk backlog/);
  });
});
