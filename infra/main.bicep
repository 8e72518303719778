// Outflow on Azure: one resource group holding a Flex Consumption function app, its user-assigned
// identity, storage (tables, queues, blobs; keys off), the lake's own storage account (unless an
// existing one is given), Key Vault (RBAC), Application Insights + Log Analytics (Entra auth only)
// with alert rules, the role assignments the identity needs and, with vnetEnabled, a virtual
// network with private endpoints. `azd up` deploys it; see infra/README.md. Each concern is one
// module in this folder.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

// Regions that offer Flex Consumption, as in the official template
// (Azure-Samples/functions-quickstart-typescript-azd, infra/main.bicep). The list grows: check
// `az functionapp list-flexconsumption-locations -o table` and add a region here when needed.
@minLength(1)
@description('Azure region for every resource (one that offers Flex Consumption).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty = rg-<environmentName>.')
param resourceGroupName string = ''

@minLength(1)
@description('Audience of the Outflow API tokens: the API app registration\'s client id (v2.0 tokens).')
param authAudience string

@description('Entra ID tenant that issues the tokens; empty = the deployment tenant.')
param authTenantId string = ''

@description('Expected token issuer; empty = <login endpoint><tenant>/v2.0.')
param authIssuer string = ''

@description('JWKS endpoint; empty = <login endpoint><tenant>/discovery/v2.0/keys.')
param authJwksUrl string = ''

@description('The console\'s Entra ID app registration (single-page application); empty = no Microsoft sign-in in the console.')
param consoleAuthClientId string = ''

@description('Scope(s) the console asks for to call this API; empty = api://<authAudience>/user_impersonation.')
param consoleAuthApiScope string = ''

@description('An existing storage account holding the lake (the upstream platform\'s); empty = a lake account is created here. Never the app storage account.')
param lakeStorageAccountName string = ''

@description('Resource group of lakeStorageAccountName; empty = the app resource group.')
param lakeStorageResourceGroupName string = ''

@description('Blob container of the lake (LAKE_CONTAINER).')
param lakeContainerName string = 'lake'

@description('Memory per instance in MB (Flex Consumption).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to (Flex Consumption).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Replication of the app storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Virtual network integration for the app and private endpoints for storage and Key Vault, whose public network access is then off.')
param vnetEnabled bool = false

@description('Email address for alert notifications; empty = the alert rules fire in the portal only.')
param alertEmail string = ''

@description('Appended to the Key Vault name. A vault stays soft-deleted (name taken) for 90 days after azd down: set a new suffix to provision a fresh vault instead of recovering the old one.')
@maxLength(8)
param keyVaultNameSuffix string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var tenantId = empty(authTenantId) ? tenant().tenantId : authTenantId
var loginEndpoint = environment().authentication.loginEndpoint
var issuer = empty(authIssuer) ? '${loginEndpoint}${tenantId}/v2.0' : authIssuer
var jwksUrl = empty(authJwksUrl) ? '${loginEndpoint}${tenantId}/discovery/v2.0/keys' : authJwksUrl
// The lake is always its own storage account, so the app (Storage Blob Data Owner on its own
// account) cannot write or delete it: an existing one (lakeStorageAccountName) or one created here.
var externalLake = !empty(lakeStorageAccountName)
var lakeAccountName = externalLake ? lakeStorageAccountName : 'stlake${resourceToken}'
var lakeBlobServiceUri = 'https://${lakeAccountName}.blob.${environment().suffixes.storage}/'
var deploymentContainerName = 'app-package'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-outflow-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    vnetEnabled: vnetEnabled
  }
}

module lakeStorage 'lakeStorage.bicep' = if (!externalLake) {
  name: 'lakeStorage'
  scope: rg
  params: {
    name: lakeAccountName
    location: location
    tags: tags
    skuName: storageSkuName
    lakeContainerName: lakeContainerName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    vnetEnabled: vnetEnabled
  }
}

module keyVault 'keyVault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}${keyVaultNameSuffix}'
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    vnetEnabled: vnetEnabled
  }
}

module network 'network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  dependsOn: [
    lakeStorage
  ]
  params: {
    name: 'vnet-outflow-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    // The private endpoint covers the lake only when it is created here; an external lake's
    // owner gives this network access to it (infra/README.md).
    lakeStorageAccountName: externalLake ? '' : lakeAccountName
    keyVaultName: keyVault.outputs.name
  }
}

module monitoring 'monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-outflow-${resourceToken}'
    appInsightsName: 'appi-outflow-${resourceToken}'
    location: location
    tags: tags
    alertEmail: alertEmail
  }
}

module roleAssignments 'roleAssignments.bicep' = {
  name: 'roleAssignments'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module lakeAccess 'lakeAccess.bicep' = {
  name: 'lakeAccess'
  scope: resourceGroup(externalLake && !empty(lakeStorageResourceGroupName) ? lakeStorageResourceGroupName : rg.name)
  // The lake account exists before the role assignment names it.
  dependsOn: [
    lakeStorage
  ]
  params: {
    storageAccountName: lakeAccountName
    principalId: identity.outputs.principalId
  }
}

module functionApp 'functionApp.bicep' = {
  name: 'functionApp'
  scope: rg
  // The host needs its storage roles from its first start.
  dependsOn: [
    roleAssignments
    lakeAccess
  ]
  params: {
    name: 'func-outflow-${resourceToken}'
    planName: 'plan-outflow-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    authIssuer: issuer
    authAudience: authAudience
    authJwksUrl: jwksUrl
    lakeContainerName: lakeContainerName
    lakeBlobServiceUri: lakeBlobServiceUri
    consoleAuthClientId: consoleAuthClientId
    consoleAuthTenantId: tenantId
    consoleAuthApiScope: empty(consoleAuthApiScope) ? 'api://${authAudience}/user_impersonation' : consoleAuthApiScope
    virtualNetworkSubnetId: vnetEnabled ? network.outputs.appSubnetId : ''
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_LAKE_STORAGE_ACCOUNT_NAME string = lakeAccountName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
