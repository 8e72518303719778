// The lake's own storage account, created when main.bicep is given no existing lake account. The
// lake belongs to the upstream platform: it writes the CDM folders, Outflow only reads them. A
// separate account is what keeps the app from writing or deleting it — the app's identity is
// Storage Blob Data Owner on the app storage account (the Functions host needs it there) and
// only Storage Blob Data Reader here (lakeAccess.bicep). Same hardening as the app account:
// keys off, TLS 1.2, no public blobs, blob and container soft delete, diagnostic logs, and with
// vnetEnabled no public network access (a private endpoint in network.bicep).

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
param name string

@description('Azure region.')
param location string

@description('Tags for the account.')
param tags object

@description('Blob container holding the CDM folder (LAKE_CONTAINER).')
param lakeContainerName string = 'lake'

@description('Replication.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

@description('Log Analytics workspace that receives the diagnostic logs.')
param logAnalyticsWorkspaceId string

@description('No public network access; reached through a private endpoint (network.bicep).')
param vnetEnabled bool = false

@description('Days deleted blobs and containers can be restored.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: vnetEnabled ? {
      bypass: 'None'
      defaultAction: 'Deny'
    } : {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: lake
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource lakeContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: lakeContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Writes and deletes are logged; reads are not (the engine reads whole CDM folders on every run,
// which would make reads most of the log volume). Add StorageRead for an investigation.
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

output name string = lake.name
output blobEndpoint string = lake.properties.primaryEndpoints.blob
