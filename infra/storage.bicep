// The app's storage account: Functions host state (blob leases, timers), the deployment package
// container (Flex Consumption), the app's tables, queues and working files. The lake is never here
// (lakeStorage.bicep: the app must not be able to write it). Keys are off: everything reaches it
// with Entra ID (RBAC). Deleted blobs and containers are kept softDeleteDays; writes and deletes
// of all three services go to Log Analytics; with vnetEnabled, no public network access (private
// endpoints in network.bicep). Names mirror shared/storage/names.ts; test/infra checks they stay
// in step.

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
param name string

@description('Azure region.')
param location string

@description('Tags for the account.')
param tags object

@description('Replication: Standard_LRS is enough for a single-region deployment; Standard_ZRS in regions with zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

@description('Blob container the Flex Consumption plan deploys the app package to.')
param deploymentContainerName string

@description('Log Analytics workspace that receives the diagnostic logs.')
param logAnalyticsWorkspaceId string

@description('No public network access; reached through private endpoints (network.bicep).')
param vnetEnabled bool = false

@description('Days deleted blobs and containers can be restored.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

// QUEUES in shared/storage/names.ts, each with the poison queue the host moves a message to after
// maxDequeueCount (host.json). Created up front so the app needs no create rights at run time.
var queueNames = [
  'export-runs'
  'export-runs-poison'
  'export-chunks'
  'export-chunks-poison'
  'webhook-events'
  'webhook-events-poison'
  'webhook-deliveries'
  'webhook-deliveries-poison'
]

// TABLES in shared/storage/names.ts.
var tableNames = [
  'connections'
  'exports'
  'runs'
  'chunks'
  'records'
  'audit'
  'ratebuckets'
  'refreshes'
  'schedulemarks'
  'webhooks'
  'webhookdeliveries'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
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
  parent: storage
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

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// CONTAINERS.work in shared/storage/names.ts: the engine's working files (de-duplicated members).
resource workContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'outflow-work'
  properties: {
    publicAccess: 'None'
  }
}

// A second line behind the engine, which deletes a run's working files (members' emails and fields)
// when the run ends: whatever is left under runs/ goes 7 days after it was written.
// https://learn.microsoft.com/azure/storage/blobs/lifecycle-management-overview
resource workFilesLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          enabled: true
          name: 'delete-run-work-files'
          type: 'Lifecycle'
          definition: {
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: 7
                }
              }
            }
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'outflow-work/runs/'
              ]
            }
          }
        }
      ]
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

// Writes and deletes on blobs, queues and tables go to Log Analytics (StorageWrite,
// StorageDelete); reads are left out: queue polling and lake-sized reads would be most of the
// volume. Add StorageRead for an investigation.
var diagnosticLogs = [
  {
    category: 'StorageWrite'
    enabled: true
  }
  {
    category: 'StorageDelete'
    enabled: true
  }
]
var diagnosticMetrics = [
  {
    category: 'Transaction'
    enabled: true
  }
]

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: diagnosticLogs
    metrics: diagnosticMetrics
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: diagnosticLogs
    metrics: diagnosticMetrics
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: diagnosticLogs
    metrics: diagnosticMetrics
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
