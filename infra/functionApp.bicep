// The Flex Consumption plan (FC1, Linux) and the function app on it: Node.js 22, running as the
// user-assigned identity, deployed from a blob container it reaches with that identity, and
// configured only with identity-based settings — no keys or connection strings.
// Every setting the code reads (shared/settings.ts) is set here or listed as optional in
// infra/README.md; test/infra checks both.

@description('Function app name (globally unique: <name>.azurewebsites.net).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (one that offers Flex Consumption).')
param location string

@description('Tags; the app also gets azd-service-name so azd deploy finds it.')
param tags object

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Blob endpoint of the app storage account (https://<account>.blob.core.windows.net/).')
param storageBlobEndpoint string

@description('Queue endpoint of the app storage account.')
param storageQueueEndpoint string

@description('Table endpoint of the app storage account.')
param storageTableEndpoint string

@description('Container in the app storage account that holds the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string (an ingestion address, not a credential: local auth is off).')
param appInsightsConnectionString string

@description('Key Vault URI (https://<vault>.vault.azure.net/).')
param keyVaultUri string

@description('Expected JWT issuer (Entra ID v2.0 issuer of the tenant).')
param authIssuer string

@description('Expected JWT audience (the Outflow API app registration).')
param authAudience string

@description('JWKS endpoint that signs Entra ID tokens.')
param authJwksUrl string

@description('Blob container holding the lake (CDM folder).')
param lakeContainerName string

@description('Blob endpoint of the lake account (the lake is never in the app storage account).')
param lakeBlobServiceUri string = ''

@description('The console\'s Entra ID app registration (SPA); empty = no Microsoft sign-in in the console.')
param consoleAuthClientId string = ''

@description('Tenant the console signs people in with.')
param consoleAuthTenantId string = ''

@description('Scope(s) the console asks for to call this API (api://<api app id>/<scope>).')
param consoleAuthApiScope string = ''

@description('Subnet the app joins (outbound VNet integration, vnetEnabled); empty = none.')
param virtualNetworkSubnetId string = ''

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

// Node.js major the app runs on; must satisfy package.json engines.node (checked by test/infra).
var nodeVersion = '22'

// The Node worker's V8 old space: half the instance memory, the size V8 itself picks for a machine
// of that memory (Node sizes V8 from the cgroup limit or the machine's memory; V8's old generation
// is a quarter of it times two on 64-bit). Set explicitly so it holds whether or not the worker
// sees the instance's memory as its own, and so the local host, on a larger machine, matches it
// (local/host/workerArguments.ts; test/infra checks the two agree). The heap's size, not the live
// data, is what grows with a run's length: V8 lets the old space reach up to 4x the live data
// between collections at a limit of 2 GB or more, 1.3-2x below (BENCHMARKS.md, "Pipeline cost
// against the bare floor"). Passed as the worker's arguments: the host starts a new worker with
// them at specialization instead of reusing its prewarmed one, which a NODE_OPTIONS setting would
// not reach.
var nodeWorkerHeapMB = instanceMemoryMB / 2

var appSettings = {
  // Storage for the Functions host and the app, identity-based (the host and shared/storage/clients.ts
  // read the same AzureWebJobsStorage__* settings).
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // DefaultAzureCredential (Key Vault, storage) picks the user-assigned identity from this.
  AZURE_CLIENT_ID: identityClientId
  KEY_VAULT_URL: keyVaultUri
  AUTH_ISSUER: authIssuer
  AUTH_AUDIENCE: authAudience
  AUTH_JWKS_URL: authJwksUrl
  LAKE_CONTAINER: lakeContainerName
  // Telemetry with Entra auth (the component has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // Read by the Functions host: the Node worker's command-line arguments.
  languageWorkers__node__arguments: '--max-old-space-size=${nodeWorkerHeapMB}'
}

// The lake's own account (lakeStorage.bicep, or an existing one); when empty the code would read
// the lake through AzureWebJobsStorage, which main.bicep never does (the app must not write it).
var lakeSettings = empty(lakeBlobServiceUri) ? {} : {
  LAKE_BLOB_SERVICE_URI: lakeBlobServiceUri
}

// Microsoft sign-in in the console, only when its app registration is given (README, The console).
var consoleSettings = empty(consoleAuthClientId) ? {} : {
  CONSOLE_AUTH_CLIENT_ID: consoleAuthClientId
  CONSOLE_AUTH_TENANT_ID: consoleAuthTenantId
  CONSOLE_AUTH_API_SCOPE: consoleAuthApiScope
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

// No basic-auth (username/password) publishing: deployments authenticate with Entra ID (azd and
// the pipeline use their Azure sign-in), so the SCM and FTP publishing credentials are turned off.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource functionAppSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, lakeSettings, consoleSettings)
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
